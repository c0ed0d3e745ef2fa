"""Jobs over the nightly assets."""

import dagster as dg

# In-process: the fan-out happens with async calls inside each step, so separate processes
# per step would only add two seconds of start-up each and split the shared rate limiter.
nightly_refresh_job = dg.define_asset_job(
    "nightly_refresh_job",
    selection=dg.AssetSelection.groups("nightly"),
    executor_def=dg.in_process_executor,
    description=(
        "Refresh every tracked business: profiles, competitors, metrics, reports and alerts."
    ),
)
