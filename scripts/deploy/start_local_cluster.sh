#!/usr/bin/env bash
# Starts a local cluster of replicas on 127.0.0.1.
#
# Usage: scripts/deploy/start_local_cluster.sh [--protocol pbft|raft] [--replicas N]
#          [--service kv] [--dir DIR] [--base_port P] [--no_build] [--plaintext]
#
#   --protocol   consensus protocol (default pbft)
#   --replicas   number of replicas (default 4 for pbft, 3 for raft)
#   --service    service to run (default kv)
#   --dir        deployment directory (default ./resdb_cluster)
#   --base_port  replica i listens on base_port + i (default 20000)
#   --no_build   use the binaries already built (bazel build -c opt)
#   --plaintext  no TLS on any connection (allow_plaintext), to compare with systems run
#                without TLS; admin requests, which need a client certificate, are refused
#   RESDB_BIN_DIR (environment): take the binaries from this directory, laid out like
#                bazel-bin, instead of building
#
# Installs what is missing, builds, writes DIR/server.config, DIR/client.config,
# DIR/admin.config and a key pair per replica under DIR/keys, makes a cluster CA and
# certificates under DIR/certs (replica-<id> per replica, "client" for client.config, "admin"
# for admin.config, the only identity allowed admin requests; see documents/security.md), then
# starts every replica with its data in DIR/replica<ID>/data, its log in
# DIR/replica<ID>/server.log and its pid in DIR/replica<ID>/pid, and waits until every
# replica accepts connections and a replica reports itself leader (RAFT) or primary (PBFT)
# through resdb_admin status, within 60 s in all. Running it again on an existing DIR
# restarts the replicas that are not running on their existing data, config and
# certificates (a replica that crashed or was killed rejoins) and leaves the running ones
# alone; replicas added with add_local_replica.sh restart too, those taken out with
# remove_local_replica.sh do not. Stop with stop_local_cluster.sh --dir DIR.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/deploy/lib.sh"
protocol=pbft
replicas=""
service=kv
dir=resdb_cluster
base_port=20000
build=1
plaintext=0

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "start_local_cluster: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --protocol) protocol=${2:?--protocol needs a value}; shift 2 ;;
    --replicas) replicas=${2:?--replicas needs a value}; shift 2 ;;
    --service) service=${2:?--service needs a value}; shift 2 ;;
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    --base_port) base_port=${2:?--base_port needs a value}; shift 2 ;;
    --no_build) build=0; shift ;;
    --plaintext) plaintext=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
done

case "$protocol" in
  pbft) : "${replicas:=4}" ;;
  raft) : "${replicas:=3}" ;;
  *) die "--protocol must be pbft or raft, not \"$protocol\"" ;;
esac
[ "$service" = kv ] || die "--service must be kv (the only service this build runs)"
[[ "$replicas" =~ ^[0-9]+$ ]] || die "--replicas must be a number"
if [ "$protocol" = pbft ] && { [ "$replicas" -lt 4 ] || [ $(((replicas - 1) % 3)) -ne 0 ]; }; then
  die "--replicas: pbft needs n = 3f+1 replicas (4, 7, 10, ...), not $replicas"
fi
if [ "$protocol" = raft ] && [ "$replicas" -lt 3 ]; then
  die "--replicas: raft needs at least 3 replicas, not $replicas"
fi
[[ "$base_port" =~ ^[0-9]+$ ]] && [ "$base_port" -ge 1024 ] && [ $((base_port + replicas)) -le 65535 ] ||
  die "--base_port must be a number in 1024..$((65535 - replicas))"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

find_binaries "$build" "$dir/build.log"

# Never start a second process on the data of a running replica.
running() {
  [ -f "$dir/replica$1/pid" ] && kill -0 "$(cat "$dir/replica$1/pid")" 2>/dev/null
}

if [ -f "$dir/server.config" ]; then
  echo "start_local_cluster: restarting the stopped replicas in $dir on their existing data and config"
  protocol=$(grep -Eo '"consensus_protocol": *"[a-z]*"' "$dir/server.config" | grep -Eo '[a-z]+"$' | tr -d '"')
