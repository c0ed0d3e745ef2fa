#!/usr/bin/env bash
# Screenshots of the Dagster UI in headless Chromium (asset graph, a rendered report, the
# night's businesses, the job, schedules and sensors), saved under bench/out/. Starts the UI on
# 127.0.0.1 with a temporary home and stops it afterwards. Needs Debian's chromium package;
# not part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  echo "ui_screenshots: needs Chromium (Debian: apt-get install -y chromium)" >&2
  exit 2
fi
exec .venv/bin/python scripts/ui_screenshots.py "$@"
