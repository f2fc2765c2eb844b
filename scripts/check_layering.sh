#!/usr/bin/env bash
# Checks the include rules the layout depends on and prints one line:
#   layering: clean
# or one "layering: VIOLATION <file>:<line>: <include> (<rule>)" line per include that breaks
# a rule. Exit status 0 only if clean. scripts/test.sh runs it as one test.
#
# Rules:
# - the PBFT and RAFT packages (platform/consensus/ordering/{pbft,raft}) do not include each
#   other: either protocol builds and changes without the other;
# - nothing under platform/ includes service/ or interface/: the platform serves every
#   service and client, and tests that need a service live in tests/;
# - interface/ (the client library) does not include service/: a client links no server
#   code. Two exceptions: a service's wire messages (service/<name>/proto/), which are the
#   contract between the service and its clients, and the library's tests (*_test.cpp),
#   which may run the service in a stand-in replica;
# - a service binary (service/<name>/<name>_service.cpp) names no protocol: the config
#   chooses it, and service/utils/server_factory builds the manager.
set -uo pipefail

cd "$(dirname "$0")/.."

violations=0

# check <directory> <included path prefix> <rule> [<exempt>]
# <exempt>: an extended regular expression; hits ("<file>:<line>:<include line>") that match
# it are allowed.
check() {
  local hit
  while IFS= read -r hit; do
    [ -n "${4:-}" ] && [[ "$hit" =~ $4 ]] && continue
    echo "layering: VIOLATION ${hit} ($3)"
    violations=$((violations + 1))
  done < <(grep -rnE --include='*.h' --include='*.cc' --include='*.cpp' \
    "^[[:space:]]*#[[:space:]]*include[[:space:]]+\"$2" "$1")
}

check platform/consensus/ordering/pbft platform/consensus/ordering/raft/ \
  "PBFT must not include RAFT"
check platform/consensus/ordering/raft platform/consensus/ordering/pbft/ \
  "RAFT must not include PBFT"
check platform service/ "platform/ must not include service/"
check platform interface/ "platform/ must not include interface/"
check interface service/ "interface/ must not include service/" \
  '^[^:]*_test\.(cc|cpp):|"service/[^/"]+/proto/'

# Code lines (not comments) of a service binary that name a protocol.
for binary in service/*/*_service.cpp; do
  [ -f "$binary" ] || continue
  while IFS= read -r hit; do
    echo "layering: VIOLATION ${binary}:${hit} (a service binary must not name a protocol)"
    violations=$((violations + 1))
  done < <(grep -nE 'kProtocol[A-Za-z]+|"(pbft|raft)"' "$binary" | grep -vE '^[0-9]+:[[:space:]]*//')
done

if [ "$violations" -eq 0 ]; then
  echo "layering: clean"
  exit 0
fi
exit 1
