#!/usr/bin/env bash
# Compares this project's RAFT and PBFT with etcd on this machine, under one load generator.
#
# Usage: scripts/performance/compare.sh [--quick] [--tls] [--out DIR] [--no_build]
#
#   --quick     clients 1 and 64, 256 B values, 3 s per run: fits in 5 minutes
#   --tls       every connection over mutual TLS (etcd with its certificate flags, peers with
#               --peer-auto-tls; the clusters with their default TLS) instead of plaintext
#   --out DIR   where everything goes (default ./compare_results)
#   --no_build  use the binaries already built (bazel build -c opt)
#
# Starts a 3-member etcd cluster (Debian's etcd-server, default settings: fsync on), a
# 3-replica RAFT cluster and a 4-replica PBFT cluster (start_local_cluster.sh), all on
# 127.0.0.1, all plaintext (or all TLS), and drives each with kv_benchmark (closed loop; etcd through
# its KV API, client i on member i mod n) over every cell: clients 1/16/64/256, values of
# 16 B / 256 B / 4 KiB, and writes, linearizable reads and a 50/50 mix; 10 s per run after
# 2 s of warm-up. In each cell the three systems run one after the other, in an order that
# rotates from cell to cell, so that a slow minute of the machine does not fall on one system.
# Prints a line per run and a final table of ratios, and writes in DIR: results.json (every
# run), table.txt, throughput-<workload>.png (ops/s against clients, 256 B values) and
# latency-<workload>.png (p50 and p99 at 64 clients, or the most clients run), runs/ (each
# run's JSON) and the clusters' directories. Stops everything it started, also when
# interrupted. Exit status 0 when every run succeeded.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/deploy/lib.sh"
quick=0
tls=0
out=compare_results
build=1

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "compare: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --tls) tls=1; shift ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --no_build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; echo "compare: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ "$quick" -eq 1 ]; then
  clients_list=(1 64); sizes=(256); duration=3; warmup=1
else
  clients_list=(1 16 64 256); sizes=(16 256 4096); duration=10; warmup=2
fi
workloads=(write read mixed)
systems=(etcd raft pbft)

mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/runs" "$out/etcd" "$out/raft" "$out/pbft"
mkdir -p "$out/runs"

find_binaries "$build" "$out/build.log"
bin=${RESDB_BIN_DIR:-$(cd "$repo" && bazel info -c opt bazel-bin 2>/dev/null)}
bench_bin="$bin/service/tools/kv/kv_benchmark"
[ -x "$bench_bin" ] || die "$bench_bin is missing: run without --no_build"
command -v etcd >/dev/null || die "etcd is missing: run scripts/install_deps.sh (etcd-server)"

