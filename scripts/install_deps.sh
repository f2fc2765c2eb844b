#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the tools need.
# Idempotent and non-interactive: a package already present is not reinstalled, and a machine
# that already has everything does not touch the network at all.
set -euo pipefail

PACKAGES=(
  # Build system (offline Bazel 4.2.3 and the rule sets it loads from /usr/share/bazel).
  bazel-bootstrap bazel-rules-proto bazel-rules-java bazel-skylib bazel-platforms
  default-jdk-headless g++ pkg-config
  # Libraries.
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libleveldb-dev libsnappy-dev libabsl-dev libgoogle-glog-dev libgflags-dev
  libgtest-dev libgmock-dev libbenchmark-dev libssl-dev openssl
  prometheus-cpp-dev
  # The fuzz targets (scripts/fuzz.sh): clang, its libFuzzer/sanitizer runtimes, and the
  # symbolizer that turns a crash's addresses into file:line.
  clang-14 libclang-rt-14-dev llvm-14
  # Tools used by the scripts and the multi-process tests.
  python3 curl procps psmisc iproute2 clang-format mawk
  # etcd, which kv_benchmark --etcd_endpoints drives for comparison (tests/etcd_benchmark_test).
  etcd-server
  # The plots of scripts/performance/compare.sh.
  gnuplot-nox
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install_deps: done"
