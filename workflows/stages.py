"""The four stages of a night: profiles, competitor sets, metrics, reports.

Each reads its inputs from the warehouse, writes its outputs back for exactly this night and
these businesses (so running it again replaces rather than duplicates), and returns a summary.
A failure of one business is a row with its reason; only errors that hit every business raise.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from insights.competitors import Competitor
from insights.metrics import PreviousSnapshot, compute_metrics
from workflows.competitor_search import find_competitors
from workflows.fanout import fan_out
from workflows.night import Night, StageSummary, spend_figures, utc_now
from workflows.profiles import fetch_profile
from workflows.rows import place_columns, place_from_row

RunSerper = Callable[[Callable], Any]


def tracked_businesses(ctx: Night) -> list[dict]:
    condition, ids = ctx.where_businesses()
    active = "active" if ctx.business_ids is None else "TRUE"
    return ctx.warehouse.query(
        f"SELECT * FROM tracked_businesses WHERE {active} AND {condition} ORDER BY business_id",
        ids,
    )


def business_profiles(ctx: Night, run_serper: RunSerper) -> StageSummary:
    businesses = tracked_businesses(ctx)
    ctx.log.info("Refreshing %d business profiles for %s", len(businesses), ctx.night)

    outcomes, usage = ctx.metered(
        "business_profiles",
        "serper",
        run_serper,
        lambda serper: fan_out(
            businesses, lambda b: fetch_profile(serper, b), log=ctx.log, label="profiles"
        ),
    )
    fetched_at = utc_now()
    rows, resolved = [], []
    for business, outcome in zip(businesses, outcomes, strict=True):
        row = {
            "night": ctx.night,
            "business_id": business["business_id"],
            "status": outcome.status,
            "error": outcome.error,
            "source": ctx.source,
            "run_id": ctx.run_id,
            "fetched_at": fetched_at,
        }
        place = outcome.place
        if place is not None:
            row.update(place_columns(place), fid=place.fid, thumbnail_url=place.thumbnail_url)
            if (place.place_id, place.cid) != (business.get("place_id"), business.get("cid")):
                resolved.append(
                    {
                        **business,
                        "place_id": place.place_id,
                        "cid": place.cid,
                        "updated_at": fetched_at,
                    }
                )
        rows.append(row)
    ctx.replace("business_snapshots", rows)
    if resolved:
        # From now on the business is followed by its place id, never by its name.
        ctx.warehouse.upsert("tracked_businesses", resolved, key=["business_id"])
    failures = {o.business_id: o.error for o in outcomes if o.status != "ok"}
    ctx.record_failures("business_profiles", failures)
    counts = {
        "businesses": len(rows),
        "found": sum(1 for o in outcomes if o.status == "ok"),
        "not_found": sum(1 for o in outcomes if o.status == "not_found"),
        "errors": sum(1 for o in outcomes if o.status == "error"),
        "newly_identified": len(resolved),
    }
    return StageSummary(counts, spend_figures("serper", usage), failures, _profiles_preview(rows))


def competitor_sets(ctx: Night, run_serper: RunSerper, *, results: int, top_k: int) -> StageSummary:
    snapshots = ctx.rows("business_snapshots", "status = 'ok'")
    locales = {
        b["business_id"]: {"gl": b.get("gl"), "hl": b.get("hl")} for b in tracked_businesses(ctx)
    }
    ctx.log.info("Choosing competitors for %d businesses", len(snapshots))

    def work(serper):
        def one(snapshot):
            return find_competitors(
                serper,
                snapshot["business_id"],
                place_from_row(snapshot),
                locale=locales.get(snapshot["business_id"], {}),
                results=results,
                top_k=top_k,
            )

        return fan_out(snapshots, one, log=ctx.log, label="competitor sets")

    outcomes, usage = ctx.metered("competitor_sets", "serper", run_serper, work)
    rows = [
        _competitor_row(ctx, outcome.business_id, competitor)
        for outcome in outcomes
        for competitor in outcome.competitors
    ]
    ctx.replace("competitor_sets", rows)
    failures = {o.business_id: o.error for o in outcomes if o.error}
    ctx.record_failures("competitor_sets", failures)
    counts = {
        "businesses": len(snapshots),
        "with_competitors": sum(1 for o in outcomes if o.competitors),
        "competitors": len(rows),
        "failed": len(failures),
    }
    return StageSummary(counts, spend_figures("serper", usage), failures, _sets_preview(rows))


def _competitor_row(ctx: Night, business_id: str, competitor: Competitor) -> dict:
    return {
        "night": ctx.night,
        "business_id": business_id,
        "rank": competitor.rank,
        **place_columns(competitor.place),
        "distance_km": competitor.distance_km,
        "score": competitor.score,
        "reasons": list(competitor.reasons),
        "source": ctx.source,
        "run_id": ctx.run_id,
    }


def competitors_by_business(ctx: Night) -> dict[str, list[Competitor]]:
    grouped: dict[str, list[Competitor]] = defaultdict(list)
    for row in sorted(ctx.rows("competitor_sets"), key=lambda r: (r["business_id"], r["rank"])):
        grouped[row["business_id"]].append(
            Competitor(
                place=place_from_row(row),
                rank=row["rank"],
                score=row["score"],
                distance_km=row["distance_km"],
                category_overlap=0.0,
                reasons=tuple(json.loads(row["reasons"] or "[]")),
            )
        )
    return grouped


def previous_snapshots(ctx: Night) -> dict[str, PreviousSnapshot]:
    """Each business's latest good snapshot before tonight: what 'change since' compares to."""
    condition, ids = ctx.where_businesses("s.business_id")
    rows = ctx.warehouse.query(
        "SELECT s.business_id, s.night, s.place_id, s.rating, s.review_count "
        "FROM business_snapshots s JOIN ("
        "  SELECT business_id, max(night) AS night FROM business_snapshots"
        "  WHERE night < ? AND status = 'ok' GROUP BY business_id"
        f") latest ON s.business_id = latest.business_id AND s.night = latest.night "
        f"WHERE {condition}",
        [ctx.night, *ids],
    )
    return {
        r["business_id"]: (
            r["place_id"],
            PreviousSnapshot(r["night"], r["rating"], r["review_count"]),
        )
        for r in rows
    }


