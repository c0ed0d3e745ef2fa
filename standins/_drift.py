"""Deterministic day-by-day drift of the sample market, so nightly history shows change."""

from __future__ import annotations

import hashlib
from datetime import date

DRIFT_EPOCH = date(2026, 1, 1)
# A rating stays on one value for this many days before it may move; a daily wobble would make
# every night's report claim a rating change.
_RATING_PERIOD_DAYS = 14


def stable_hash(*parts: object) -> int:
    """A 64-bit hash that is the same in every process (Python's hash() is salted per run)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def unit(*parts: object) -> float:
    """A stable number in [0, 1) for the given parts."""
    return stable_hash(*parts) / 2**64


def drift_place(place: dict, day: date | None) -> dict:
    """The place as it would look on `day`; the record itself is never modified."""
    if day is None:
        return place
    days = (day - DRIFT_EPOCH).days
    key = place.get("placeId") or place.get("cid") or place.get("title")
    if days <= 0 or not key:
        return place
    out = dict(place)
    count = place.get("ratingCount")
    if isinstance(count, int):
        out["ratingCount"] = _count_on(key, count, days)
    rating = place.get("rating")
    if isinstance(rating, int | float) and not isinstance(rating, bool):
        out["rating"] = _rating_on(key, rating, days)
    return out


def _count_on(key: str, base: int, days: int) -> int:
    # Busy places gather reviews faster; the rate lies between about one a month and three a day.
    rate = (0.03 + 0.5 * unit(key, "rate")) * (1 + min(base, 5000) / 1000)
    grown = base + int(days * rate)
    # About one place in eleven loses a few reviews once (Google removes reviews now and then):
    # review velocity code has to treat the drop as removal, not negative growth.
    if stable_hash(key, "purge") % 11 == 0:
        purge_day = 10 + stable_hash(key, "purge-day") % 60
        if days >= purge_day:
            grown -= min(grown, 2 + stable_hash(key, "purge-size") % 4)
    return max(0, grown)


def _rating_on(key: str, base: int | float, days: int) -> int | float:
    period = days // _RATING_PERIOD_DAYS
    roll = stable_hash(key, "rating", period) % 6
    step = {0: -0.1, 1: 0.1}.get(roll, 0.0)
    value = round(min(5.0, max(1.0, base + step)), 1)
    # Serper sends whole ratings as integers (5, not 5.0); drifted values keep that quirk.
    return int(value) if value.is_integer() else value
