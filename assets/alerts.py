"""The alerts asset: material changes of the night, recorded and posted to the webhook.

It is the last step of every run of the nightly job, so an on-demand comparison records its
outcome here instead: the request is done once its report is stored.
"""

from datetime import date

import dagster as dg

from assets.nightly import _each_night, _result, reports
from assets.partitions import nightly_partitions
from resources.dagster_requests import AlertsResource, RequestStoreResource
from resources.request_store import RequestStore
from resources.warehouse import WarehouseResource
from resources.webhook import deliver_due
from workflows import alerts as alert_stage
from workflows import requests
from workflows.requests import REQUEST_ID_TAG


def _enqueuer(store: RequestStore, log):
    def enqueue(alert) -> None:
        try:
            store.enqueue(alert.alert_id, "alert", alert.payload())
        except Exception as error:  # noqa: BLE001 - the row is in the warehouse; never fail the night
            log.error(f"could not queue alert {alert.alert_id} for the webhook: {error}")

    return enqueue


@dg.asset(
    partitions_def=nightly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="nightly",
    deps=[reports],
    kinds={"python"},
)
def alerts(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    alerting: AlertsResource,
    request_store: RequestStoreResource,
) -> dg.MaterializeResult:
    """Competitors' rating moves, competitors entering or leaving a set, rank drops and
    businesses no longer found, compared with each business's previous night."""
    store = request_store.open()
    request_id = context.run.tags.get(REQUEST_ID_TAG)
    if request_id:
        # An on-demand comparison: no history to compare, and its outcome is what matters.
        night = date.fromisoformat(context.partition_keys[-1])
        status = requests.finish(store, warehouse.open(), request_id, night, context.run.run_id)
        context.log.info(f"comparison request {request_id}: {status}")
        return dg.MaterializeResult(metadata={"request": request_id, "request_status": status})

    url = alerting.webhook_url
    enqueue = _enqueuer(store, context.log) if url else None
    summaries = _each_night(
        context, warehouse, lambda ctx: alert_stage.alerts(ctx, alerting.rating_step, enqueue)
    )
    result = _result(summaries, "changes")
    if len(summaries) > 1:
        # A run of several nights shows every night's changes, not only the last night's.
        changes = "\n\n".join(
            f"**{night}**\n\n{summaries[night].preview}" for night in sorted(summaries)
        )
        result = dg.MaterializeResult(
            metadata={**result.metadata, "changes": dg.MetadataValue.md(changes)}
        )
    if url:
        # The run tries once, briefly; what the receiver does not take now, the delivery sensor
        # keeps retrying. A failure here is logged and never fails the night.
        try:
            sent = deliver_due(store, url, budget_s=30.0, log=context.log)
        except Exception as error:  # noqa: BLE001 - delivery problems never fail the pipeline
            context.log.error(f"webhook delivery failed: {error}")
        else:
            figures = {"webhook_delivered": sent.delivered, "webhook_failed": sent.failed}
            result = dg.MaterializeResult(metadata={**result.metadata, **figures})
    return result
