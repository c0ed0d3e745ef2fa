import json
from datetime import date

from insights.competitors import Competitor
from insights.metrics import compute_metrics
from insights.places import Place
from insights.rendering import render_markdown
from insights.report import (
    DraftReport,
    Report,
    attach_figures,
    draft_json_schema,
    inputs_hash,
)
from insights.rule_writer import write_draft


def _metrics():
    me = Place("Me", place_id="ME", rating=4.1, review_count=40, categories=("Cafe",))
    rivals = [
        Competitor(
            Place(
                f"R{i}",
                place_id=f"R{i}",
                rating=4.6,
                review_count=300,
                website="https://r.com",
                phone="+1",
                categories=("Cafe",),
            ),
            rank=i,
            score=1.0,
            distance_km=0.5 * i,
            category_overlap=1.0,
        )  # fmt: skip
        for i in range(1, 4)
    ]
    return compute_metrics(me, rivals), rivals


def test_schema_is_strict_everywhere():
    schema = draft_json_schema()
    nodes = [schema, *schema["$defs"].values()]
    for node in nodes:
        assert node["additionalProperties"] is False
        assert sorted(node["required"]) == sorted(node["properties"])
    assert "maxLength" not in json.dumps(schema)


def test_rule_writer_names_gaps_with_figures_and_never_unknown_fields():
    metrics, _ = _metrics()
    draft = write_draft("Me", metrics)
    metrics_named = [s.metric for s in draft.suggestions]
    assert "website" in metrics_named and "phone" in metrics_named
    assert "review_count" in metrics_named and "rating" in metrics_named
    # Nobody shows hours here: it must not be called a gap.
    assert "hours" not in metrics_named
    assert any("40 reviews" in g for g in draft.gaps)
    assert [s.priority for s in draft.suggestions] == list(range(1, len(draft.suggestions) + 1))


def test_figures_come_from_metrics_not_from_the_writer():
    metrics, rivals = _metrics()
    draft = DraftReport.model_validate(
        {
            "summary": "A summary of at least ten characters.",
            "strengths": [],
            "gaps": ["few reviews"],
            "suggestions": [
                {
                    "priority": 2,
                    "action": "Ask for reviews",
                    "rationale": "x" * 5,
                    "metric": "review_count",
                },
                {"priority": 1, "action": "Add a phone", "rationale": "y" * 5, "metric": "phone"},
            ],
        }  # fmt: skip
    )
    report = attach_figures(draft, metrics, business_name="Me", night=date(2026, 12, 4),
                            writer="llm", model="m", prompt_version="v")  # fmt: skip
    first, second = report.suggestions
    assert first.metric == "phone" and first.business_value == "missing"
    assert first.competitor_value == 1.0
    assert second.business_value == 40 and second.competitor_value == 300
    markdown = render_markdown(report, metrics, [{"rank": 1, "title": "R|1", "rating": 4.6,
                                                 "review_count": 300, "distance_km": 0.5,
                                                 "reasons": ["near"]}])  # fmt: skip
    assert markdown.startswith("# Me: competitor report for 2026-12-04")
    assert "R\\|1" in markdown
    assert "**Add a phone**" in markdown
    assert Report.model_validate_json(report.model_dump_json()) == report


def test_inputs_hash_changes_with_metrics_prompt_and_model_only():
    doc = {"business": {"name": "Me"}, "metrics": {"rating": 4.1}}
    base = inputs_hash(doc, "v1", "m")
    assert base == inputs_hash(json.loads(json.dumps(doc)), "v1", "m")
    assert base != inputs_hash({**doc, "metrics": {"rating": 4.2}}, "v1", "m")
    assert base != inputs_hash(doc, "v2", "m")
    assert base != inputs_hash(doc, "v1", "other")
