"""Moving from the embedded DuckDB warehouse to PostgreSQL keeps every row, and can be repeated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from resources.warehouse import PRIMARY_KEYS, Warehouse
from tests.pipeline.test_nightly_job import run_night, track_sample
from tests.postgres import fresh_schema

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "copy_warehouse.py"


def _everything(warehouse: Warehouse) -> dict[str, list[dict]]:
    return {
        table: warehouse.query(f"SELECT * FROM {table} ORDER BY {', '.join(key)}")
        for table, key in PRIMARY_KEYS.items()
    }


@pytest.mark.postgres
def test_a_duckdb_warehouse_copied_to_postgres_reads_back_the_same_twice(live_settings):
    settings = live_settings
    source, _ = track_sample(settings)
    assert run_night(settings).success
    with fresh_schema("wh_copy") as target_url:
        for _ in range(2):  # a second copy updates; it never duplicates
            done = subprocess.run(
                [sys.executable, str(SCRIPT), settings.warehouse_url, target_url],
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stderr
        copied = _everything(Warehouse.from_url(target_url))
    original = _everything(source)
    assert copied == original
    assert f"business_snapshots: {len(original['business_snapshots'])} rows" in done.stdout
    assert len(original["reports"]) > 5 and original["warehouse_meta"]


@pytest.mark.postgres
def test_live_data_is_not_copied_into_a_sample_warehouse(tmp_path):
    source = Warehouse.from_url(f"duckdb:///{tmp_path}/live.duckdb")
    source.migrate()
    source.claim_source("live")
    with fresh_schema("wh_copy") as target_url:
        target = Warehouse.from_url(target_url)
        target.migrate()
        target.claim_source("sample")
        done = subprocess.run(
            [sys.executable, str(SCRIPT), source.url, target_url], capture_output=True, text=True
        )
    assert done.returncode == 2 and "sample" in done.stderr and "WAREHOUSE_URL" in done.stderr
