"""Asset checks: what each judges, and that the blocking ones hold back the rest of the night."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from resources.settings import Settings
from resources.warehouse import Warehouse
from schedules.alerts import run_failure_text
from standins.serper_server import SerperStandin
from tests.schedules.conftest import track_few
from workflows import quality
from workflows.night import Night

NIGHT = date(2026, 12, 3)


@pytest.fixture
def night(settings):
    warehouse = Warehouse.from_url(settings.warehouse_url)
    warehouse.migrate()
    return Night(NIGHT, "run-1", "sample", warehouse, business_ids=["a", "b", "c"])


def snapshots(night, *statuses):
    night.warehouse.append(
        "business_snapshots",
        [
            {"night": NIGHT, "business_id": b, "status": s, "error": None if s == "ok" else "boom"}
            for b, s in zip("abc", statuses, strict=False)
        ],
    )


def test_failed_lookups_above_the_share_fail_hard_and_not_found_does_not_count(night):
    snapshots(night, "ok", "error", "not_found")
    assert quality.failed_lookups(night, 0.5).level == quality.PASS
    verdict = quality.failed_lookups(night, 0.2)
    assert verdict.level == quality.HARD
    assert verdict.figures == {"lookups": 3, "failed": 1, "failed_share": 0.333}
    assert "CHECK_MAX_FAILED_LOOKUP_SHARE" in verdict.description and "b: boom" in verdict.problems


def test_a_business_found_without_competitors_is_a_warning_with_its_reason(night):
    snapshots(night, "ok", "ok")
    night.warehouse.append(
        "competitor_sets", [{"night": NIGHT, "business_id": "a", "rank": 1, "place_id": "p1"}]
    )
    night.warehouse.append(
        "stage_failures",
        [{"night": NIGHT, "business_id": "b", "stage": "competitor_sets", "error": "no category"}],
    )
    verdict = quality.competitor_sets(night)
    assert verdict.level == quality.SOFT
    assert verdict.problems == ["b: no category"]


def test_metrics_outside_their_range_fail_hard(night):
    night.warehouse.append(
        "comparison_metrics",
        [
            {"night": NIGHT, "business_id": "a", "rating": 4.5, "percentile": 50.0,
             "rank_in_set": 2, "ranked_count": 4},
            {"night": NIGHT, "business_id": "b", "rating": 6.0, "completeness": 1.2,
             "rank_in_set": 5, "ranked_count": 4},
        ],
    )  # fmt: skip
    verdict = quality.metric_ranges(night)
    assert verdict.level == quality.HARD
    assert verdict.problems == [
        "b: rating=6.0 outside 1.0..5.0",
        "b: completeness=1.2 outside 0.0..1.0",
        "b: rank_in_set=5 of 4",
    ]


def test_a_report_that_does_not_match_the_schema_is_a_warning(night):
    night.warehouse.append(
        "reports",
        [{"night": NIGHT, "business_id": "a", "report_json": {"summary": "x"}, "markdown": "# A"}],
    )
    verdict = quality.report_schema(night)
    assert verdict.level == quality.SOFT
    assert verdict.problems[0].startswith("a: business_name: Field required")


def test_a_night_whose_lookups_failed_stops_before_competitors_and_says_why(tmp_path):
    with SerperStandin(api_key="test-key", error_rate=1.0) as serper:
        settings = Settings(
            serper_api_key="test-key",
            serper_base_url=serper.url,
            serper_requests_per_second=200,
            serper_max_retries=0,
            data_dir=tmp_path,
        )
        track_few(settings)
        job = build_definitions(settings).resolve_job_def("nightly_refresh_job")
        instance = dg.DagsterInstance.ephemeral()
        result = job.execute_in_process(
            partition_key=NIGHT.isoformat(), instance=instance, raise_on_error=False
        )
    assert not result.success
    ran = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert "business_profiles" in ran and "competitor_sets" not in ran
    [evaluation] = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert evaluation.partition == NIGHT.isoformat() and not evaluation.passed
    assert "3 of 3 look-ups failed" in run_failure_text(instance, result.run_id)
