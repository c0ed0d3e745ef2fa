"""The nightly schedule: refresh every tracked business once a day."""

import dagster as dg

from pipelines.jobs import nightly_refresh_job

nightly_refresh_schedule = dg.build_schedule_from_partitioned_job(
    nightly_refresh_job, hour_of_day=2, minute_of_hour=0
)
