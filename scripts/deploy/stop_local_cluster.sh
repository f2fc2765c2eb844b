#!/usr/bin/env bash
# Stops the replicas that start_local_cluster.sh started.
#
# Usage: scripts/deploy/stop_local_cluster.sh [--dir DIR]   (default ./resdb_cluster)
#
# Sends SIGTERM to each replica, waits up to 10 s for it to exit, then SIGKILL. Data, logs
# and configs stay, so start_local_cluster.sh --dir DIR restarts the same cluster.
set -euo pipefail

source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

dir=resdb_cluster
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "stop_local_cluster: unknown argument $1" >&2; exit 1 ;;
  esac
done
[ -d "$dir" ] || { echo "stop_local_cluster: no directory $dir" >&2; exit 1; }

stopped=0
for pidfile in "$dir"/replica*/pid; do
  stop_replica "$pidfile" && stopped=$((stopped + 1))
done
echo "stop_local_cluster: stopped $stopped replica(s) in $dir"
