"""The deployment tests; `pytest -m stack` selects the one that starts the whole stack."""

import pytest

from tests.pipeline.conftest import live_settings  # noqa: F401 - the fixture


@pytest.fixture
def warehouse_setting():
    """live_settings here use the embedded default, a DuckDB file in DATA_DIR: the starting
    point of a move to PostgreSQL."""
    return None


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "stack: starts scripts/stack.sh (code location server, webserver, daemon) against "
        "PostgreSQL, a Redis of its own and local stand-ins; about a minute and a half",
    )
