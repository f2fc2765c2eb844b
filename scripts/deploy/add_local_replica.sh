#!/usr/bin/env bash
# Adds a replica to a running local RAFT cluster made by start_local_cluster.sh.
#
# Usage: scripts/deploy/add_local_replica.sh [--dir DIR] --id N [--port P] [--learner]
#          [--no_build]
#
#   --dir       deployment directory (default ./resdb_cluster)
#   --id        id of the new replica, not used yet in DIR
#   --port      port on 127.0.0.1 (default: the cluster's base port + N)
#   --learner   keep it a learner (receives the log, does not vote); otherwise it is promoted
#               to voter once it has caught up
#   --no_build  use the binaries already built (bazel build -c opt)
#   RESDB_BIN_DIR (environment): take the binaries from this directory, laid out like
#                bazel-bin, instead of building
#
# Makes N's certificate (DIR/certs/replica-N), writes DIR/replicaN/server.config (the
# settings of DIR/server.config, the replicas of DIR/client.config and N), starts kv_service --join on it with its data in
# DIR/replicaN/data, asks the leader to add it (resdb_admin add-replica, which returns once the
# change is committed, with DIR/admin.config) and adds N to DIR/client.config and
# DIR/admin.config so that clients and resdb_admin see it.
# start_local_cluster.sh --dir DIR restarts it like the others; remove_local_replica.sh --dir
# DIR --id N takes a replica out.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/deploy/lib.sh"
dir=resdb_cluster
id=""
port=""
learner=()
build=1

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "add_local_replica: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    --id) id=${2:?--id needs a value}; shift 2 ;;
    --port) port=${2:?--port needs a value}; shift 2 ;;
    --learner) learner=(--learner); shift ;;
    --no_build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
done

[[ "$id" =~ ^[1-9][0-9]*$ ]] || die "--id is required: a positive replica id"
[ -f "$dir/client.config" ] || die "no cluster in $dir (start_local_cluster.sh writes $dir/client.config)"
dir=$(cd "$dir" && pwd)
grep -Eq '"consensus_protocol": *"raft"' "$dir/server.config" ||
  die "replicas join running RAFT clusters only; $dir does not run raft"
grep -q "\"id\": $id," "$dir/client.config" && die "replica $id is already in $dir/client.config"

# Replica entries are one per line, as start_local_cluster.sh writes them.
entry_pattern='^ *\{"id": [0-9]+, "ip": "[^"]*", "port": [0-9]+'
if [ -z "$port" ]; then
  first=$(grep -Eo "$entry_pattern" "$dir/server.config" | head -1)
  first_id=$(echo "$first" | grep -o '"id": [0-9]*' | grep -o '[0-9]*')
  first_port=$(echo "$first" | grep -o '"port": [0-9]*' | grep -o '[0-9]*')
  port=$((first_port - first_id + id))
fi
[[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1024 ] && [ "$port" -le 65535 ] ||
  die "--port must be a number in 1024..65535"
port_in_use "$port" && die "port $port on 127.0.0.1 is in use; pick another --port"
find_binaries "$build" "$dir/build.log"

rdir="$dir/replica$id"
mkdir -p "$rdir" "$dir/keys"
make_certs "$dir" "replica-$id"
[ -f "$dir/keys/replica$id.key" ] || "$keygen_bin" --private_key "$dir/keys/replica$id.key" \
  --public_key "$dir/keys/replica$id.pub" || die "key generation failed"
entry="        {\"id\": $id, \"ip\": \"127.0.0.1\", \"port\": $port, \"public_key_file\": \"keys/replica$id.pub\"}"

# The replica entries of DIR/client.config (the current members) and the new replica in place
# of the replica entries of `config`, whose other settings stay.
with_new_replica() {
  awk -v entry="$entry" -v pattern="$entry_pattern" -v members="$dir/client.config" '
    BEGIN {
      while ((getline line < members) > 0) {
        if (line ~ pattern) { sub(/,$/, "", line); replicas[++n] = line }
      }
      replicas[++n] = entry
    }
    $0 ~ pattern {
      if (!done) { for (i = 1; i <= n; i++) print replicas[i] (i < n ? "," : "") }
      done = 1
      next
    }
    { print }' "$1"
}
# The settings of the cluster's replicas (server.config), the members clients know. Its
# relative paths are resolved against DIR/replicaN, one level below DIR.
with_new_replica "$dir/server.config" | sed -e 's|"certs/|"../certs/|g' -e 's|"keys/|"../keys/|g' \
  >"$rdir/server.config"

nohup "$server_bin" --config "$rdir/server.config" --id "$id" --join --data_dir "$rdir/data" \
  --private_key "$dir/keys/replica$id.key" >>"$rdir/server.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$rdir/pid"
if ! why=$(wait_listening "$pid" "$port" $((SECONDS + 30))); then
  stop_replica "$rdir/pid" || true
  die "replica $id $why: $(tail -1 "$rdir/server.log")"
fi
echo "add_local_replica: replica $id started on 127.0.0.1:$port (pid $pid), asking the leader to add it"

if ! "$admin_bin" --config "$dir/admin.config" add-replica --id "$id" \
    --address "127.0.0.1:$port" "${learner[@]}"; then
  stop_replica "$rdir/pid" || true
  die "the leader did not add replica $id; it was stopped (its files stay in $rdir)"
fi
# A replica removed earlier and added again restarts with the others from now on.
rm -f "$rdir/removed"
with_new_replica "$dir/client.config" >"$dir/client.config.new"
mv "$dir/client.config.new" "$dir/client.config"
write_admin_config "$dir"
echo "add_local_replica: replica $id is a member; $dir/client.config lists it"
