"""The report stage: one report per business, written only when its inputs changed.

A report's inputs are the metrics, the competitors' figures, the prompt version and the
model; their hash finds a stored report that can be reused without calling the LLM.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from insights.competitors import Competitor
from insights.metrics import Metrics
from insights.rendering import render_markdown
from insights.report import Report, attach_figures, inputs_hash, report_input
from workflows.fanout import fan_out
from workflows.night import Night, StageSummary, spend_figures, utc_now
from workflows.rows import decode_json
from workflows.stages import competitors_by_business

# Public text can be long and can try to steer the model; it enters the prompt trimmed.
MAX_FREE_TEXT = 400


def _trim(text: str | None) -> str | None:
    return None if text is None else text[:MAX_FREE_TEXT]


def _metrics_from_row(row: dict) -> Metrics:
    values = decode_json(row["metrics_json"]) or {}
    for key in ("previous_night",):
        if values.get(key):
            values[key] = row[key]
    return Metrics(**values)


def _document(snapshot: dict, metrics: Metrics, competitors: list[Competitor]) -> dict:
    business = {
        "name": snapshot.get("title"),
        "category": snapshot.get("category"),
        "address": snapshot.get("address"),
        "website": snapshot.get("website"),
        "description": _trim(snapshot.get("description")),
    }
    rivals = [
        {
            "rank": c.rank,
            "title": c.place.title,
            "address": c.place.address,
            "category": c.place.category,
            "rating": c.place.rating,
            "review_count": c.place.review_count,
            "distance_km": c.distance_km,
            "reasons": list(c.reasons),
            "description": _trim(c.place.description),
        }
        for c in competitors
    ]
    return report_input(business, metrics, rivals)


def slug(text: str) -> str:
    cleaned = re.sub(r"[^\w]+", "-", text.casefold(), flags=re.UNICODE).strip("-")
    return cleaned[:60] or "business"


def reports(ctx: Night, run_llm: Callable, reports_dir: Path | None) -> StageSummary:
    metric_rows = ctx.rows("comparison_metrics", "status = 'ok'")
    snapshots = {s["business_id"]: s for s in ctx.rows("business_snapshots", "status = 'ok'")}
    competitors = competitors_by_business(ctx)
    jobs = []
    for row in metric_rows:
        business_id = row["business_id"]
        metrics = _metrics_from_row(row)
        snapshot = snapshots[business_id]
        document = _document(snapshot, metrics, competitors.get(business_id, []))
        jobs.append((business_id, snapshot.get("title") or business_id, metrics, document))

    async def work(writer):
        version, model = writer.prompt_version or "rules", writer.model
        hashes = {job[0]: inputs_hash(job[3], version, model) for job in jobs}
        stored = _reusable(ctx, list(hashes.values()), "llm" if model else "deterministic")

        async def one(job):
            business_id, name, metrics, document = job
            digest = hashes[business_id]
            if digest in stored:
                return business_id, digest, stored[digest], True
            draft = await writer.write(name, document, metrics)
            return business_id, digest, draft, False

        return await fan_out(jobs, one, log=ctx.log, label="reports")

    results, usage = ctx.metered("reports", "llm", run_llm, work)
    rows, markdown_by_business = [], {}
    created_at = utc_now()
    jobs_by_id = {job[0]: job for job in jobs}
    for business_id, digest, produced, reused in results:
        _, name, metrics, document = jobs_by_id[business_id]
        if reused:
            report = Report.model_validate({**produced, "night": ctx.night})
            tokens_in = tokens_out = 0
            cost = 0.0
        else:
            report = attach_figures(
                produced.draft,
                metrics,
                business_name=name,
                night=ctx.night,
                writer=produced.writer,
                model=produced.model,
                prompt_version=produced.prompt_version,
                fallback_reason=produced.fallback_reason,
            )
            tokens_in, tokens_out, cost = (
                produced.input_tokens,
                produced.output_tokens,
                produced.cost_usd,
            )
        markdown = render_markdown(report, metrics, document["competitors"])
        markdown_by_business[business_id] = (name, markdown)
        rows.append(
            {
                "night": ctx.night,
                "business_id": business_id,
                "status": "ok",
                "inputs_hash": digest,
                "writer": report.writer,
                "model": report.model,
                "prompt_version": report.prompt_version,
                "report_json": report.model_dump(mode="json"),
                "markdown": markdown,
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "cost_usd": cost,
                "fallback_reason": report.fallback_reason,
                "reused": reused,
                "source": ctx.source,
                "run_id": ctx.run_id,
                "created_at": created_at,
            }
        )
    ctx.replace("reports", rows)
    fallbacks = [r for r in rows if r["fallback_reason"]]
    if fallbacks:
        # Otherwise an LLM that is down would only show in italics inside each report.
        ctx.log.warning(
            "%d of %d reports were written by rules instead of the LLM: %s",
            len(fallbacks),
            len(rows),
            fallbacks[0]["fallback_reason"],
        )
    if reports_dir is not None:
        write_markdown_files(reports_dir / ctx.night.isoformat(), markdown_by_business)
    counts = {
        "reports": len(rows),
        "reused": sum(1 for r in rows if r["reused"]),
        "by_llm": sum(1 for r in rows if r["writer"] == "llm" and not r["reused"]),
        "rule_written": sum(1 for r in rows if r["writer"] == "deterministic" and not r["reused"]),
        "llm_fallbacks": sum(1 for r in rows if r["fallback_reason"]),
    }
    preview = next(iter(markdown_by_business.values()), ("", "_no report tonight_"))[1]
    return StageSummary(counts, spend_figures("llm", usage), preview=preview)


def _reusable(ctx: Night, hashes: list[str], writer: str) -> dict[str, dict]:
    """Stored reports by input hash, written by the writer we would use now.

    A rule-written fallback is not reused when an LLM is configured: the LLM gets another try.
    """
    if not hashes:
        return {}
    found: dict[str, dict] = {}
    # Chunked so that a thousand businesses never make one statement with too many parameters.
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in ctx.warehouse.query(
            f"SELECT inputs_hash, report_json FROM reports WHERE inputs_hash IN ({marks}) "
            "AND status = 'ok' AND writer = ? AND fallback_reason IS NULL",
            [*chunk, writer],
        ):
            found[row["inputs_hash"]] = decode_json(row["report_json"])
    return found


def write_markdown_files(folder: Path, reports_by_business: dict[str, tuple[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for business_id, (name, markdown) in reports_by_business.items():
        (folder / f"{slug(name)}-{business_id[:6]}.md").write_text(markdown, encoding="utf-8")


def latest_report(warehouse: Any, business_id: str) -> dict | None:
    rows = warehouse.query(
        "SELECT * FROM reports WHERE business_id = ? ORDER BY night DESC, created_at DESC LIMIT 1",
        [business_id],
    )
    return rows[0] if rows else None
