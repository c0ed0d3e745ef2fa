"""Data-quality checks of a night, free of Dagster: each reads one stage's rows and judges them.

A check fails "hard" when the night as a whole is unusable (downstream stages should not build
on it) and "soft" when what it found is worth a look but no reason to hold back any report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from insights.report import Report
from workflows.night import Night
from workflows.rows import decode_json

PASS, SOFT, HARD = "pass", "soft", "hard"

# (low, high) per metric column; None is always allowed (unknown stays unknown).
METRIC_RANGES = {
    "rating": (1.0, 5.0),
    "adjusted_rating": (1.0, 5.0),
    "set_mean_rating": (1.0, 5.0),
    "implied_new_rating": (1.0, 5.0),
    "rating_change": (-4.0, 4.0),
    "review_count": (0, None),
    "new_reviews": (0, None),
    "reviews_removed": (0, None),
    "set_size": (0, None),
    "ranked_count": (0, None),
    "percentile": (0.0, 100.0),
    "completeness": (0.0, 1.0),
    "nearest_competitor_km": (0.0, None),
    "mean_competitor_km": (0.0, None),
}


@dataclass
class Verdict:
    level: str  # PASS, SOFT or HARD
    description: str
    figures: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def failed_lookups(ctx: Night, max_share: float) -> Verdict:
    rows = ctx.rows("business_snapshots")
    errors = [r for r in rows if r["status"] == "error"]
    share = len(errors) / len(rows) if rows else 0.0
    figures = {"lookups": len(rows), "failed": len(errors), "failed_share": round(share, 3)}
    problems = [f"{r['business_id']}: {r['error']}" for r in errors]
    # Not found is an answer about the business; only failed searches say the night is broken.
    if share > max_share:
        return Verdict(
            HARD,
            f"{ctx.night}: {len(errors)} of {len(rows)} look-ups failed ({share:.0%}), more "
            f"than the {max_share:.0%} allowed (CHECK_MAX_FAILED_LOOKUP_SHARE); first: "
            f"{problems[0]}",
            figures,
            problems,
        )
    return Verdict(PASS, f"{ctx.night}: {len(errors)} of {len(rows)} look-ups failed", figures)


def competitor_sets(ctx: Night) -> Verdict:
    found = {r["business_id"] for r in ctx.rows("business_snapshots", "status = 'ok'")}
    with_set = {r["business_id"] for r in ctx.rows("competitor_sets")}
    empty = sorted(found - with_set)
    reasons = {
        r["business_id"]: r["error"]
        for r in ctx.rows("stage_failures", "stage = 'competitor_sets'")
    }
    problems = [f"{b}: {reasons.get(b, 'no competitors chosen')}" for b in empty]
    figures = {"businesses_found": len(found), "empty_sets": len(empty)}
    if not empty:
        return Verdict(PASS, f"{ctx.night}: all {len(found)} sets have competitors", figures)
    # Soft even when every set is empty: a business without a category or without rivals
    # nearby is a fact about it, and the metrics stage already leaves such businesses out.
    return Verdict(
        SOFT,
        f"{ctx.night}: {len(empty)} of {len(found)} businesses found have no competitor "
        f"(first: {problems[0]})",
        figures,
        problems,
    )


def metric_ranges(ctx: Night) -> Verdict:
    rows = ctx.rows("comparison_metrics")
    problems = []
    for row in rows:
        for column, (low, high) in METRIC_RANGES.items():
            value = row.get(column)
            if value is None:
                continue
            if (low is not None and value < low) or (high is not None and value > high):
                problems.append(f"{row['business_id']}: {column}={value} outside {low}..{high}")
        rank, ranked = row.get("rank_in_set"), row.get("ranked_count")
        if rank is not None and not 1 <= rank <= (ranked or 0):
            problems.append(f"{row['business_id']}: rank_in_set={rank} of {ranked}")
    figures = {"businesses": len(rows), "out_of_range": len(problems)}
    if problems:
        return Verdict(
            HARD, f"{ctx.night}: {len(problems)} metric values out of range", figures, problems
        )
    return Verdict(PASS, f"{ctx.night}: {len(rows)} businesses' metrics in range", figures)


def report_schema(ctx: Night) -> Verdict:
    rows = ctx.rows("reports")
    problems = []
    for row in rows:
        try:
            Report.model_validate(decode_json(row["report_json"]) or {})
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            problems.append(f"{row['business_id']}: {where}: {first['msg']}")
            continue
        if not (row.get("markdown") or "").startswith("# "):
            problems.append(f"{row['business_id']}: the Markdown has no title")
    figures = {"reports": len(rows), "invalid": len(problems)}
    if problems:
        return Verdict(
            SOFT, f"{ctx.night}: {len(problems)} of {len(rows)} reports invalid", figures, problems
        )
    return Verdict(PASS, f"{ctx.night}: all {len(rows)} reports match the schema", figures)


def combine(verdicts: list[Verdict]) -> Verdict:
    """One verdict for a run of several nights: the worst level, every night's figures."""
    order = [PASS, SOFT, HARD]
    worst = max(verdicts, key=lambda v: order.index(v.level), default=Verdict(PASS, "no nights"))
    figures: dict = {}
    for verdict in verdicts:
        for key, value in verdict.figures.items():
            if isinstance(value, int):
                figures[key] = figures.get(key, 0) + value
            else:
                figures[key] = max(figures.get(key, value), value)
    problems = [p for v in verdicts for p in v.problems]
    return Verdict(worst.level, worst.description, figures, problems)
