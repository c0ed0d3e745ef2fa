"""The pipeline tests run once on DuckDB and once on PostgreSQL (a fresh schema per test)."""

import pytest

from tests.postgres import fresh_schema


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_setting(request):
    """The WAREHOUSE_URL a test's Settings use; None: the default DuckDB file in DATA_DIR."""
    if request.param == "duckdb":
        yield None
        return
    with fresh_schema("wh_pipeline") as url:
        yield url
