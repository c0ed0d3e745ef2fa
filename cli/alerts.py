"""`competitor-insights alerts`: recent alerts, each with what became of its webhook message."""

from __future__ import annotations

from cli.errors import CommandError
from resources.request_store import RequestStore
from resources.settings import Settings


def _delivery(item, webhook: str) -> str:
    if item is None:
        return "not posted (ALERT_WEBHOOK_URL was not set)" if webhook == "off" else "not queued"
    if item.status == "delivered":
        return f"delivered {item.delivered_at:%Y-%m-%d %H:%M} UTC"
    if item.attempts == 0:
        return "queued, not sent yet"
    return (
        f"pending after {item.attempts} attempt(s): {item.last_error}; "
        f"next try {item.next_attempt_at:%H:%M:%S} UTC"
    )


def cmd_alerts(settings: Settings, args) -> int:
    from resources.warehouse import Warehouse
    from resources.webhook import deliver_due

    store = RequestStore.from_url(settings.request_store_url)
    if args.deliver:
        if not settings.alert_webhook_url:
            raise CommandError("ALERT_WEBHOOK_URL is not set: there is nowhere to deliver to")
        sent = deliver_due(store, settings.alert_webhook_url, budget_s=60.0)
        print(f"webhook: {sent.delivered} delivered, {sent.failed} still failing")
    warehouse = Warehouse.from_url(settings.warehouse_url)
    warehouse.migrate()
    where, params = ("WHERE night = ?", [args.night]) if args.night else ("", [])
    rows = warehouse.query(
        f"SELECT * FROM alerts {where} ORDER BY night DESC, created_at DESC, kind LIMIT ?",
        [*params, args.limit],
    )
    outbox = {item.id: item for item in store.outbox(limit=max(args.limit * 4, 500))}
    for row in rows:
        delivery = _delivery(outbox.get(row["alert_id"]), row["webhook"])
        print(f"{row['night']}  {row['kind']:<25} {row['message']}")
        print(f"            webhook: {delivery}")
    failures = [i for i in outbox.values() if i.kind == "run_failure"]
    for item in failures[:10]:
        print(
            f"run failure {item.payload.get('run_id')}: {item.payload.get('error')}\n"
            f"            webhook: {_delivery(item, 'queued')}"
        )
    if not rows and not failures:
        print("no alerts recorded" + (f" for {args.night}" if args.night else ""))
    return 0
