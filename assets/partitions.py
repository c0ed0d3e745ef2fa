"""The nights the product keeps: one partition per day."""

import warnings

import dagster as dg

from resources.settings import Settings

# Single-run backfills are what we want (a range of nights in one run); Dagster still marks
# the parameter beta, and the warning would print on every import.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)

# end_offset=1: tonight's partition exists as soon as the day starts, so the nightly run at
# 02:00 writes the snapshot dated today, and `refresh --date` accepts today. A night is a day
# in NIGHTLY_TIMEZONE: in a zone ahead of UTC, 02:00 local comes while UTC is still on the day
# before, and the schedule's night must exist by then.
nightly_partitions = dg.DailyPartitionsDefinition(
    start_date="2026-01-01", end_offset=1, timezone=Settings.from_env().nightly_timezone
)

# Dagster retries a step that raised a transient error; configuration errors opt out.
api_retry_policy = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL)

BUSINESS_IDS_TAG = "competitor-insights/business_ids"
