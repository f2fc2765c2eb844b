#!/usr/bin/env bash
# Removes a replica from a running local RAFT cluster and stops it.
#
# Usage: scripts/deploy/remove_local_replica.sh [--dir DIR] --id N [--no_build]
#
# Asks the leader to remove replica N (resdb_admin remove-replica with DIR/admin.config, which
# returns once the change is committed; a leader removing itself hands leadership over first),
# then stops N's process and drops N from DIR/client.config and DIR/admin.config. N's files stay in DIR/replicaN; a
# replica once removed does not rejoin with its old data. RESDB_BIN_DIR (environment): take
# resdb_admin from this directory, laid out like bazel-bin, instead of building.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/scripts/deploy/lib.sh"
dir=resdb_cluster
id=""
build=1

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "remove_local_replica: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    --id) id=${2:?--id needs a value}; shift 2 ;;
    --no_build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
done

[[ "$id" =~ ^[1-9][0-9]*$ ]] || die "--id is required: a positive replica id"
[ -f "$dir/client.config" ] || die "no cluster in $dir"
dir=$(cd "$dir" && pwd)
find_binaries "$build" "$dir/build.log"

"$admin_bin" --config "$dir/admin.config" remove-replica --id "$id" ||
  die "the leader did not remove replica $id; it keeps running"

stop_replica "$dir/replica$id/pid" || true
# Not restarted by start_local_cluster.sh any more.
touch "$dir/replica$id/removed"

# Drop N's line from the client config, and the comma it leaves after the previous entry
# when it was the last one.
awk -v id="$id" '
  { lines[NR] = $0 }
  END {
    for (i = 1; i <= NR; i++) {
      if (lines[i] ~ "\"id\": " id ",") {
        if (lines[i] !~ /,$/ && i > 1) sub(/,$/, "", lines[i - 1])
        skip[i] = 1
      }
    }
    for (i = 1; i <= NR; i++) if (!skip[i]) print lines[i]
  }' "$dir/client.config" >"$dir/client.config.new"
mv "$dir/client.config.new" "$dir/client.config"
write_admin_config "$dir"
echo "remove_local_replica: replica $id removed and stopped; $dir/client.config no longer lists it"
