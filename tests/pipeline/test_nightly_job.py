"""The nightly job end to end: real sockets, the real httpx and openai clients, local stand-ins."""

from datetime import date

import dagster as dg

from pipelines.definitions import build_definitions
from resources.warehouse import Warehouse
from workflows.tracking import import_csv_text, sample_list_text

NIGHT = date(2026, 12, 3)


def run_night(settings, night=NIGHT, tags=None):
    job = build_definitions(settings).resolve_job_def("nightly_refresh_job")
    return job.execute_in_process(
        partition_key=night.isoformat(),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        tags=tags,
    )


def count(warehouse, table, night=NIGHT):
    return warehouse.query(f"SELECT count(*) AS n FROM {table} WHERE night = ?", [night])[0]["n"]


def track_sample(settings, extra_rows=""):
    warehouse = Warehouse.from_url(settings.warehouse_url)
    warehouse.migrate()
    summary = import_csv_text(warehouse, sample_list_text() + extra_rows, "live")
    return warehouse, summary.added


def test_a_night_produces_every_table_and_a_rerun_replaces_it(live_settings, llm_standin):
    warehouse, tracked = track_sample(live_settings, "Nowhere Diner,,Atlantis,us,en\n")
    result = run_night(live_settings)
    assert result.success

    assert count(warehouse, "business_snapshots") == tracked
    [missing] = warehouse.query("SELECT * FROM business_snapshots WHERE status = 'not_found'")
    assert "Nowhere Diner" in missing["error"]
    found = count(warehouse, "business_snapshots") - 1
    reports = warehouse.query("SELECT * FROM reports WHERE night = ?", [NIGHT])
    # Every found business with a category gets a report, written by the LLM.
    assert len(reports) >= found - 1 >= 8
    assert {r["writer"] for r in reports} == {"llm"}
    assert all(r["markdown"].startswith("# ") for r in reports)
    files = (live_settings.reports_dir / NIGHT.isoformat()).glob("*.md")
    assert len(list(files)) == len(reports)
    usage = {r["stage"]: r for r in warehouse.query("SELECT * FROM api_usage")}
    assert usage["business_profiles"]["credits"] > 0
    assert usage["reports"]["calls"] == len(reports) == llm_standin.stats["requests"]
    assert usage["reports"]["input_tokens"] > 0
    identified = warehouse.query(
        "SELECT count(*) AS n FROM tracked_businesses WHERE place_id IS NOT NULL"
    )
    assert identified[0]["n"] == found

    metadata = result.asset_materializations_for_node("reports")[0].metadata
    assert metadata["reports"].value == len(reports)
    assert "competitor report" in metadata["report"].value

    before = {t: count(warehouse, t) for t in ("business_snapshots", "competitor_sets", "reports")}
    llm_calls = llm_standin.stats["requests"]
    assert run_night(live_settings).success
    assert {t: count(warehouse, t) for t in before} == before
    # Same inputs, same prompt, same model: the stored reports are reused, the LLM is not asked.
    assert llm_standin.stats["requests"] == llm_calls
    assert all(r["reused"] for r in warehouse.query("SELECT reused FROM reports"))


def test_the_next_night_compares_with_history(live_settings):
    warehouse, _ = track_sample(live_settings)
    assert run_night(live_settings, NIGHT).success
    assert run_night(live_settings, date(2026, 12, 4)).success
    rows = warehouse.query(
        "SELECT * FROM comparison_metrics WHERE night = ? AND status = 'ok'", [date(2026, 12, 4)]
    )
    assert rows and all(r["previous_night"] == NIGHT for r in rows)
    assert all(r["new_reviews"] is not None for r in rows if r["review_count"] is not None)


def test_a_business_ids_tag_limits_the_run_to_those_businesses(live_settings):
    warehouse, _ = track_sample(live_settings)
    assert run_night(live_settings).success
    one = warehouse.query("SELECT business_id FROM tracked_businesses ORDER BY business_id")[0]
    stamp = warehouse.query("SELECT run_id FROM business_snapshots LIMIT 1")[0]["run_id"]
    result = run_night(live_settings, tags={"competitor-insights/business_ids": one["business_id"]})
    assert result.success
    runs = warehouse.query("SELECT business_id, run_id FROM business_snapshots")
    rerun = [r for r in runs if r["run_id"] != stamp]
    assert [r["business_id"] for r in rerun] == [one["business_id"]]
    assert len(runs) == count(warehouse, "business_snapshots")


def test_a_bad_serper_key_fails_the_night_at_once_naming_the_setting(live_settings, serper_standin):
    # Paced slowly enough that the 403 is back before a second request would leave, however
    # busy the machine: at 200 a second the next one left after 5 ms, and the count varied.
    settings = live_settings.with_overrides(serper_api_key="wrong", serper_requests_per_second=5)
    track_sample(settings)
    result = run_night(settings)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "SERPER_API_KEY" in failure.message
    # Not retried by Dagster's retry policy: a bad key does not heal in 30 seconds.
    assert serper_standin.stats["requests"] == 1


def test_sample_data_is_never_mixed_into_a_live_warehouse(live_settings):
    warehouse, _ = track_sample(live_settings)
    assert run_night(live_settings).success
    offline = live_settings.with_overrides(
        serper_api_key=None, warehouse_url_setting=live_settings.warehouse_url
    )
    result = run_night(offline)
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "live" in message and "WAREHOUSE_URL" in message
    assert {r["source"] for r in warehouse.query("SELECT source FROM business_snapshots")} == {
        "live"
    }
