"""Markdown rendering of a report, for the terminal, files and the Dagster UI."""

from __future__ import annotations

from insights.metrics import Metrics
from insights.report import Report


def _value(value: float | str | None, *, share: bool = False, rating: bool = False) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, str):
        return value
    if share:
        return f"{value:.0%}"
    if rating:
        return f"{value:.1f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def render_markdown(report: Report, metrics: Metrics, competitors: list[dict]) -> str:
    if report.writer == "llm":
        author = f"written by {report.model} (prompt {report.prompt_version})"
    else:
        author = "written by rules from the metrics (no LLM)"
        if report.fallback_reason:
            author += f"; LLM fallback: {report.fallback_reason}"
    lines = [
        f"# {report.business_name}: competitor report for {report.night.isoformat()}",
        "",
        f"_{author}_",
        "",
        report.summary,
        "",
        "| metric | this business | competitors |",
        "|---|---|---|",
        f"| rating | {_value(metrics.rating, rating=True)} | "
        f"{_value(metrics.set_mean_rating)} (mean) |",
        f"| reviews | {_value(metrics.review_count)} | "
        f"{_value(metrics.set_median_review_count)} (median) |",
        f"| rating adjusted for reviews | {_value(metrics.adjusted_rating)} | "
        f"rank {_value(metrics.rank_in_set)} of {metrics.ranked_count} |",
        f"| profile completeness | {_value(metrics.completeness, share=True)} of "
        f"{len(metrics.completeness_observable)} observable fields | "
        f"{_value(metrics.set_completeness_mean, share=True)} (mean) |",
    ]
    if metrics.previous_night is not None:
        lines.append(
            f"| since {metrics.previous_night.isoformat()} | rating change "
            f"{_value(metrics.rating_change)}, new reviews {_value(metrics.new_reviews)} | |"
        )
    for title, items in (("Strengths", report.strengths), ("Gaps", report.gaps)):
        lines += ["", f"## {title}", ""]
        lines += [f"- {item}" for item in items] or ["- none measured"]
    lines += ["", "## Suggestions", ""]
    # Numbered in order, whatever priorities the writer gave (an LLM may repeat one).
    for number, s in enumerate(report.suggestions, start=1):
        share = s.competitor_basis.startswith("share")
        lines.append(
            f"{number}. **{s.action}** (moves `{s.metric}`: you {_value(s.business_value)}, "
            f"{s.competitor_basis} {_value(s.competitor_value, share=share)}). {s.rationale}"
        )
    lines += ["", "## Competitors", "", "| # | name | rating | reviews | distance | why |"]
    lines.append("|---|---|---|---|---|---|")
    for c in competitors:
        distance = "unknown" if c.get("distance_km") is None else f"{c['distance_km']:.1f} km"
        name = str(c.get("title", "")).replace("|", "\\|")
        if c.get("address"):
            # Branches of a chain share a title; the street tells them apart.
            street = str(c["address"]).split(",")[0].replace("|", "\\|")
            name = f"{name} ({street})"
        lines.append(
            f"| {c.get('rank')} | {name} | {_value(c.get('rating'), rating=True)} | "
            f"{_value(c.get('review_count'))} | {distance} | {'; '.join(c.get('reasons', []))} |"
        )
    return "\n".join(lines) + "\n"
