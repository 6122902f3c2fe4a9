#!/usr/bin/env bash
# Install (from Debian packages) and start a throw-away PostgreSQL server on 127.0.0.1.
# Prints the SQLAlchemy URL on stdout. Used by .ci/run and by developers.
set -euo pipefail
PGPORT="${PGPORT:-54329}"
PGDATA="${PGDATA_DIR:-/tmp/optuna-tba-pg}"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
fi
BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")
id postgres >/dev/null 2>&1 || useradd -r -m postgres
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  rm -rf "$PGDATA"; mkdir -p "$PGDATA"; chown postgres "$PGDATA"
  su postgres -c "$BIN/initdb -D $PGDATA -A trust -U postgres" >&2
fi
if ! su postgres -c "$BIN/pg_ctl -D $PGDATA status" >/dev/null 2>&1; then
  su postgres -c "$BIN/pg_ctl -D $PGDATA -l $PGDATA/server.log -w -o '-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200' start" >&2
fi
su postgres -c "$BIN/psql -h 127.0.0.1 -p $PGPORT -U postgres -tc \"SELECT 1 FROM pg_database WHERE datname='optuna_tba_test'\"" | grep -q 1 \
  || su postgres -c "$BIN/createdb -h 127.0.0.1 -p $PGPORT -U postgres optuna_tba_test" >&2
echo "postgresql+psycopg2://postgres@127.0.0.1:$PGPORT/optuna_tba_test"
