"""The Dagster entry point: every asset, job, schedule and sensor, bound to its resources."""

import dagster as dg

from assets import nightly
from pipelines.jobs import nightly_refresh_job
from resources.dagster_resources import build_resources
from resources.settings import Settings
from schedules.nightly import nightly_refresh_schedule


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    return dg.Definitions(
        assets=dg.load_assets_from_modules([nightly]),
        jobs=[nightly_refresh_job],
        schedules=[nightly_refresh_schedule],
        resources=build_resources(settings),
    )


defs = build_definitions()
