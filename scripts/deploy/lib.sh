# Shared by the local deploy scripts; sourced, not run. The caller sets $repo (the source tree)
# and defines die().

# Builds the binaries optimized (a local cluster is what people measure) unless $1 is 0 or
# RESDB_BIN_DIR names a directory laid out like bazel-bin that holds them already; logs the
# build to $2. Sets server_bin, keygen_bin, admin_bin.
find_binaries() {
  local build=$1 log=$2
  if [ "$build" -eq 1 ] && [ -z "${RESDB_BIN_DIR:-}" ]; then
    bash "$repo/scripts/install_deps.sh" >/dev/null || die "installing dependencies failed"
    (cd "$repo" && bazel build -c opt //service/kv:kv_service //service/tools/kv:kv_service_tools \
      //service/tools/kv:kv_benchmark //service/tools/keys:resdb_keygen \
      //service/tools/admin:resdb_admin >"$log" 2>&1) ||
      { tail -20 "$log" >&2; die "build failed (full log: $log)"; }
  fi
  local bin=${RESDB_BIN_DIR:-$(cd "$repo" && bazel info -c opt bazel-bin 2>/dev/null)}
  server_bin="$bin/service/kv/kv_service"
  keygen_bin="$bin/service/tools/keys/resdb_keygen"
  admin_bin="$bin/service/tools/admin/resdb_admin"
  local binary
  for binary in "$server_bin" "$keygen_bin" "$admin_bin"; do
    [ -x "$binary" ] || die "$binary is missing: run without --no_build"
  done
}

# True if something accepts connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits until process $1 listens on port $2, up to second $3 of $SECONDS. Prints why not and
# returns 1 if it exits first or the time runs out.
wait_listening() {
  local pid=$1 port=$2 deadline=$3
  until port_in_use "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "exited"
      return 1
    fi
    if [ $SECONDS -ge "$deadline" ]; then
      echo "did not listen on port $port in time"
      return 1
    fi
    sleep 0.2
  done
}

# Stops the replica whose pid file is $1: SIGTERM, up to 10 s to exit, then SIGKILL. Removes
# the pid file. Returns 1 if the replica was not running.
stop_replica() {
  local pidfile=$1 pid was_running=1
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    was_running=0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  return $was_running
}

# Makes the certificates named $2... (and the cluster CA, once) under $1/certs; existing ones
# are kept.
make_certs() {
  local dir=$1
  shift
  bash "$repo/scripts/deploy/make_certs.sh" "$dir/certs" "$@" || die "making certificates failed"
}

# Writes $1/admin.config: $1/client.config with the admin client certificate, the identity the
# replicas accept admin requests (resdb_admin transfer-leader, add-replica, remove-replica)
# from.
write_admin_config() {
  sed 's|certs/client\.|certs/admin.|g' "$1/client.config" >"$1/admin.config.new"
  mv "$1/admin.config.new" "$1/admin.config"
}
