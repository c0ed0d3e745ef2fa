#!/usr/bin/env bash
# Installs the project into .venv (created if missing) and runs tonight's refresh on the
# bundled sample market: no server, no API key. Set SERPER_API_KEY for live data.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/competitor-insights refresh "$@"
