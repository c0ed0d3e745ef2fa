"""The sensor that turns each comparison request into exactly one run of the nightly job.

It reads only the request store (never the warehouse, whose file lock it must not wait on).
The cursor is the sequence number of the last request handed to Dagster, and each run's key is
its request id: a tick evaluated twice, or again after a restart, asks for the same runs, and
Dagster launches a run key only once.
"""

from __future__ import annotations

import dagster as dg

from assets.partitions import BUSINESS_IDS_TAG, nightly_partitions
from pipelines.jobs import nightly_refresh_job
from resources.dagster_requests import RequestStoreResource
from resources.request_store import FINAL_STATUSES, Request
from workflows.requests import REQUEST_ID_TAG, REQUEST_LABEL_TAG

# Requests handed over per tick; a larger burst continues on the next tick, in order.
BATCH = 100


def request_tags(request: Request) -> dict[str, str]:
    return {
        REQUEST_ID_TAG: request.id,
        BUSINESS_IDS_TAG: request.business_id,
        REQUEST_LABEL_TAG: request.business.label[:200],
    }


@dg.sensor(
    name="comparison_request_sensor",
    job=nightly_refresh_job,
    # The daemon looks at sensors every few seconds at most; asking for 2 s keeps this one first
    # in line, since a person is waiting for the answer.
    minimum_interval_seconds=2,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the nightly job for one business per `competitor-insights request`.",
)
def comparison_request_sensor(
    context: dg.SensorEvaluationContext, request_store: RequestStoreResource
) -> dg.SensorResult | dg.SkipReason:
    store = request_store.open()
    batch = store.after(int(context.cursor or 0), limit=BATCH)
    if not batch:
        return dg.SkipReason("no new comparison requests")
    run_requests = []
    for request in batch:
        if request.status in FINAL_STATUSES:
            # Finished already: only possible when this Dagster instance is newer than the store.
            continue
        night = request.night.isoformat()
        if not nightly_partitions.has_partition_key(night):
            store.finish(
                request.id,
                "failed",
                run_id="",
                error=f"night {night} is not a nightly partition (NIGHTLY_TIMEZONE changed?)",
            )
            continue
        run_requests.append(
            dg.RunRequest(run_key=request.id, partition_key=night, tags=request_tags(request))
        )
    return dg.SensorResult(run_requests=run_requests, cursor=str(batch[-1].seq))