etcd_base=23790
raft_base=24000
pbft_base=24100
etcd_pids=()
cleanup() {
  for pid in "${etcd_pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${etcd_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for system in raft pbft; do
    [ -d "$out/$system" ] && bash "$repo/scripts/deploy/stop_local_cluster.sh" --dir "$out/$system" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for port in $((etcd_base + 1)) $((etcd_base + 2)) $((etcd_base + 3)) $((etcd_base + 11)) \
  $((etcd_base + 12)) $((etcd_base + 13)) $((raft_base + 1)) $((pbft_base + 1)); do
  port_in_use "$port" && die "port $port is in use: stop what runs there first"
done

mode=plaintext
scheme=http
etcd_tls=()
bench_tls=()
cluster_tls=(--plaintext)
mkdir -p "$out/etcd"
if [ "$tls" -eq 1 ]; then
  mode=TLS
  scheme=https
  certs="$out/etcd/certs"
  bash "$repo/scripts/deploy/make_certs.sh" "$certs" etcd client >/dev/null ||
    die "making etcd's certificates failed"
  etcd_tls=(--cert-file "$certs/etcd.crt" --key-file "$certs/etcd.key"
    --trusted-ca-file "$certs/ca.crt" --client-cert-auth --peer-auto-tls)
  bench_tls=(--etcd_ca "$certs/ca.crt" --etcd_cert "$certs/client.crt"
    --etcd_key "$certs/client.key" --etcd_server_name etcd)
  cluster_tls=()
fi
echo "compare: starting etcd (3 members), RAFT (3 replicas) and PBFT (4 replicas), $mode, in $out"
members=""
for i in 1 2 3; do members+="${members:+,}m$i=$scheme://127.0.0.1:$((etcd_base + 10 + i))"; done
endpoints=""
for i in 1 2 3; do
  client_url="$scheme://127.0.0.1:$((etcd_base + i))"
  peer_url="$scheme://127.0.0.1:$((etcd_base + 10 + i))"
  endpoints+="${endpoints:+,}127.0.0.1:$((etcd_base + i))"
  etcd --name "m$i" --data-dir "$out/etcd/m$i" --listen-client-urls "$client_url" \
    --advertise-client-urls "$client_url" --listen-peer-urls "$peer_url" \
    --initial-advertise-peer-urls "$peer_url" --initial-cluster "$members" \
    --initial-cluster-state new "${etcd_tls[@]}" >"$out/etcd/m$i.log" 2>&1 &
  etcd_pids+=($!)
done
for i in 1 2 3; do
  deadline=$((SECONDS + 60))
  until port_in_use $((etcd_base + i)); do
    [ $SECONDS -lt $deadline ] || die "etcd member $i did not start within 60 s (see $out/etcd/m$i.log)"
    sleep 0.2
  done
done
export RESDB_BIN_DIR=$bin
bash "$repo/scripts/deploy/start_local_cluster.sh" --protocol raft --dir "$out/raft" \
  --base_port "$raft_base" --no_build "${cluster_tls[@]}" >"$out/raft.start.log" 2>&1 ||
  die "the RAFT cluster did not start (see $out/raft.start.log)"
bash "$repo/scripts/deploy/start_local_cluster.sh" --protocol pbft --dir "$out/pbft" \
  --base_port "$pbft_base" --no_build "${cluster_tls[@]}" >"$out/pbft.start.log" 2>&1 ||
  die "the PBFT cluster did not start (see $out/pbft.start.log)"

total=$(( ${#clients_list[@]} * ${#sizes[@]} * ${#workloads[@]} * ${#systems[@]} ))
run=0
cell=0
failed=0
for size in "${sizes[@]}"; do
  for workload in "${workloads[@]}"; do
    case "$workload" in
      write) load=(--write_ratio 1) ;;
      read) load=(--write_ratio 0 --key_space 1000 --preload_keys 1000) ;;
      mixed) load=(--write_ratio 0.5 --key_space 10000 --preload_keys 1000) ;;
    esac
    for clients in "${clients_list[@]}"; do
      for k in 0 1 2; do
        system=${systems[$(( (cell + k) % 3 ))]}
        case "$system" in
          etcd) target=(--etcd_endpoints "$endpoints" "${bench_tls[@]}") ;;
          *) target=(--config "$out/$system/client.config") ;;
        esac
        run=$((run + 1))
        name="$system-$workload-c$clients-v$size"
        if "$bench_bin" "${target[@]}" "${load[@]}" --clients "$clients" --value_size "$size" \
          --duration_s "$duration" --warmup_s "$warmup" --json_out "$out/runs/$name.json" \
          >"$out/runs/$name.log" 2>&1; then
          summary=$(python3 - "$out/runs/$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("%.0f ops/s, p50 %.2f ms, p99 %.2f ms, %d errors" % (r["throughput_ops_s"],
      r["latency_ms"]["p50"], r["latency_ms"]["p99"], r["errors"]))
PY
)
        else
          summary="FAILED: $(tail -1 "$out/runs/$name.log")"
          rm -f "$out/runs/$name.json"
          failed=$((failed + 1))
        fi
        printf 'compare: [%d/%d] %-4s %-5s clients=%-3s value=%-4s %s\n' "$run" "$total" \
          "$system" "$workload" "$clients" "$size" "$summary"
      done
      cell=$((cell + 1))
    done
  done
done

python3 "$repo/scripts/performance/report.py" --runs "$out/runs" --out "$out" --quick "$quick" \
  --tls "$tls"
echo "compare: results in $out (results.json, table.txt, *.png)"
[ "$failed" -eq 0 ] || die "$failed run(s) failed (see $out/runs/*.log)"
