"""The alerts stage: compare tonight with each business's previous night, record what changed,
and queue it for the webhook."""

from __future__ import annotations

from collections import defaultdict

from insights.alerts import Alert, BusinessNight, Rival, detect
from workflows.night import Night, StageSummary, utc_now

# Per business, the latest night before tonight with a definite answer (found or not found).
_PREVIOUS = (
    "SELECT s.business_id, s.night, s.status FROM business_snapshots s JOIN ("
    "  SELECT business_id, max(night) AS night FROM business_snapshots"
    "  WHERE night < ? AND status IN ('ok', 'not_found') GROUP BY business_id"
    ") p ON s.business_id = p.business_id AND s.night = p.night WHERE {condition}"
)


def _names(ctx: Night) -> dict[str, str]:
    condition, ids = ctx.where_businesses()
    rows = ctx.warehouse.query(
        f"SELECT business_id, name, website, location FROM tracked_businesses WHERE {condition}",
        ids,
    )
    return {r["business_id"]: r["name"] or r["website"] or r["business_id"] for r in rows}


def _nights(ctx: Night, snapshots: list[dict], names: dict[str, str]) -> dict[str, BusinessNight]:
    """BusinessNight per business from snapshot rows (of one night each) and their sets."""
    by_night: dict = defaultdict(list)
    for row in snapshots:
        by_night[row["night"]].append(row["business_id"])
    rivals: dict[tuple, dict[str, Rival]] = defaultdict(dict)
    ranks: dict[tuple, dict] = {}
    for night, ids in by_night.items():
        marks = ", ".join("?" for _ in ids)
        for row in ctx.warehouse.query(
            "SELECT business_id, place_id, title, rating FROM competitor_sets "
            f"WHERE night = ? AND business_id IN ({marks})",
            [night, *ids],
        ):
            key = (night, row["business_id"])
            rivals[key][row["place_id"]] = Rival(row["place_id"], row["title"], row["rating"])
        for row in ctx.warehouse.query(
            "SELECT business_id, rank_in_set, ranked_count FROM comparison_metrics "
            f"WHERE night = ? AND business_id IN ({marks})",
            [night, *ids],
        ):
            ranks[(night, row["business_id"])] = row
    result = {}
    for row in snapshots:
        key = (row["night"], row["business_id"])
        rank = ranks.get(key, {})
        result[row["business_id"]] = BusinessNight(
            night=row["night"],
            business_id=row["business_id"],
            name=row.get("title") or names.get(row["business_id"], row["business_id"]),
            status=row["status"],
            error=row.get("error"),
            rank=rank.get("rank_in_set"),
            ranked_count=rank.get("ranked_count"),
            rivals=rivals.get(key, {}),
        )
    return result


def detect_alerts(ctx: Night, rating_step: float) -> list[Alert]:
    names = _names(ctx)
    tonight = _nights(ctx, ctx.rows("business_snapshots"), names)
    condition, ids = ctx.where_businesses("s.business_id")
    earlier = ctx.warehouse.query(_PREVIOUS.format(condition=condition), [ctx.night, *ids])
    before = _nights(ctx, earlier, names)
    found = []
    for business_id in sorted(tonight):
        found += detect(tonight[business_id], before.get(business_id), rating_step=rating_step)
    return found


def record_alerts(ctx: Night, alerts: list[Alert], webhook: str) -> int:
    """Store alerts not stored before; returns how many were new."""
    condition, ids = ctx.where_businesses()
    known = {
        r["alert_id"]
        for r in ctx.warehouse.query(
            f"SELECT alert_id FROM alerts WHERE night = ? AND {condition}", [ctx.night, *ids]
        )
    }
    now = utc_now()
    rows = [
        {
            "alert_id": a.alert_id, "night": a.night, "business_id": a.business_id,
            "kind": a.kind, "subject": a.subject, "message": a.message, "details": a.details,
            "webhook": webhook, "source": ctx.source, "run_id": ctx.run_id, "created_at": now,
        }
        for a in alerts
        if a.alert_id not in known
    ]  # fmt: skip
    if rows:
        # An upsert, not an insert: two runs of one night at once must not collide on the key.
        ctx.warehouse.upsert("alerts", rows, key=["alert_id"])
    return len(rows)


def alerts(ctx: Night, rating_step: float, enqueue=None) -> StageSummary:
    """Detect and record tonight's alerts; `enqueue(alert)` queues one for the webhook."""
    found = detect_alerts(ctx, rating_step)
    new = record_alerts(ctx, found, "queued" if enqueue else "off")
    if enqueue is not None:
        for alert in found:
            enqueue(alert)
    counts = {"alerts": len(found), "new_alerts": new}
    for alert in found:
        counts[alert.kind] = counts.get(alert.kind, 0) + 1
    return StageSummary(counts, preview=_preview(found))


def _preview(found: list[Alert], limit: int = 30) -> str:
    if not found:
        return "_no material changes tonight_"
    lines = ["| kind | alert |", "|---|---|"]
    for alert in found[:limit]:
        lines.append(f"| {alert.kind} | {alert.message.replace('|', '/')} |")
    if len(found) > limit:
        lines.append(f"| … | and {len(found) - limit} more |")
    return "\n".join(lines)
