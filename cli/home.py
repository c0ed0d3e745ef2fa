"""The Dagster home the command line, the UI and its daemon share (DATA_DIR/dagster_home)."""

from __future__ import annotations

import os
from pathlib import Path

from resources.settings import Settings
from workflows.requests import REQUEST_ID_TAG

# What the first versions wrote; a file with exactly this text is upgraded to INSTANCE_YAML.
_FIRST_YAML = "telemetry:\n  enabled: false\n"

INSTANCE_YAML = f"""\
# Written by competitor-insights for its own Dagster home; edit freely, it is not rewritten.
telemetry:
  enabled: false  # otherwise Dagster also writes under ~/.dagster
nux:
  enabled: false  # no "join the community" dialog over the UI of a product's own home
run_queue:
  # Queued runs start within a second (Dagster's default is 5 s): someone is waiting for an
  # on-demand comparison.
  dequeue_interval_seconds: 1
  # A burst of comparison requests runs two at a time beside the nightly run, not all at once.
  tag_concurrency_limits:
    - key: {REQUEST_ID_TAG}
      limit: 2
"""


def write_instance_config(home: Path) -> None:
    """Create `home` with our dagster.yaml, or upgrade the one an older version wrote."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text(encoding="utf-8") == _FIRST_YAML:
        config.write_text(INSTANCE_YAML, encoding="utf-8")


def ensure_dagster_home(settings: Settings) -> Path:
    """Runs from the command line land in the same instance the UI reads, unless told otherwise."""
    home = os.environ.get("DAGSTER_HOME")
    if home:
        return Path(home)
    path = settings.data_dir / "dagster_home"
    write_instance_config(path)
    os.environ["DAGSTER_HOME"] = str(path)
    return path
