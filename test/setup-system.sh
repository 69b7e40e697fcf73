#!/usr/bin/env bash
# What the test suite needs besides npm packages, installed and started when missing (`npm test` runs this first):
#   - Debian's Chromium, for the browser tool's rendering tests;
#   - PostgreSQL 15 with pgvector, for the postgres vector store. pgvector is not packaged for Debian 12, so it is
#     built from Debian's own source package (pgvector in trixie) against bookworm's postgresql-server-dev-15;
#   - redis-server, for the Redis limit service's tests (each test starts its own on a free port; none is left running).
# A PostgreSQL cluster this script starts is stopped again after the tests (test/teardown-system.sh, run by
# `npm test` whatever the tests' outcome). Installing needs root (CI runs as root); otherwise it only says what is missing. Every step is skipped when its
# result is already there, so a second run takes well under a second.
set -euo pipefail
PG_URL=${SLUICE_TEST_POSTGRES_URL:-postgres://sluice:sluice@127.0.0.1:5432/sluice_test}
STARTED_MARK=/tmp/sluice-test-started-postgres
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql postgresql-server-dev-15 build-essential dpkg-dev)
[ -f /usr/share/postgresql/15/extension/vector.control ] || need+=(postgresql-server-dev-15 build-essential dpkg-dev)
[ -x /usr/bin/redis-server ] || need+=(redis-server)

if [ "$(id -u)" != 0 ]; then
  [ ${#need[@]} -eq 0 ] || echo "setup-system: not root, so not installing: ${need[*]} (the browser, postgres and redis tests need them; see test/setup-system.sh)" >&2
  exit 0
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "setup-system: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -f /usr/share/postgresql/15/extension/vector.control ]; then
  echo "setup-system: building pgvector from Debian's source package" >&2
  src=$(mktemp -d)
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\n' > "$src/trixie-src.sources"
  apt-get update -qq -o Dir::Etc::sourcelist="$src/trixie-src.sources" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$src/lists" 2>/dev/null || \
    { mkdir -p "$src/lists/partial"; apt-get update -qq -o Dir::Etc::sourcelist="$src/trixie-src.sources" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$src/lists"; }
  (cd "$src" && apt-get source -qq --download-only -o Dir::Etc::sourcelist="$src/trixie-src.sources" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$src/lists" pgvector >/dev/null 2>&1)
  tar xzf "$src"/pgvector_*.orig.tar.gz -C "$src"
  make -s -C "$src"/pgvector-*/ PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config >/dev/null
  make -s -C "$src"/pgvector-*/ install PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config >/dev/null
fi

if ! pg_lsclusters -h 2>/dev/null | grep -q "^15 *main .*online"; then
  pg_lsclusters -h 2>/dev/null | grep -q "^15 *main" || pg_createcluster 15 main >/dev/null
  pg_ctlcluster 15 main start
  touch "$STARTED_MARK" # test/teardown-system.sh stops it again after the tests
fi
if ! PGPASSWORD=sluice psql "$PG_URL" -qtAc "SELECT 1" >/dev/null 2>&1; then
  su postgres -c "psql -qc \"DO \\\$\\\$ BEGIN CREATE ROLE sluice LOGIN PASSWORD 'sluice' SUPERUSER; EXCEPTION WHEN duplicate_object THEN NULL; END \\\$\\\$\"" >/dev/null
  su postgres -c "createdb -O sluice sluice_test" 2>/dev/null || true
fi
