#!/usr/bin/env bash
# kv_service must refuse a config it cannot run with exactly one line naming the problem,
# exit non-zero, and create no data directory and open no port on the way out.
set -uo pipefail

server="$1"
work="${TEST_TMPDIR:-$(mktemp -d)}/startup"
mkdir -p "$work"
# Some sandboxes mount /dev read-only, so expected noise goes to a file of our own.
noise="$work/noise.log"
failures=0

# expect_failure NAME EXPECTED_SUBSTRING ARGS...
expect_failure() {
  local name=$1 expected=$2
  shift 2
  local data="$work/$name.data"
  local out
  out=$(timeout 20 "$server" --data_dir "$data" "$@" 2>&1)
  local status=$?
  local lines
  lines=$(printf '%s\n' "$out" | grep -c .)
  if [ "$status" -eq 0 ] || [ "$status" -eq 124 ]; then
    echo "FAIL $name: exit status $status, expected a failure"; failures=$((failures + 1))
  elif [[ "$out" != *"$expected"* ]]; then
    echo "FAIL $name: output does not contain '$expected':"; echo "$out"; failures=$((failures + 1))
  elif [ "$lines" -ne 1 ]; then
    echo "FAIL $name: expected one line, got $lines:"; echo "$out"; failures=$((failures + 1))
  elif [ -e "$data" ]; then
    echo "FAIL $name: created $data before failing"; failures=$((failures + 1))
  else
    echo "ok   $name: $out"
  fi
}

replicas() {
  local first_port=$1
  printf '{"id": 1, "ip": "127.0.0.1", "port": %s},
           {"id": 2, "ip": "127.0.0.1", "port": 20002},
           {"id": 3, "ip": "127.0.0.1", "port": 20003},
           {"id": 4, "ip": "127.0.0.1", "port": 20004}' "$first_port"
}

write_config() {  # write_config FILE PROTOCOL_JSON FIRST_PORT
  cat >"$1" <<CONFIG
{"region": [{"region_id": 1, "replica_info": [$(replicas "$3")]}], "allow_plaintext": true$2}
CONFIG
}

write_config "$work/unknown_protocol.config" ', "consensus_protocol": "paxos"' 20001
write_config "$work/bad_port.config" '' 70000
write_config "$work/unknown_field.config" ', "consensus_protocl": "raft"' 20001
write_config "$work/good.config" ', "require_signatures": false' 20001
printf '{"region": [' >"$work/truncated.config"

printf '{"region": [{"region_id": 1, "replica_info": [%s]}]}\n' "$(replicas 20001)" \
  >"$work/no_tls.config"
expect_failure no_tls "tls: missing: set tls (ca_file, cert_file, key_file) or" \
  --config "$work/no_tls.config" --id 1
printf '{"region": [{"region_id": 1, "replica_info": [%s]}], "tls": {"ca_file": "ca.crt",
  "cert_file": "replica-{id}.crt", "key_file": "replica-{id}.key"},
  "require_signatures": false}\n' "$(replicas 20001)" \
  >"$work/tls_files_missing.config"
expect_failure tls_files_missing "tls.ca_file: cannot read $work/ca.crt" \
  --config "$work/tls_files_missing.config" --id 1
expect_failure missing_config "--config is required" --id 1
expect_failure missing_id "--id is required" --config "$work/good.config"
expect_failure absent_file "cannot be read" --config "$work/nope.config" --id 1
expect_failure unknown_protocol 'consensus_protocol: unknown protocol "paxos"' \
  --config "$work/unknown_protocol.config" --id 1
expect_failure bad_port "region[0].replica_info[0].port: 70000 is out of range 1..65535" \
  --config "$work/bad_port.config" --id 1
expect_failure unknown_field "consensus_protocl" --config "$work/unknown_field.config" --id 1
expect_failure truncated_json "invalid config JSON" --config "$work/truncated.config" --id 1
expect_failure id_not_in_config "no replica has id 9" --config "$work/good.config" --id 9
expect_failure bad_metrics_port "--metrics_port" --config "$work/good.config" --id 1 \
  --metrics_port 99999

# expect_serves NAME CONFIG_JSON_TAIL PROTOCOL: replica 1 of that config starts, reports
# serving with PROTOCOL, and stops cleanly on SIGTERM.
pid=0
trap '[ "$pid" -ne 0 ] && kill -KILL "$pid" 2>>"$noise"' EXIT
expect_serves() {
  local name=$1 tail=$2 protocol=$3
  local port=0 candidate
  for _ in $(seq 1 50); do
    candidate=$((30000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>>"$noise"; then port=$candidate; break; fi
  done
  write_config "$work/$name.config" "$tail" "$port"
  "$server" --config "$work/$name.config" --id 1 --data_dir "$work/$name.data" \
    >"$work/$name.log" 2>&1 &
  pid=$!
  local served=0
  for _ in $(seq 1 200); do
    if grep -q "serving" "$work/$name.log" 2>>"$noise"; then served=1; break; fi
    kill -0 "$pid" 2>>"$noise" || break
    sleep 0.1
  done
  kill -TERM "$pid" 2>>"$noise"
  wait "$pid"
  local status=$?
  pid=0
  if [ "$served" -ne 1 ]; then
    echo "FAIL $name: the replica did not serve:"; cat "$work/$name.log"; failures=$((failures + 1))
  elif ! grep -q "serving .*protocol=$protocol " "$work/$name.log"; then
    echo "FAIL $name: expected protocol=$protocol:"; grep serving "$work/$name.log"
    failures=$((failures + 1))
  elif [ "$status" -ne 0 ]; then
    echo "FAIL $name: exit status $status after SIGTERM:"; tail -5 "$work/$name.log"
    failures=$((failures + 1))
  else
    echo "ok   $name: served $protocol on port $port and stopped cleanly"
  fi
}

expect_serves raft_starts ', "consensus_protocol": "raft", "require_signatures": false' raft
# A config without consensus_protocol runs PBFT, the default.
expect_serves pbft_by_default ', "require_signatures": false' pbft

write_config "$work/signed.config" '' 20001
expect_failure signatures_need_key "--private_key: required" --config "$work/signed.config" --id 1

if [ "$failures" -ne 0 ]; then
  echo "$failures startup check(s) failed"
  exit 1
fi
echo "all startup checks passed"
