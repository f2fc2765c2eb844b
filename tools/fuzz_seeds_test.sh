#!/usr/bin/env bash
# Usage: fuzz_seeds_test.sh SEED_WRITER FUZZER...
# Writes the seeds, then runs each fuzzer (built as a corpus replayer) on its own seeds.
set -euo pipefail

seeds="${TEST_TMPDIR:-$(mktemp -d)}/seeds"
"$1" "$seeds"
shift
for fuzzer in "$@"; do
  name=$(basename "$fuzzer")
  [ -d "$seeds/$name" ] || { echo "no seeds for $name" >&2; exit 1; }
  "$fuzzer" "$seeds/$name"
done
