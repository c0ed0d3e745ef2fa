"""The deployment tests; `pytest -m stack` selects the one that starts the whole stack."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "stack: starts scripts/stack.sh (code location server, webserver, daemon) against "
        "PostgreSQL, a Redis of its own and local stand-ins; about a minute and a half",
    )
