#!/usr/bin/env bash
# Builds pgvector, when it is missing, from the vendored upstream source and installs it into this
# machine's newest PostgreSQL (the one the test suites start): Debian's package sources have none.
# It never downloads pgvector: the tarball comes from AGENTRY_VENDOR_DIR (default ../shared/vendor
# beside the repository, where CI keeps it), checked against the checksum pinned here. The build
# runs in a scratch folder, so the repository stays clean. Needs root (apt-get, make install).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
vendor="${AGENTRY_VENDOR_DIR:-$root/../shared/vendor}"
version=0.8.6
sha256=5743dac39fdfa740533cf95e71b033bd5513b71dda194b3cf19464ccbf76f3fb
tarball="$vendor/pgvector-$version.tar.gz"

# The same server the tests pick: the newest major under /usr/lib/postgresql.
major="$(ls /usr/lib/postgresql | sort -n | tail -n 1)"
pg_config="/usr/lib/postgresql/$major/bin/pg_config"
if [ -f "$("$pg_config" --sharedir)/extension/vector.control" ]; then
  exit 0 # already installed
fi
if [ ! -f "$tarball" ]; then
  echo "install-pgvector: $tarball is missing; set AGENTRY_VENDOR_DIR to the folder that holds it" >&2
  exit 1
fi
echo "$sha256  $tarball" | sha256sum --check --quiet

# pg_config comes with the client package; the headers to build against come with the dev one.
if [ ! -f "$("$pg_config" --includedir-server 2>/dev/null)/postgres.h" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-server-dev-$major" >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar xzf "$tarball" -C "$work"
make -s -C "$work/pgvector-$version" PG_CONFIG="$pg_config" -j "$(nproc)" >/dev/null
make -s -C "$work/pgvector-$version" PG_CONFIG="$pg_config" install >/dev/null
echo "install-pgvector: pgvector $version installed into PostgreSQL $major ($("$pg_config" --sharedir)/extension)"
