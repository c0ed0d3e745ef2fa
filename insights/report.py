"""Report content: the structured report, the deterministic writer, and the Markdown rendering.

An LLM writes the prose when one is configured; the figures in every suggestion always come
from our metrics, never from the model, so a report cannot misquote a number.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from insights.metrics import Metrics

MetricName = Literal[
    "rating", "review_count", "adjusted_rating", "new_reviews", "completeness",
    "website", "phone", "hours", "price", "categories", "description",
]  # fmt: skip
FIELD_METRICS = ("website", "phone", "hours", "price", "categories", "description")

_STRICT = ConfigDict(extra="forbid")


class DraftSuggestion(BaseModel):
    """A suggestion as the writer proposes it, before figures are attached."""

    model_config = _STRICT
    priority: int = Field(ge=1, le=20)
    action: str = Field(min_length=3, max_length=600)
    rationale: str = Field(min_length=3, max_length=1200)
    metric: MetricName


class DraftReport(BaseModel):
    """What an LLM must return: the schema sent as `response_format` and validated locally."""

    model_config = _STRICT
    summary: str = Field(min_length=10, max_length=2000)
    strengths: list[str] = Field(max_length=10)
    gaps: list[str] = Field(max_length=10)
    suggestions: list[DraftSuggestion] = Field(min_length=1, max_length=10)


class Suggestion(DraftSuggestion):
    business_value: float | str | None
    competitor_value: float | str | None
    competitor_basis: str


class Report(BaseModel):
    business_name: str
    night: date
    writer: Literal["llm", "deterministic"]
    model: str | None
    prompt_version: str | None
    summary: str
    strengths: list[str]
    gaps: list[str]
    suggestions: list[Suggestion]
    fallback_reason: str | None = None


_UNSUPPORTED_KEYWORDS = ("minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems")


def draft_json_schema() -> dict:
    """The DraftReport schema in the strict form OpenAI-compatible servers accept."""
    schema = DraftReport.model_json_schema()

    def close(node: dict) -> None:
        # Length and range bounds are checked locally by pydantic; several strict-mode servers
        # reject schemas that carry them.
        for keyword in _UNSUPPORTED_KEYWORDS:
            node.pop(keyword, None)
        if node.get("type") == "object":
            node["additionalProperties"] = False
            node["required"] = list(node.get("properties", {}))
        for child in [*node.get("properties", {}).values(), *node.get("$defs", {}).values()]:
            close(child)
        if isinstance(node.get("items"), dict):
            close(node["items"])

    close(schema)
    return schema


def report_input(business: dict, metrics: Metrics, competitors: list[dict]) -> dict:
    """The document a report is written from; its hash decides when to write a new one."""
    return {
        "business": business,
        "metrics": metrics.as_dict(),
        "competitors": competitors,
    }


def inputs_hash(document: dict, prompt_version: str, model: str | None) -> str:
    canonical = json.dumps(
        {"input": document, "prompt_version": prompt_version, "model": model},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def metric_values(metric: str, m: Metrics) -> tuple[float | str | None, float | str | None, str]:
    """(business value, competitor value, what the competitor value is) for one metric."""
    if metric == "rating":
        return m.rating, m.set_mean_rating, "competitors' mean rating"
    if metric == "review_count":
        return m.review_count, m.set_median_review_count, "competitors' median review count"
    if metric == "adjusted_rating":
        return m.adjusted_rating, m.set_mean_rating, "competitors' mean rating (the prior)"
    if metric == "new_reviews":
        return m.new_reviews, None, "not tracked for competitors"
    if metric == "completeness":
        return m.completeness, m.set_completeness_mean, "competitors' mean completeness"
    if metric in FIELD_METRICS:
        if metric not in m.completeness_observable:
            return None, None, "not shown by Serper in this market"
        mine = "present" if metric in m.completeness_present else "missing"
        share = m.rival_field_share.get(metric)
        return mine, share, "share of competitors showing it"
    return None, None, "unknown metric"


def attach_figures(draft: DraftReport, metrics: Metrics, **identity) -> Report:
    suggestions = []
    for item in sorted(draft.suggestions, key=lambda s: s.priority):
        mine, theirs, basis = metric_values(item.metric, metrics)
        suggestions.append(
            Suggestion(
                **item.model_dump(),
                business_value=mine,
                competitor_value=theirs,
                competitor_basis=basis,
            )
        )
    return Report(
        summary=draft.summary,
        strengths=draft.strengths,
        gaps=draft.gaps,
        suggestions=suggestions,
        **identity,
    )
