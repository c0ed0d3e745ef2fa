"""The nightly schedule: refresh every tracked business once a day, at NIGHTLY_HOUR:NIGHTLY_MINUTE
in NIGHTLY_TIMEZONE."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.jobs import nightly_refresh_job
from resources.settings import Settings


def tick_night(scheduled: datetime | None, timezone: str) -> date:
    """The night a tick refreshes: its date in the schedule's time zone."""
    zone = ZoneInfo(timezone)
    return (scheduled or datetime.now(zone)).astimezone(zone).date()


def build_nightly_schedule(settings: Settings) -> dg.ScheduleDefinition:
    timezone = settings.nightly_timezone

    @dg.schedule(
        name="nightly_refresh_schedule",
        job=nightly_refresh_job,
        cron_schedule=f"{settings.nightly_minute} {settings.nightly_hour} * * *",
        execution_timezone=timezone,
        # Running from the start: refreshing every night is what the product is for. Stopping
        # it in the UI sticks across restarts.
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"Refreshes every tracked business at {settings.nightly_hour:02d}:"
            f"{settings.nightly_minute:02d} {timezone} (NIGHTLY_HOUR, NIGHTLY_MINUTE, "
            "NIGHTLY_TIMEZONE), for that day's partition."
        ),
    )
    def nightly_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        night = tick_night(context.scheduled_execution_time, timezone).isoformat()
        # The night as run key: a tick evaluated again after a daemon restart runs nothing twice.
        return dg.RunRequest(run_key=night, partition_key=night)

    return nightly_refresh_schedule
