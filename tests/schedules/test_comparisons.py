"""On-demand comparisons end to end: request, the sensor's run, status and report."""

from __future__ import annotations

import dagster as dg
import pytest

from cli.main import main
from insights.tracking import make_business
from resources.request_store import RequestStore
from resources.warehouse import Warehouse
from tests.schedules.conftest import track_few
from tests.schedules.daemon import RequestRunner


@pytest.fixture
def cli_env(settings, dagster_home, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    for name in ("SERPER_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "WAREHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    return settings


def cli(capsys, *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_a_request_becomes_a_stored_report_that_status_and_report_show(cli_env, capsys):
    request_id = cli(capsys, "request", "Hyde Park Beanery, Austin").strip()
    assert "status    queued" in cli(capsys, "status", request_id)

    [run] = RequestRunner(cli_env).tick()
    assert run.success

    status = cli(capsys, "status", request_id)
    assert "status    done" in status and f"run       {run.run_id}" in status
    report = cli(capsys, "report", request_id)
    assert report.startswith(f"# Hyde Park Beanery: competitor report for {cli_env.today()}")
    # The run's materialization shows the same report, whole, as Markdown.
    [shown] = [
        m.metadata["report"]
        for m in run.asset_materializations_for_node("reports")
        if "report" in m.metadata
    ]
    assert isinstance(shown, dg.MarkdownMetadataValue) and shown.value == report.rstrip("\n") + "\n"
    warehouse = Warehouse.from_url(cli_env.warehouse_url)
    [business] = warehouse.query(
        "SELECT active FROM tracked_businesses WHERE lower(name) LIKE 'hyde park%'"
    )
    # Compared on demand, not added to the nightly list.
    assert business["active"] is False


def test_a_business_that_cannot_be_found_fails_the_request_with_the_reason(cli_env, capsys):
    request_id = cli(capsys, "request", "Nowhere Diner, Atlantis").strip()
    [run] = RequestRunner(cli_env).tick()
    assert run.success  # failures of one business are data, not a failed run
    status = cli(capsys, "status", request_id)
    assert "status    failed" in status
    assert "no Google Maps result matches" in status
    assert main(["report", request_id]) == 2
    assert "is failed" in capsys.readouterr().err


def test_a_whole_night_run_keeps_the_rows_of_an_on_demand_comparison(cli_env, capsys):
    track_few(cli_env)
    request_id = cli(capsys, "request", "Hyde Park Beanery, Austin").strip()
    [comparison] = RequestRunner(cli_env).tick()
    night = cli_env.today()
    with dg.DagsterInstance.get() as instance:
        nightly = comparison.job_def.execute_in_process(
            partition_key=night.isoformat(), instance=instance
        )
    assert nightly.success
    warehouse = Warehouse.from_url(cli_env.warehouse_url)
    store = RequestStore.from_url(cli_env.request_store_url)
    request = store.get(request_id)
    rows = warehouse.query(
        "SELECT run_id FROM reports WHERE night = ? AND business_id = ?",
        [night, request.business_id],
    )
    assert [r["run_id"] for r in rows] == [comparison.run_id]
    tracked = warehouse.query("SELECT count(*) AS n FROM tracked_businesses WHERE active")[0]["n"]
    refreshed = warehouse.query(
        "SELECT count(*) AS n FROM business_snapshots WHERE night = ? AND run_id = ?",
        [night, nightly.run_id],
    )[0]["n"]
    assert refreshed == tracked == 3


def test_a_second_request_for_a_business_reuses_the_cached_data(
    live_settings, serper_standin, llm_standin, dagster_home
):
    settings = live_settings
    daemon = RequestRunner(settings)
    bean = make_business("Bean Theory Coffee", "https://beantheory.coffee/", "Austin", "us", "en")
    first = daemon.store.add(bean, settings.today())
    assert all(run.success for run in daemon.tick())
    calls = (serper_standin.stats["requests"], llm_standin.stats["requests"])
    assert calls[0] >= 2 and calls[1] == 1

    again = daemon.store.add(bean, settings.today())
    assert all(run.success for run in daemon.tick())
    assert (serper_standin.stats["requests"], llm_standin.stats["requests"]) == calls
    assert [daemon.store.get(r.id).status for r in (first, again)] == ["done", "done"]
