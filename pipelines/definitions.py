"""The Dagster entry point: every asset, job, schedule and sensor, bound to its resources."""

import dagster as dg

from assets import alerts, nightly
from assets.checks import build_checks
from pipelines.jobs import nightly_refresh_job
from resources.dagster_resources import build_resources
from resources.settings import Settings
from schedules.alerts import alert_delivery_sensor, run_failure_alert_sensor
from schedules.nightly import build_nightly_schedule
from schedules.requests import comparison_request_sensor


def build_definitions(
    settings: Settings | None = None, *, loggers: dict | None = None
) -> dg.Definitions:
    """All definitions; `loggers` replaces Dagster's console logger (the command line's own)."""
    settings = settings or Settings.from_env()
    return dg.Definitions(
        assets=dg.load_assets_from_modules([nightly, alerts]),
        asset_checks=build_checks(settings.check_max_failed_lookup_share),
        jobs=[nightly_refresh_job],
        schedules=[build_nightly_schedule(settings)],
        sensors=[comparison_request_sensor, run_failure_alert_sensor, alert_delivery_sensor],
        resources=build_resources(settings),
        loggers=loggers,
    )


defs = build_definitions()