def comparison_metrics(ctx: Night) -> StageSummary:
    snapshots = ctx.rows("business_snapshots", "status = 'ok'")
    competitors = competitors_by_business(ctx)
    previous = previous_snapshots(ctx)
    rows = []
    for snapshot in snapshots:
        business_id = snapshot["business_id"]
        place = place_from_row(snapshot)
        earlier = previous.get(business_id)
        # History only counts when it is the same place; a re-identified business starts over.
        before = earlier[1] if earlier and earlier[0] == place.place_id else None
        rivals = competitors.get(business_id, [])
        metrics = compute_metrics(place, rivals, before)
        values = metrics.as_dict()
        rows.append(
            {
                "night": ctx.night,
                "business_id": business_id,
                "place_id": place.place_id,
                "status": "ok" if rivals else "no_competitors",
                **{k: v for k, v in values.items() if k not in _METRICS_JSON_ONLY},
                # Dates inside become ISO text; the report stage reads them back from columns.
                "metrics_json": json.dumps(values, default=str, sort_keys=True),
                "source": ctx.source,
                "run_id": ctx.run_id,
            }
        )
    ctx.replace("comparison_metrics", rows)
    counts = {
        "businesses": len(rows),
        "with_competitors": sum(1 for r in rows if r["status"] == "ok"),
        "with_history": sum(1 for r in rows if r["previous_night"] is not None),
    }
    return StageSummary(counts, preview=_metrics_preview(rows, snapshots))


# Metrics kept only inside `metrics_json`, having no column of their own.
_METRICS_JSON_ONLY = {"set_completeness_mean", "rival_field_share"}


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _profiles_preview(rows: list[dict], limit: int = 25) -> str:
    lines = ["| business | status | rating | reviews | category |", "|---|---|---|---|---|"]
    for row in rows[:limit]:
        name = (row.get("title") or row["business_id"]).replace("|", "\\|")
        lines.append(
            f"| {name} | {row['status']} | {_fmt(row.get('rating'), 1)} | "
            f"{_fmt(row.get('review_count'))} | {row.get('category') or '–'} |"
        )
    if len(rows) > limit:
        lines.append(f"| … and {len(rows) - limit} more | | | | |")
    return "\n".join(lines)


def _sets_preview(rows: list[dict], limit: int = 25) -> str:
    by_business: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_business[row["business_id"]].append(str(row["title"]).replace("|", "/"))
    lines = ["| business id | competitors, nearest-ranked first |", "|---|---|"]
    for business_id, titles in list(by_business.items())[:limit]:
        lines.append(f"| `{business_id}` | {', '.join(titles)} |")
    return "\n".join(lines)


def _metrics_preview(rows: list[dict], snapshots: list[dict], limit: int = 25) -> str:
    names = {s["business_id"]: s.get("title") or s["business_id"] for s in snapshots}
    lines = [
        "| business | rating | set mean | reviews | adjusted | rank | completeness | new reviews |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows[:limit]:
        rank = f"{r['rank_in_set']} of {r['ranked_count']}" if r["rank_in_set"] else "–"
        lines.append(
            f"| {names[r['business_id']].replace('|', '/')} | {_fmt(r['rating'], 1)} | "
            f"{_fmt(r['set_mean_rating'])} | {_fmt(r['review_count'])} | "
            f"{_fmt(r['adjusted_rating'])} | {rank} | {_fmt(r['completeness'])} | "
            f"{_fmt(r['new_reviews'])} |"
        )
    if len(rows) > limit:
        lines.append(f"| … and {len(rows) - limit} more | | | | | | | |")
    return "\n".join(lines)
