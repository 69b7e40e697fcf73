#!/usr/bin/env bash
# After `npm test`: stops the PostgreSQL cluster test/setup-system.sh started for the tests (and only that: a
# cluster that was already running is left alone). Redis and Chromium are started and stopped by the tests.
STARTED_MARK=/tmp/sluice-test-started-postgres
if [ -f "$STARTED_MARK" ]; then
  pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
  rm -f "$STARTED_MARK"
fi
