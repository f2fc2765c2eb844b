#!/usr/bin/env bash
# report.py on runs made up for the test: the table's ratios, results.json and the plots; and
# compare.sh's answer to a wrong argument. Runs no system.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir="${TEST_TMPDIR:-$(mktemp -d)}/report"
rm -rf "$dir" && mkdir -p "$dir/runs"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
check() {  # check NAME EXPECTED_SUBSTRING ACTUAL
  if [[ "$3" == *"$2"* ]]; then echo "ok   $1"; else fail "$1: expected '$2' in: $3"; fi
}

run() {  # run SYSTEM WORKLOAD CLIENTS SIZE THROUGHPUT P50
  cat >"$dir/runs/$1-$2-c$3-v$4.json" <<JSON
{"clients": $3, "value_size": $4, "write_ratio": 1, "ops": 1000, "errors": 0,
 "errors_by_code": {}, "elapsed_s": 10, "throughput_ops_s": $5,
 "latency_ms": {"p50": $6, "p99": $(($6 * 2)), "p999": $(($6 * 3)), "max": $(($6 * 4))},
 "client_cpu_us_per_op": 50}
JSON
}
run etcd write 1 256 100 2
run raft write 1 256 150 1
run pbft write 1 256 50 8
run etcd write 64 256 1000 20
run raft write 64 256 2000 10
run pbft write 64 256 250 80
run etcd read 64 256 4000 5
run raft read 64 256 12000 3
echo "not a run" >"$dir/runs/notes.json"

table=$(python3 "$here/report.py" --runs "$dir/runs" --out "$dir" --quick 1)
check "exit status" "0" "$?"
line=$(echo "$table" | grep -E '^write +256 +64 ')
check "64-client write cell" "1000         2000          250      2.00x      0.25x" "$line"
check "latencies etcd/raft/pbft" "20.0/10.0/80.0" "$line"
line=$(echo "$table" | grep -E '^read +256 +64 ')
check "a system without a run in a cell" "4000        12000            -      3.00x          -" "$line"
runs=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(len(r['runs']), r['quick'], r['machine']['cores'] > 0)" "$dir/results.json")
check "results.json" "8 True True" "$runs"
for png in throughput-write latency-write throughput-read latency-read; do
  if [ -s "$dir/$png.png" ] && head -c 8 "$dir/$png.png" | grep -q PNG; then
    echo "ok   $png.png"
  else
    fail "$png.png missing or not a PNG"
  fi
done
empty=$(python3 "$here/report.py" --runs "$dir/nothing" --out "$dir" 2>&1)
check "no runs" "no runs" "$empty"

wrong=$(bash "$here/compare.sh" --clients 5 2>&1)
check "compare.sh refuses an unknown argument" "compare: unknown argument --clients" "$wrong"
bash "$here/compare.sh" --clients 5 >/dev/null 2>&1
check "with exit status 2" "2" "$?"

echo "report_test: $failures failure(s)"
[ "$failures" -eq 0 ]
