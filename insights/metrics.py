"""Comparison metrics of a business against its competitor set.

Unknown inputs give unknown outputs (`None`): a place whose rating Serper did not show is not a
place rated zero, and a field Serper never shows in a market is not a gap in a profile.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from datetime import date

from insights.competitors import Competitor
from insights.places import Place

# The prior weight of the Bayesian average is the set's median review count, kept within these
# bounds so that a set of tiny or of huge places does not make the prior meaningless.
PRIOR_WEIGHT_MIN = 5.0
PRIOR_WEIGHT_MAX = 500.0
# Ratings are shown rounded to 0.1, so the implied rating of new reviews is noise below this.
MIN_NEW_REVIEWS_FOR_IMPLIED_RATING = 10

# The profile fields Serper's /maps answers can show, with how to read each from a place.
COMPLETENESS_FIELDS = {
    "website": lambda p: p.website,
    "phone": lambda p: p.phone,
    "hours": lambda p: p.opening_hours,
    "price": lambda p: p.price_level,
    "categories": lambda p: p.categories,
    "description": lambda p: p.description,
}


@dataclass(frozen=True)
class PreviousSnapshot:
    night: date
    rating: float | None
    review_count: int | None


@dataclass(frozen=True)
class Metrics:
    rating: float | None
    review_count: int | None
    adjusted_rating: float | None
    set_size: int
    set_mean_rating: float | None
    set_median_review_count: float | None
    rank_in_set: int | None
    ranked_count: int
    percentile: float | None
    nearest_competitor_km: float | None
    mean_competitor_km: float | None
    completeness: float | None
    completeness_present: list[str] = field(default_factory=list)
    completeness_observable: list[str] = field(default_factory=list)
    set_completeness_mean: float | None = None
    # Share of competitors that show each observable field, e.g. {"website": 0.8}.
    rival_field_share: dict[str, float] = field(default_factory=dict)
    previous_night: date | None = None
    rating_change: float | None = None
    new_reviews: int | None = None
    reviews_removed: int | None = None
    implied_new_rating: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def bayesian_rating(
    rating: float | None, count: int | None, prior_mean: float | None, prior_weight: float
) -> float | None:
    """`(C·m + n·r) / (C + n)`: a few reviews pull a rating towards the set's mean."""
    if rating is None or count is None or prior_mean is None:
        return None
    return (prior_weight * prior_mean + count * rating) / (prior_weight + count)


def observable_fields(places: list[Place]) -> list[str]:
    """Fields at least one place of the set shows: what Serper shows in this market at all."""
    return [name for name, read in COMPLETENESS_FIELDS.items() if any(read(p) for p in places)]


def completeness(place: Place, observable: list[str]) -> tuple[float | None, list[str]]:
    present = [name for name in observable if COMPLETENESS_FIELDS[name](place)]
    if not observable:
        return None, present
    return len(present) / len(observable), present


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def compute_metrics(
    business: Place,
    competitors: list[Competitor],
    previous: PreviousSnapshot | None = None,
) -> Metrics:
    rivals = [c.place for c in competitors]
    rated = [p for p in rivals if p.rating is not None]
    set_mean = statistics.fmean(p.rating for p in rated) if rated else None
    counts = [p.review_count for p in rivals if p.review_count is not None]
    median_count = statistics.median(counts) if counts else None
    prior_weight = min(max(median_count or 0.0, PRIOR_WEIGHT_MIN), PRIOR_WEIGHT_MAX)

    adjusted = bayesian_rating(business.rating, business.review_count, set_mean, prior_weight)
    rival_adjusted = [
        bayesian_rating(p.rating, p.review_count, set_mean, prior_weight) for p in rivals
    ]
    known_rivals = [a for a in rival_adjusted if a is not None]
    rank = percentile = None
    if adjusted is not None:
        rank = 1 + sum(1 for a in known_rivals if a > adjusted)
        if known_rivals:
            percentile = 100.0 * sum(1 for a in known_rivals if a < adjusted) / len(known_rivals)

    distances = [c.distance_km for c in competitors if c.distance_km is not None]
    observable = observable_fields([business, *rivals])
    score, present = completeness(business, observable)
    rival_scores = [completeness(p, observable)[0] for p in rivals]
    rival_scores = [s for s in rival_scores if s is not None]

    field_share = (
        {
            name: round(sum(1 for p in rivals if COMPLETENESS_FIELDS[name](p)) / len(rivals), 3)
            for name in observable
        }
        if rivals
        else {}
    )
    change = _changes(business, previous)
    return Metrics(
        rating=business.rating,
        review_count=business.review_count,
        adjusted_rating=_round(adjusted),
        set_size=len(competitors),
        set_mean_rating=_round(set_mean),
        set_median_review_count=median_count,
        rank_in_set=rank,
        ranked_count=len(known_rivals) + 1 if adjusted is not None else len(known_rivals),
        percentile=_round(percentile, 1),
        nearest_competitor_km=_round(min(distances)) if distances else None,
        mean_competitor_km=_round(statistics.fmean(distances)) if distances else None,
        completeness=_round(score),
        completeness_present=present,
        completeness_observable=observable,
        set_completeness_mean=_round(statistics.fmean(rival_scores)) if rival_scores else None,
        rival_field_share=field_share,
        **change,
    )


def _changes(business: Place, previous: PreviousSnapshot | None) -> dict:
    if previous is None:
        return {}
    out: dict = {"previous_night": previous.night}
    if business.rating is not None and previous.rating is not None:
        out["rating_change"] = round(business.rating - previous.rating, 2)
    n1, n0 = business.review_count, previous.review_count
    if n1 is not None and n0 is not None:
        # A drop means reviews were removed (by Google or the owner), not negative velocity.
        out["new_reviews"] = max(n1 - n0, 0)
        out["reviews_removed"] = max(n0 - n1, 0)
        r1, r0 = business.rating, previous.rating
        if n1 - n0 >= MIN_NEW_REVIEWS_FOR_IMPLIED_RATING and r1 is not None and r0 is not None:
            implied = (r1 * n1 - r0 * n0) / (n1 - n0)
            out["implied_new_rating"] = round(min(max(implied, 1.0), 5.0), 2)
    return out
