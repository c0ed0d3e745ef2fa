"""The pipeline tests run once on DuckDB and once on PostgreSQL (a fresh schema per test)."""

import pytest

from resources.settings import Settings
from tests.postgres import fresh_schema


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_setting(request):
    """The WAREHOUSE_URL a test's Settings use; None: the default DuckDB file in DATA_DIR."""
    if request.param == "duckdb":
        yield None
        return
    with fresh_schema("wh_pipeline") as url:
        yield url


@pytest.fixture
def live_settings(tmp_path, serper_standin, llm_standin, warehouse_setting):
    return Settings(
        serper_api_key="test-key",
        serper_base_url=serper_standin.url,
        serper_requests_per_second=200,
        openai_api_key="llm-key",
        openai_base_url=llm_standin.url,
        llm_model="standin-model",
        llm_requests_per_second=200,
        data_dir=tmp_path,
        warehouse_url_setting=warehouse_setting,
    )
