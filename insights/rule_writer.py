"""The report writer that needs no LLM: rules over the metrics, same structure as an LLM report.

It is the offline default and the fallback when an LLM answer is unusable, so it must never
fail and must never call an unknown value a weakness.
"""

from __future__ import annotations

from insights.metrics import Metrics
from insights.report import DraftReport, DraftSuggestion

_FIELD_ACTIONS = {
    "website": "Add your website to the Google business profile",
    "phone": "Add a phone number to the Google business profile",
    "hours": "Publish your opening hours, including holidays",
    "price": "Set a price range on the profile",
    "categories": "Add the secondary categories that describe your services",
    "description": "Write a business description that names your services and neighbourhood",
}
# A rating difference smaller than this is within the rounding of displayed ratings.
RATING_TOLERANCE = 0.1


def _fmt(value: float | None, digits: int = 1) -> str:
    return "unknown" if value is None else f"{value:.{digits}f}"


def write_draft(name: str, m: Metrics) -> DraftReport:
    strengths: list[str] = []
    gaps: list[str] = []
    proposals: list[tuple[float, str, str, str]] = []  # (urgency, metric, action, rationale)

    if m.rating is not None and m.set_mean_rating is not None:
        diff = m.rating - m.set_mean_rating
        text = f"rating {m.rating:.1f} against a competitor mean of {m.set_mean_rating:.1f}"
        if diff >= RATING_TOLERANCE:
            strengths.append(f"Higher {text}.")
        elif diff <= -RATING_TOLERANCE:
            gaps.append(f"Lower {text}.")
            proposals.append(
                (
                    0.6 + min(-diff, 1.0) / 2,
                    "rating",
                    "Reply to every review below four stars within two days and fix its cause",
                    f"Your {text}; visible, prompt replies are what readers of low ratings weigh.",
                )
            )

    median = m.set_median_review_count
    if m.review_count is not None and median:
        text = f"{m.review_count:,} reviews against a competitor median of {median:,.0f}"
        if m.review_count >= median:
            strengths.append(f"More reviews: {text}.")
        else:
            gaps.append(f"Fewer reviews: {text}.")
            shortfall = 1 - m.review_count / median
            proposals.append(
                (
                    0.5 + shortfall / 2,
                    "review_count",
                    "Ask every satisfied customer for a review, with a short link on receipts",
                    f"You have {text}; volume makes the rating trustworthy to searchers.",
                )
            )

    for field in m.completeness_observable:
        share = m.rival_field_share.get(field, 0.0)
        if field in m.completeness_present:
            if share < 0.5:
                strengths.append(f"Shows its {field}, which {share:.0%} of competitors do.")
        else:
            gaps.append(f"No {field} on the profile; {share:.0%} of competitors show one.")
            proposals.append(
                (
                    0.3 + share / 2,
                    field,
                    _FIELD_ACTIONS[field],
                    f"{share:.0%} of competitors show their {field}; a complete profile ranks and "
                    "converts better.",
                )
            )

    if m.new_reviews is not None and m.new_reviews == 0 and m.previous_night is not None:
        gaps.append(f"No new reviews since {m.previous_night.isoformat()}.")

    proposals.sort(key=lambda p: -p[0])
    suggestions = [
        DraftSuggestion(priority=i, metric=metric, action=action, rationale=rationale)
        for i, (_, metric, action, rationale) in enumerate(proposals[:6], start=1)
    ]
    if not suggestions:
        suggestions = [
            DraftSuggestion(
                priority=1,
                metric="review_count",
                action="Keep asking satisfied customers for reviews to hold your lead",
                rationale="No measured gap against competitors; review volume decays without "
                "steady new reviews.",
            )
        ]
    return DraftReport(
        summary=_summary(name, m),
        strengths=strengths[:6],
        gaps=gaps[:6],
        suggestions=suggestions,
    )


def _summary(name: str, m: Metrics) -> str:
    parts = [f"{name} is compared with {m.set_size} nearby competitors."]
    if m.rating is not None:
        reviews = f" from {m.review_count:,} reviews" if m.review_count is not None else ""
        parts.append(f"It is rated {m.rating:.1f}{reviews}")
        if m.set_mean_rating is not None:
            parts[-1] += f", against a competitor mean of {m.set_mean_rating:.1f}"
        parts[-1] += "."
    else:
        parts.append("Google shows no rating for it yet.")
    if m.rank_in_set is not None:
        parts.append(
            f"By rating adjusted for review count it ranks {m.rank_in_set} of {m.ranked_count}."
        )
    if m.completeness is not None:
        parts.append(
            f"Its profile shows {len(m.completeness_present)} of the "
            f"{len(m.completeness_observable)} fields Serper can see here."
        )
    return " ".join(parts)
