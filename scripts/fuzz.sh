#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (--config=fuzz) and runs each for a bounded time.
# Prints one line per target:
#   fuzz: <target>: <executions> executions in <seconds> s, clean
#   fuzz: <target>: <executions> executions, CRASH input <path> (log: <path>)
# Exit status 0 only if the build succeeded and no target crashed.
#
# Usage: scripts/fuzz.sh [--seconds N] [target...]
#   --seconds N  how long each target runs (default 20)
#   target       a fuzz target's name (e.g. raft_message_fuzzer); default: all of them
# Bazel runs with its own output base (RESDB_FUZZ_OUTPUT_BASE, default under
# ~/.cache/bazel-fuzz), so the clang build leaves the g++ build's cache alone. The corpora and
# crashing inputs are kept in RESDB_FUZZ_DIR (default: a new temporary directory, removed
# when every target ran clean).
set -uo pipefail

cd "$(dirname "$0")/.."

seconds=20
wanted=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a value}"; shift ;;
    --seconds=*) seconds="${1#--seconds=}" ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) wanted+=("$1") ;;
  esac
  shift
done

output_base="${RESDB_FUZZ_OUTPUT_BASE:-$HOME/.cache/bazel-fuzz/$(pwd | md5sum | cut -c1-16)}"
mkdir -p "$output_base"
fbazel() { bazel --output_base="$output_base" "$@"; }
# A second Bazel server would otherwise stay up beside the g++ one.
trap 'fbazel shutdown >/dev/null 2>&1' EXIT

work="${RESDB_FUZZ_DIR:-}"
remove_work=0
if [ -z "$work" ]; then
  work=$(mktemp -d /tmp/resdb-fuzz.XXXXXX)
  remove_work=1
fi
mkdir -p "$work"
log="$work/build.log"

# Every top-level directory but Bazel's output links, which .bazelignore lists only under
# the names it knows (a checkout in another directory gets another bazel-<dir> link).
scope=$(for dir in */; do
  case "$dir" in bazel-*) continue ;; esac
  [ -n "$(find "$dir" -name BUILD -print -quit)" ] && printf '//%s... + ' "$dir"
done)
scope="${scope% + }"
query() { fbazel query "attr(tags, \"\\b$1\\b\", $scope)" 2>>"$log"; }
fuzzers=$(query fuzz_target)
seeders=$(query fuzz_seeds)
if [ -z "$fuzzers" ] || [ -z "$seeders" ]; then
  cat "$log" >&2
  echo "fuzz.sh: bazel query found no fuzz targets" >&2
  exit 1
fi
selected=()
for label in $fuzzers; do
  if [ "${#wanted[@]}" -eq 0 ]; then
    selected+=("$label")
    continue
  fi
  for name in "${wanted[@]}"; do
    [ "${label##*:}" = "${name##*:}" ] && selected+=("$label")
  done
done
if [ "${#selected[@]}" -eq 0 ]; then
  echo "fuzz.sh: no fuzz target matches ${wanted[*]:-}" >&2
  exit 2
fi

echo "fuzz.sh: building ${#selected[@]} targets with clang (log: $log)"
# The linker warns about every ASan helper it cannot export; the log keeps them.
if ! fbazel build --config=fuzz "${selected[@]}" $seeders >>"$log" 2>&1; then
  grep -v 'ld.gold: warning' "$log" | tail -40 >&2
  echo "fuzz.sh: build failed" >&2
  exit 1
fi
bin=$(fbazel info --config=fuzz bazel-bin 2>>"$log")

for label in $seeders; do
  path="${label#//}"
  "$bin/${path/://}" "$work/seeds" >>"$log" 2>&1 || {
    echo "fuzz.sh: $label failed (see $log)" >&2
    exit 1
  }
done

[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ] &&
  export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
crashed=0
for label in "${selected[@]}"; do
  name="${label##*:}"
  path="${label#//}"
  corpus="$work/corpus/$name"
  artifacts="$work/artifacts/$name"
  mkdir -p "$corpus" "$artifacts"
  [ -d "$work/seeds/$name" ] && cp -n "$work/seeds/$name"/* "$corpus"/ 2>/dev/null
  run_log="$work/$name.log"
  "$bin/${path/://}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$run_log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$run_log" | grep -o '[0-9]*$')
  [ -n "$execs" ] || execs=$(grep -o 'Done [0-9]* runs' "$run_log" | grep -o '[0-9]*' | head -1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $name: ${execs:-0} executions in $seconds s, clean"
  else
    crashed=1
    input=$(grep -o 'Test unit written to [^ ]*' "$run_log" | tail -1 | sed 's/.* to //')
    grep -E '^==[0-9]+==|SUMMARY|runtime error|_fuzzer: ' "$run_log" | head -5 >&2
    echo "fuzz: $name: ${execs:-?} executions, CRASH input ${input:-unknown} (log: $run_log)"
  fi
done

if [ "$crashed" -eq 0 ] && [ "$remove_work" -eq 1 ]; then
  rm -rf "$work"
fi
exit "$crashed"
