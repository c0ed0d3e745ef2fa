"""Choosing a business's competitors from the places Serper finds around it.

Every candidate gets a score from three parts that a person can check: how much its categories
overlap the business's, how close it is, and how many reviews it has (a proxy for how many
customers see it). The reasons are kept with the choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from insights.geo import distance_km
from insights.identity import fold_text
from insights.places import Place

WEIGHT_CATEGORY = 0.5
WEIGHT_PROXIMITY = 0.3
WEIGHT_VOLUME = 0.2
# Distance at which proximity counts half: a typical walk or short drive in a city.
HALF_PROXIMITY_KM = 1.5


@dataclass(frozen=True)
class Competitor:
    place: Place
    rank: int
    score: float
    distance_km: float | None
    category_overlap: float
    reasons: tuple[str, ...] = field(default=())


def _category_set(place: Place) -> set[str]:
    return {fold_text(c) for c in place.categories}


def category_overlap(business: Place, other: Place) -> float:
    """Jaccard overlap of the two category sets; 0 when either has none."""
    mine, theirs = _category_set(business), _category_set(other)
    if not mine or not theirs:
        return 0.0
    return len(mine & theirs) / len(mine | theirs)


def _distance(business: Place, other: Place) -> float | None:
    if not (business.has_coordinates and other.has_coordinates):
        return None
    return distance_km(business.latitude, business.longitude, other.latitude, other.longitude)


def _same_place(business: Place, other: Place) -> bool:
    if business.place_id and other.place_id:
        return business.place_id == other.place_id
    if business.cid and other.cid:
        return business.cid == other.cid
    return False


def choose_competitors(business: Place, candidates: list[Place], top_k: int) -> list[Competitor]:
    """The top `top_k` candidates by score, excluding the business and duplicates.

    Branches of a chain share a name but are different places, so duplicates are judged by
    place id (or cid) only; a candidate with neither cannot be followed across nights and is
    left out.
    """
    unique: dict[str, Place] = {}
    for place in candidates:
        key = place.identity
        if key is None or _same_place(business, place) or key in unique:
            continue
        unique[key] = place
    if not unique:
        return []

    max_log_reviews = max(math.log1p(p.review_count or 0) for p in unique.values()) or 1.0
    scored: list[tuple[float, float | None, float, Place, list[str]]] = []
    for place in unique.values():
        overlap = category_overlap(business, place)
        distance = _distance(business, place)
        proximity = 0.5 if distance is None else 1 / (1 + distance / HALF_PROXIMITY_KM)
        volume = math.log1p(place.review_count or 0) / max_log_reviews
        score = WEIGHT_CATEGORY * overlap + WEIGHT_PROXIMITY * proximity + WEIGHT_VOLUME * volume
        reasons = []
        shared = sorted(set(place.categories) & set(business.categories), key=str.casefold)
        if shared:
            reasons.append("same category: " + ", ".join(shared))
        elif place.category:
            reasons.append(f"nearby {place.category}")
        reasons.append(f"{distance:.1f} km away" if distance is not None else "distance unknown")
        if place.review_count is not None:
            reasons.append(f"{place.review_count:,} reviews")
        else:
            reasons.append("review count unknown")
        scored.append((score, distance, overlap, place, reasons))

    # Ties fall to the nearer place, then to the title, so the choice is reproducible.
    scored.sort(key=lambda s: (-s[0], s[1] if s[1] is not None else math.inf, s[3].title))
    return [
        Competitor(
            place=place,
            rank=rank,
            score=round(score, 4),
            distance_km=None if distance is None else round(distance, 3),
            category_overlap=round(overlap, 3),
            reasons=tuple(reasons),
        )
        for rank, (score, distance, overlap, place, reasons) in enumerate(scored[:top_k], start=1)
    ]
