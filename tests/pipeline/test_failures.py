"""How a night fails: at once for errors that hit everyone, with what was spent recorded."""

from standins.serper_server import SerperStandin
from tests.pipeline.test_nightly_job import run_night, track_sample


def test_running_out_of_credits_stops_the_night_and_keeps_the_spend(live_settings):
    warehouse, _ = track_sample(live_settings)
    with SerperStandin(api_key="test-key", credits_left=4) as poor:
        settings = live_settings.with_overrides(serper_base_url=poor.url, serper_max_retries=1)
        result = run_night(settings)
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "no credits left" in message
    [usage] = warehouse.query("SELECT * FROM api_usage WHERE stage = 'business_profiles'")
    assert usage["credits"] == 4
    assert usage["rate_limited"] >= 1


def test_a_bug_fails_the_step_once_without_dagster_retries(live_settings, monkeypatch):
    track_sample(live_settings)

    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr("workflows.stages.compute_metrics", broken)
    result = run_night(live_settings)
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert failure.step_key == "comparison_metrics"
    assert "ZeroDivisionError" in failure.step_failure_data.error.message


def test_a_fatal_error_tells_run_retries_not_to_start_the_run_again(live_settings):
    import dagster as dg

    from pipelines.definitions import build_definitions

    settings = live_settings.with_overrides(serper_api_key="wrong-key")
    track_sample(settings)
    job = build_definitions(settings).resolve_job_def("nightly_refresh_job")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            partition_key="2026-12-03", instance=instance, raise_on_error=False
        )
        assert not result.success
        tags = instance.get_run_by_id(result.run_id).tags
    assert tags["dagster/retry_on_asset_or_op_failure"] == "false"
