#!/usr/bin/env bash
# Checks the include rules the layout depends on and prints one line:
#   layering: clean
# or one "layering: VIOLATION <file>:<line>: <include> (<rule>)" line per include that breaks
# a rule. Exit status 0 only if clean. scripts/test.sh runs it as one test.
#
# Rules:
# - the PBFT and RAFT packages (platform/consensus/ordering/{pbft,raft}) do not include each
#   other: either protocol builds and changes without the other;
# - nothing under platform/ includes service/: the platform serves every service, and tests
#   that need a service live in tests/;
# - a service binary (service/<name>/<name>_service.cpp) names no protocol: the config
#   chooses it, and service/utils/server_factory builds the manager.
set -uo pipefail

cd "$(dirname "$0")/.."

violations=0

# check <directory> <included path prefix> <rule>
check() {
  local hit
  while IFS= read -r hit; do
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
