#!/usr/bin/env bash
# Makes the certificates of a deployment with openssl: a CA, then one certificate per name.
#
# Usage: scripts/deploy/make_certs.sh DIR NAME...
#
#   DIR    where DIR/ca.crt, DIR/ca.key and DIR/NAME.crt, DIR/NAME.key go
#   NAME   the identity a certificate carries in its common name and DNS subjectAltName:
#          "replica-<id>" for a replica, any other name (e.g. "client", "admin") for a client
#
# Files that exist are kept, so running it again on a deployment only adds the missing ones
# (and a new CA only when DIR has none). Keys are EC P-256, readable by the owner only. The
# CA key signs every certificate: whoever holds it can mint any identity, so keep it off the
# replicas in a real deployment (see documents/security.md).
set -euo pipefail

die() { echo "make_certs: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: make_certs.sh DIR NAME..."
command -v openssl >/dev/null || die "openssl is missing (apt-get install openssl)"
dir=$1
shift
mkdir -p "$dir"
umask 077

# Certificates last ten years: rotation is an operator's decision (documents/security.md),
# not something a test cluster should trip over.
days=3650

if [ ! -f "$dir/ca.crt" ] || [ ! -f "$dir/ca.key" ]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" -days "$days" -subj "/CN=resdb-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null || die "cannot make the CA in $dir"
fi

for name in "$@"; do
  [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "\"$name\" is not a valid name"
  [ -f "$dir/$name.crt" ] && [ -f "$dir/$name.key" ] && continue
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$name" 2>/dev/null ||
    die "cannot make the key of $name"
  # Replicas dial each other, so every certificate serves both as server and as client.
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=DNS:$name" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" -extfile "$dir/$name.ext" \
    -out "$dir/$name.crt" 2>/dev/null || die "cannot sign the certificate of $name"
  rm -f "$dir/$name.csr" "$dir/$name.ext"
done
