#!/usr/bin/env bash
# The local deploy scripts as an operator runs them: start a 3-replica RAFT cluster, write,
# check that only its certificates are served and only the admin one may transfer the
# leadership, add a fourth replica with add_local_replica.sh, remove the first with
# remove_local_replica.sh, stop everything and start it again: the added replica comes back,
# the removed one stays down, and the data is there; then a --plaintext cluster serves plaintext
# clients. Every replica started is stopped at the end, also on failure.
#
#   deploy_scripts_test.sh [dir laid out like bazel-bin with kv_service, resdb_admin,
#                           resdb_keygen and kv_service_tools; default: the test's runfiles]
set -uo pipefail

RESDB_BIN_DIR=$(cd "${1:-${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}}" && pwd)
export RESDB_BIN_DIR
repo=$(cd "$(dirname "$0")/.." && pwd)
deploy="$repo/scripts/deploy"
dir="${TEST_TMPDIR:-$(mktemp -d)}/deploy"
admin="$RESDB_BIN_DIR/service/tools/admin/resdb_admin"
tools="$RESDB_BIN_DIR/service/tools/kv/kv_service_tools"
failures=0

trap 'bash "$deploy/stop_local_cluster.sh" --dir "$dir" >/dev/null 2>&1' EXIT

fail() { echo "FAIL $*"; failures=$((failures + 1)); }
check() {  # check NAME EXPECTED_SUBSTRING ACTUAL
  if [[ "$3" == *"$2"* ]]; then echo "ok   $1"; else fail "$1: expected '$2' in: $3"; fi
}
voters_of_all() { "$admin" --config "$dir/client.config" status --json --timeout_ms 2000 2>&1; }

# A base port whose ports are free (the start script refuses taken ones).
started=0
for attempt in 1 2 3 4 5; do
  base=$((20000 + (RANDOM % 400) * 100))
  if out=$(bash "$deploy/start_local_cluster.sh" --protocol raft --replicas 3 --dir "$dir" \
      --base_port "$base" 2>&1); then
    started=1
    break
  fi
  [[ "$out" == *"in use"* ]] || break
  rm -rf "$dir"
done
[ "$started" -eq 1 ] || { echo "FAIL start_local_cluster: $out"; exit 1; }
echo "ok   start_local_cluster on base port $base"

"$tools" --config "$dir/client.config" --cmd set --key a --value 1 >/dev/null ||
  fail "first write"

# Mutual TLS: only certificates of the cluster's CA are answered, and only the admin one may
# change the cluster.
for config in client admin; do
  check "$config.config names its certificate" "certs/$config.crt" "$(cat "$dir/$config.config")"
done
sed -e 's|"tls": {.*}|"allow_plaintext": true|' "$dir/client.config" >"$dir/plaintext.config"
out=$("$tools" --config "$dir/plaintext.config" --cmd get --key a --timeout_ms 1000 2>&1) &&
  fail "a plaintext client got an answer: $out"
check "a plaintext client gets no answer" "unreachable" "$out"
leader=$("$admin" --config "$dir/client.config" status --json --timeout_ms 2000 |
  grep -o '"leader_id": *[0-9]*' | head -1 | grep -o '[0-9]*$')
target=$((leader % 3 + 1))
out=$("$admin" --config "$dir/client.config" transfer-leader --to "$target" 2>&1) &&
  fail "transfer-leader with the client certificate succeeded: $out"
check "transfer-leader with the client certificate is refused" "PERMISSION_DENIED" "$out"
out=$("$admin" --config "$dir/admin.config" transfer-leader --to "$target" 2>&1) ||
  fail "transfer-leader with the admin certificate: $out"

# A setting of the cluster's replicas, which the new replica must share.
sed -i 's/"require_signatures": false/"require_signatures": false,\n  "client_batch_num": 77/' \
  "$dir/server.config"
out=$(bash "$deploy/add_local_replica.sh" --dir "$dir" --id 4 2>&1)
check "add_local_replica adds a voter" "voters [1, 2, 3, 4]" "$out"
check "the new replica has the cluster's settings" '"client_batch_num": 77' \
  "$(cat "$dir/replica4/server.config")"
check "client.config lists replica 4" "\"id\": 4," "$(cat "$dir/client.config")"

out=$(bash "$deploy/remove_local_replica.sh" --dir "$dir" --id 1 2>&1)
check "remove_local_replica removes replica 1" "voters [2, 3, 4]" "$out"
if grep -q '"id": 1,' "$dir/client.config"; then fail "client.config still lists replica 1"; fi
[ -f "$dir/replica1/pid" ] && fail "replica 1 still has a pid file"

for attempt in $(seq 1 50); do
  status=$(voters_of_all)
  [ "$(grep -o '"voters": *"2,3,4"' <<<"$status" | wc -l)" -eq 3 ] && break
  sleep 0.2
done
check "replicas 2, 3, 4 agree on the voters" '"voters": "2,3,4"' "$status"
"$tools" --config "$dir/client.config" --cmd set --key b --value 2 >/dev/null ||
  fail "write after the replacement"

bash "$deploy/stop_local_cluster.sh" --dir "$dir" >/dev/null
out=$(bash "$deploy/start_local_cluster.sh" --dir "$dir" 2>&1)
check "the restart brings back three replicas" "raft cluster of 3 replicas" "$out"
[ -f "$dir/replica1/pid" ] && fail "the removed replica 1 was started again"
[ -f "$dir/replica4/pid" ] || fail "the added replica 4 was not started again"
for key in a b; do
  value=$("$tools" --config "$dir/client.config" --cmd get --key "$key" 2>&1)
  check "$key is readable after the restart" "$([ "$key" = a ] && echo 1 || echo 2)" "$value"
done

bash "$deploy/stop_local_cluster.sh" --dir "$dir" >/dev/null

# --plaintext: a cluster without TLS, served to plaintext clients.
plain="${dir}-plaintext"
trap 'bash "$deploy/stop_local_cluster.sh" --dir "$dir" >/dev/null 2>&1;
  bash "$deploy/stop_local_cluster.sh" --dir "$plain" >/dev/null 2>&1' EXIT
out=$(bash "$deploy/start_local_cluster.sh" --protocol raft --dir "$plain" \
  --base_port $((base + 50)) --plaintext 2>&1)
check "start_local_cluster --plaintext" "raft cluster of 3 replicas" "$out"
check "its config allows plaintext" '"allow_plaintext": true' "$(cat "$plain/client.config")"
grep -q '"tls"' "$plain/server.config" && fail "a --plaintext config names TLS files"
"$tools" --config "$plain/client.config" --cmd set --key p --value 3 >/dev/null ||
  fail "a write to the plaintext cluster"
check "a plaintext read" "3" "$("$tools" --config "$plain/client.config" --cmd get --key p 2>&1)"
bash "$deploy/stop_local_cluster.sh" --dir "$plain" >/dev/null

echo "deploy scripts: $failures failure(s)"
[ "$failures" -eq 0 ]
