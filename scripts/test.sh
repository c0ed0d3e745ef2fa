#!/usr/bin/env bash
# Installs what the tests need into .venv (created if missing) and runs them.
# Tests that need PostgreSQL or Redis use TEST_POSTGRES_URL / TEST_REDIS_URL (defaults: the
# local servers) and are skipped with a reason when those do not answer, except under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
exec .venv/bin/python -m pytest "$@"
