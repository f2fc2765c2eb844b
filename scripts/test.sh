#!/usr/bin/env bash
# Runs every test of the project and prints one summary line:
#   tests: <N> passed, <M> failed
# Exit status 0 only if every test passed.
#
# Usage: scripts/test.sh [--asan] [--long] [bazel test target patterns...]
#   --asan   build and run the tests with AddressSanitizer and UBSan
#   --long   also run the long variants of the multi-process tests, and fuzz longer
#   targets  default: //..., then the include rules (scripts/check_layering.sh, one test),
#            then every fuzz target for a bounded time (scripts/fuzz.sh; each target counts
#            as one test)
set -uo pipefail

cd "$(dirname "$0")/.."

bazel_args=()
targets=()
fuzz_seconds=10
for arg in "$@"; do
  case "$arg" in
    --asan) bazel_args+=(--config=asan) ;;
    --long) bazel_args+=(--test_env=RESDB_LONG_TESTS=1); fuzz_seconds=120 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "test.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done
fuzz=0
[ "${#targets[@]}" -eq 0 ] && targets=(//...) && fuzz=1

bash scripts/install_deps.sh || { echo "test.sh: installing dependencies failed" >&2; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
bazel test "${bazel_args[@]}" --keep_going "${targets[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Count test cases from the JUnit XML Bazel writes for every test target that ran.
testlogs=$(bazel info "${bazel_args[@]}" bazel-testlogs 2>/dev/null)
passed=0
failed=0
while read -r target result; do
  dir="$testlogs/${target#//}"
  dir="${dir/://}"
  # A sharded test reports per shard; a top-level test.xml beside the shards may be stale.
  xmls=("$dir"/shard_*/test.xml)
  [ -f "${xmls[0]}" ] || xmls=("$dir/test.xml")
  cases=0
  bad=0
  for xml in "${xmls[@]}"; do
    [ -f "$xml" ] || continue
    header=$(grep -o '<testsuites [^>]*' "$xml" | head -1)
    n=$(echo "$header" | grep -o ' tests="[0-9]*"' | grep -o '[0-9]*')
    b=$(echo "$header" | grep -o -E ' (failures|errors)="[0-9]*"' | grep -o '[0-9]*' |
      awk '{s += $1} END {print s + 0}')
    cases=$((cases + ${n:-0}))
    bad=$((bad + ${b:-0}))
  done
  if [ "$result" != "PASSED" ] && [ "$result" != "FLAKY" ]; then
    # A target that timed out, crashed or failed to build counts at least once.
    [ "$bad" -eq 0 ] && bad=1
  fi
  [ "$cases" -lt "$bad" ] && cases=$bad
  passed=$((passed + cases - bad))
  failed=$((failed + bad))
done < <(grep -E '^//[^ ]+ +(\(cached\) +)?(PASSED|FAILED|FLAKY|TIMEOUT|NO STATUS|FAILED TO BUILD|INCOMPLETE)' "$log" |
  sed -E 's/\(cached\) +//; s/ in [0-9.]+s.*//; s/ +/ /' | awk '{t=$1; $1=""; sub(/^ /,""); gsub(/ /,"_"); print t, $0}')

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build itself failed before any test could report.
  failed=1
fi

if [ "$fuzz" -eq 1 ]; then
  # The include rules of the layout (scripts/check_layering.sh): one test.
  if bash scripts/check_layering.sh; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    [ "$status" -eq 0 ] && status=1
  fi

  # Its own clang build and output base; already ASan/UBSan, so the same under --asan.
  bash scripts/fuzz.sh --seconds "$fuzz_seconds" 2>&1 | tee "$log"
  fuzz_status=${PIPESTATUS[0]}
  clean=$(grep -c '^fuzz: .*, clean$' "$log")
  crashed=$(grep -c '^fuzz: .*, CRASH ' "$log")
  # A failed build runs no target: it counts once.
  [ "$fuzz_status" -ne 0 ] && [ "$crashed" -eq 0 ] && crashed=1
  passed=$((passed + clean))
  failed=$((failed + crashed))
  [ "$fuzz_status" -ne 0 ] && [ "$status" -eq 0 ] && status=$fuzz_status
fi
echo "tests: $passed passed, $failed failed"
exit "$status"
