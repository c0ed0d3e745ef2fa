"""The nightly schedule: its hour and zone from settings, a tick's night, and range runs."""

from datetime import UTC, date, datetime

import dagster as dg
import pytest
from dagster._core.execution.backfill import PartitionBackfill

from cli.main import run_nightly_job
from resources.settings import SettingError, Settings
from resources.warehouse import Warehouse
from schedules.nightly import build_nightly_schedule
from tests.schedules.conftest import track_few
from tests.schedules.daemon import daemon_workspace, run_backfill_daemon


def tick(schedule, when: datetime) -> dg.RunRequest:
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        return schedule(context)


def test_the_schedule_runs_at_the_configured_hour_and_zone():
    settings = Settings.from_env(
        {"NIGHTLY_HOUR": "3", "NIGHTLY_MINUTE": "45", "NIGHTLY_TIMEZONE": "Europe/Berlin"}
    )
    schedule = build_nightly_schedule(settings)
    assert schedule.name == "nightly_refresh_schedule"
    assert schedule.job_name == "nightly_refresh_job"
    assert schedule.cron_schedule == "45 3 * * *"
    assert schedule.execution_timezone == "Europe/Berlin"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_the_defaults_are_two_in_the_morning_utc():
    schedule = build_nightly_schedule(Settings.from_env({}))
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "UTC")


def test_a_tick_refreshes_the_date_it_has_in_the_schedules_zone():
    schedule = build_nightly_schedule(Settings(nightly_timezone="Asia/Tokyo"))
    # 02:00 in Tokyo is 17:00 UTC of the day before: the night is Tokyo's date.
    request = tick(schedule, datetime(2026, 12, 4, 17, 0, tzinfo=UTC))
    assert request.partition_key == "2026-12-05"
    assert request.run_key == "2026-12-05"


def test_a_tick_evaluated_twice_asks_for_the_same_run():
    schedule = build_nightly_schedule(Settings())
    when = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    first, again = tick(schedule, when), tick(schedule, when)
    # The same run key: after a daemon restart Dagster launches it once.
    assert (first.run_key, first.partition_key) == (again.run_key, again.partition_key)
    assert first.partition_key == "2026-12-04"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("NIGHTLY_HOUR", "24", "0 to 23"),
        ("NIGHTLY_MINUTE", "7.5", "whole number"),
        ("NIGHTLY_TIMEZONE", "Mars/Olympus", "time zone"),
        ("ALERT_WEBHOOK_URL", "hooks.example/x", "http://"),
        ("ALERT_RATING_STEP", "0", "at least"),
        ("CHECK_MAX_FAILED_LOOKUP_SHARE", "1.5", "share"),
    ],
)
def test_an_unusable_setting_is_refused_naming_the_variable(variable, value, words):
    with pytest.raises(SettingError, match=variable) as error:
        Settings.from_env({variable: value})
    assert words in str(error.value)


def test_a_backfill_of_a_date_range_is_one_run(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    with daemon_workspace(tmp_path) as (instance, workspace):
        graph = workspace.create_request_context().asset_graph
        nights = ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id="nights",
            asset_graph=graph,
            partition_names=nights,
            asset_selection=sorted(graph.get_all_asset_keys()),
            backfill_timestamp=datetime.now(UTC).timestamp(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=None,
        )
        instance.add_backfill(backfill)
        run_backfill_daemon(workspace)
        [run] = instance.get_runs()
    assert run.tags["dagster/asset_partition_range_start"] == "2026-12-01"
    assert run.tags["dagster/asset_partition_range_end"] == "2026-12-04"
    assert {key.path[-1] for key in run.asset_selection} >= {"business_profiles", "alerts"}


def test_refresh_from_to_runs_every_night_of_the_range_in_one_run(tmp_path, dagster_home):
    settings = Settings(data_dir=tmp_path)
    track_few(settings)
    result = run_nightly_job(settings, date(2026, 12, 2), last=date(2026, 12, 3))
    assert result.success
    materialized = {
        event.partition
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey("reports")
    }
    assert materialized == {"2026-12-02", "2026-12-03"}
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_runs()) == 1
        # Each night's check result is on its own partition, as a one-night run's would be.
        key = dg.AssetCheckKey(dg.AssetKey("comparison_metrics"), "metrics_within_ranges")
        infos = instance.event_log_storage.get_asset_check_partition_info([key])
        statuses = {i.partition_key: i.latest_execution_status.value for i in infos}
        # None: the run's own result over both nights, as Dagster records a range.
        assert statuses == {None: "SUCCEEDED", "2026-12-02": "SUCCEEDED", "2026-12-03": "SUCCEEDED"}
    nights = Warehouse.from_url(settings.warehouse_url).query(
        "SELECT DISTINCT night FROM reports ORDER BY night"
    )
    assert [r["night"] for r in nights] == [date(2026, 12, 2), date(2026, 12, 3)]
