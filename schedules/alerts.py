"""Sensors that keep people told: failed runs to the webhook, and retries of what it missed.

Both read and write only the request store and the webhook, never the warehouse.
"""

from __future__ import annotations

import dagster as dg

from resources.dagster_requests import AlertsResource, RequestStoreResource
from resources.request_store import utc_now
from resources.webhook import deliver_due
from workflows.requests import REQUEST_ID_TAG


def run_failure_text(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """Why a run failed, in one line: the failed blocking check, else the first step's error."""
    checks, steps = [], []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                checks.append(f"check {evaluation.check_name} failed: {evaluation.description}")
        elif event.is_step_failure and event.step_failure_data.error is not None:
            error = event.step_failure_data.error
            # Dagster wraps user errors; a dg.Failure's own message is the description we wrote.
            wrapped = error.cause is not None and "Failure" not in error.cls_name
            text = (error.cause if wrapped else error).message.strip()
            # "dagster._core.definitions.events.Failure: <our sentence>": keep the sentence.
            if not wrapped and text.startswith("dagster.") and ": " in text:
                text = text.split(": ", 1)[1]
            steps.append(f"step {event.step_key} failed: {' '.join(text.split())[:500]}")
    found = checks or steps
    return found[0] if found else None


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts each failed run to ALERT_WEBHOOK_URL and marks its request failed.",
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext,
    alerting: AlertsResource,
    request_store: RequestStoreResource,
) -> None:
    run = context.dagster_run
    error = run_failure_text(context.instance, run.run_id) or context.failure_event.message
    store = request_store.open()
    request_id = run.tags.get(REQUEST_ID_TAG)
    if request_id:
        store.finish(request_id, "failed", run_id=run.run_id, error=error)
    if not alerting.webhook_url:
        return
    # Queued before the first attempt: a receiver that is down gets it later, from the outbox.
    store.enqueue(
        f"run-failure-{run.run_id}",
        "run_failure",
        {
            "type": "run_failure",
            "id": f"run-failure-{run.run_id}",
            "run_id": run.run_id,
            "job": run.job_name,
            "partition": run.tags.get("dagster/partition"),
            "request_id": request_id,
            "error": error,
            "failed_at": utc_now().isoformat(),
        },
    )
    deliver_due(store, alerting.webhook_url, budget_s=10.0, log=context.log)


@dg.sensor(
    name="alert_delivery_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retries webhook messages the receiver has not taken yet, with growing pauses.",
)
def alert_delivery_sensor(
    context: dg.SensorEvaluationContext,
    alerting: AlertsResource,
    request_store: RequestStoreResource,
) -> dg.SkipReason:
    if not alerting.webhook_url:
        return dg.SkipReason("ALERT_WEBHOOK_URL is not set")
    sent = deliver_due(request_store.open(), alerting.webhook_url, budget_s=20.0, log=context.log)
    return dg.SkipReason(f"webhook: {sent.delivered} delivered, {sent.failed} still failing")