else
  # A port taken by another cluster would only show once a replica fails to listen, and the
  # config would keep it: check before writing anything.
  for id in $(seq 1 "$replicas"); do
    if port_in_use $((base_port + id)); then
      die "port $((base_port + id)) on 127.0.0.1 is in use (another cluster?); pick another --base_port"
    fi
  done
  mkdir -p "$dir/keys"
  # PBFT assumes replicas may lie, so their messages are signed; RAFT assumes crashes only.
  require_signatures=false
  [ "$protocol" = pbft ] && require_signatures=true
  names="client admin"
  for id in $(seq 1 "$replicas"); do names+=" replica-$id"; done
  # shellcheck disable=SC2086
  make_certs "$dir" $names
  entries=""
  for id in $(seq 1 "$replicas"); do
    [ -f "$dir/keys/replica$id.key" ] || "$keygen_bin" --private_key "$dir/keys/replica$id.key" \
      --public_key "$dir/keys/replica$id.pub" || die "key generation failed"
    entries+="${entries:+,
}        {\"id\": $id, \"ip\": \"127.0.0.1\", \"port\": $((base_port + id)), \"public_key_file\": \"keys/replica$id.pub\"}"
  done
  cat >"$dir/server.config" <<CONFIG
// Written by start_local_cluster.sh. consensus_protocol may be "pbft" or "raft".
{
  "region": [
    {
      "region_id": 1,
      "replica_info": [
$entries
      ]
    }
  ],
  "self_region_id": 1,
  "consensus_protocol": "$protocol",
  "require_signatures": $require_signatures,
  // Mutual TLS: every replica and client presents a certificate of the cluster CA. "{id}" is
  // the replica's id; client.config names the client's own certificate instead.
  "tls": {"ca_file": "certs/ca.crt", "cert_file": "certs/replica-{id}.crt", "key_file": "certs/replica-{id}.key"},
  // Client certificates (common names) whose admin requests are served.
  "admin_identities": ["admin"]
}
CONFIG
  if [ "$plaintext" -eq 1 ]; then
    sed -i 's|^  "tls": .*|  "allow_plaintext": true,|' "$dir/server.config"
  fi
  sed 's|certs/replica-{id}\.|certs/client.|g' "$dir/server.config" >"$dir/client.config"
  write_admin_config "$dir"
fi

started=()
cleanup_on_failure() {
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
}

# A replica added at run time has a config of its own and joins (--join); one removed stays
# down.
config_of() {
  if [ -f "$dir/replica$1/server.config" ]; then echo "$dir/replica$1/server.config"; else echo "$dir/server.config"; fi
}
ids=""
for id in $( (grep -o '"id": [0-9]*' "$dir/server.config" | grep -o '[0-9]*'
              ls -d "$dir"/replica*/ 2>/dev/null | grep -o 'replica[0-9]*/$' | grep -o '[0-9]*') | sort -nu); do
  [ -f "$dir/replica$id/removed" ] && continue
  [ "$(config_of "$id")" = "$dir/server.config" ] && ! grep -q "\"id\": $id," "$dir/server.config" && continue
  ids+="$id "
done
for id in $ids; do
  rdir="$dir/replica$id"
  if running "$id"; then
    echo "start_local_cluster: replica $id is running (pid $(cat "$rdir/pid")), left alone"
    continue
  fi
  mkdir -p "$rdir"
  join=()
  [ "$(config_of "$id")" != "$dir/server.config" ] && join=(--join)
  nohup "$server_bin" --config "$(config_of "$id")" --id "$id" --data_dir "$rdir/data" \
    --private_key "$dir/keys/replica$id.key" "${join[@]}" >>"$rdir/server.log" 2>&1 </dev/null &
  echo $! >"$rdir/pid"
  started+=($!)
done

# Wait until each replica listens, or report the first one that did not.
deadline=$((SECONDS + 60))
for id in $ids; do
  port=$(grep -o "\"id\": $id, \"ip\": \"[^\"]*\", \"port\": [0-9]*" "$(config_of "$id")" | grep -o '[0-9]*$')
  if ! why=$(wait_listening "$(cat "$dir/replica$id/pid")" "$port" "$deadline"); then
    cleanup_on_failure
    die "replica $id $why: $(tail -1 "$dir/replica$id/server.log")"
  fi
done

# Wait until a replica reports itself leader (RAFT) or primary (PBFT), so that the cluster
# takes writes at once.
if grep -Eq '"consensus_protocol": *"raft"' "$dir/server.config"; then
  role=leader
else
  role=primary
fi
until "$admin_bin" --config "$dir/client.config" status --json --timeout_ms 1000 2>/dev/null |
    grep -q "\"role\": *\"$role\""; do
  for id in $ids; do
    if ! kill -0 "$(cat "$dir/replica$id/pid")" 2>/dev/null; then
      cleanup_on_failure
      die "replica $id exited: $(tail -1 "$dir/replica$id/server.log")"
    fi
  done
  if [ $SECONDS -ge $deadline ]; then
    cleanup_on_failure
    die "no replica reported itself $role within 60 s (logs: $dir/replica*/server.log)"
  fi
  sleep 0.2
done
echo "start_local_cluster: $role ready"

echo "start_local_cluster: $protocol cluster of $(echo $ids | wc -w) replicas running in $dir"
echo "$dir/client.config"
