"""Two processes refreshing the same night into one warehouse at once: one copy of every row."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest

from resources.warehouse import PRIMARY_KEYS, Warehouse
from standins.serper_server import SerperStandin
from tests.postgres import fresh_schema
from workflows.tracking import import_csv_text, sample_list_text

NIGHT = date(2026, 12, 3)
NIGHTLY_TABLES = ("business_snapshots", "competitor_sets", "comparison_metrics", "reports")


def _refresh(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "refresh", "--date", NIGHT.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _counts(warehouse: Warehouse) -> dict[str, tuple[int, int]]:
    """Rows and distinct keys of each nightly table for the night."""
    counts = {}
    for table in NIGHTLY_TABLES:
        key = ", ".join(PRIMARY_KEYS[table])
        [row] = warehouse.query(
            f"SELECT count(*) AS n, (SELECT count(*) FROM (SELECT DISTINCT {key} FROM {table} "
            f"WHERE night = ?) k) AS keys FROM {table} WHERE night = ?",
            [NIGHT, NIGHT],
        )
        counts[table] = (row["n"], row["keys"])
    return counts


@pytest.fixture
def pg_warehouse_url():
    with fresh_schema("wh_concurrent") as url:
        yield url


@pytest.mark.postgres
def test_two_runs_of_one_night_at_once_leave_exactly_one_copy_of_each_row(
    tmp_path, llm_standin, pg_warehouse_url
):
    warehouse = Warehouse.from_url(pg_warehouse_url)
    warehouse.migrate()
    tracked = import_csv_text(warehouse, sample_list_text(), "live").added
    # A little latency keeps both runs inside their Serper stages at the same time.
    with SerperStandin(api_key="test-key", latency_s=0.05) as serper:
        base = {
            **os.environ,
            "SERPER_API_KEY": "test-key",
            "SERPER_BASE_URL": serper.url,
            "SERPER_REQUESTS_PER_SECOND": "200",
            "OPENAI_API_KEY": "llm-key",
            "OPENAI_BASE_URL": llm_standin.url,
            "LLM_MODEL": "standin-model",
            "LLM_REQUESTS_PER_SECOND": "200",
            "WAREHOUSE_URL": pg_warehouse_url,
        }
        base.pop("REDIS_URL", None)
        base.pop("DAGSTER_HOME", None)
        # Separate data folders: each run has its own cache (so both really call Serper) and
        # its own Dagster home; only the warehouse is shared.
        runs = [_refresh({**base, "DATA_DIR": str(tmp_path / f"run{i}")}) for i in (1, 2)]
        outputs = [run.communicate(timeout=120)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-3000:]

    counts = _counts(warehouse)
    assert all(rows == keys for rows, keys in counts.values()), counts
    assert counts["business_snapshots"][0] == tracked
    assert counts["reports"][0] >= tracked - 2 > 0
    # Both runs did their work: each recorded its own spend, and the rows tonight come from
    # whichever run replaced them last, never from a mixture that left a copy of each.
    spans = warehouse.query(
        "SELECT run_id, min(recorded_at) AS first, max(recorded_at) AS last FROM api_usage "
        "WHERE night = ? GROUP BY run_id",
        [NIGHT],
    )
    assert len(spans) == 2
    # They really ran at the same time: each wrote its first stage before the other finished.
    assert all(a["first"] < b["last"] for a in spans for b in spans)
    writers = warehouse.query(
        "SELECT DISTINCT run_id FROM business_snapshots WHERE night = ?", [NIGHT]
    )
    assert {w["run_id"] for w in writers} <= {s["run_id"] for s in spans}
    assert serper.stats["ok"] >= 2 * tracked
