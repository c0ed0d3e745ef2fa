"""Material changes between two nights of one business, as alerts a person should hear about.

Detection compares tonight with the latest earlier night that gave a definite answer; a night
whose search failed says nothing about the business, so it neither raises alerts nor serves as
the comparison point.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

KINDS = (
    "business_not_found",
    "competitor_entered",
    "competitor_left",
    "competitor_rating_change",
    "rank_dropped",
)
# Ratings are shown to one decimal; a float sum such as 4.3 - 4.1 must still count as 0.2.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Rival:
    place_id: str
    title: str
    rating: float | None


@dataclass(frozen=True)
class BusinessNight:
    """What alert detection needs to know about one business on one night."""

    night: date
    business_id: str
    name: str
    status: str  # "ok", "not_found" or "error", as in business_snapshots
    error: str | None = None
    rank: int | None = None
    ranked_count: int | None = None
    rivals: dict[str, Rival] = field(default_factory=dict)  # by place id


@dataclass(frozen=True)
class Alert:
    night: date
    business_id: str
    kind: str
    subject: str  # the competitor's place id, or "" when the alert is about the business
    message: str
    details: dict

    @property
    def alert_id(self) -> str:
        # Derived, not random: detecting the same change again (a night run twice) gives the
        # same id, so it is recorded and delivered once.
        basis = f"{self.night.isoformat()}|{self.business_id}|{self.kind}|{self.subject}"
        return hashlib.sha256(basis.encode()).hexdigest()[:20]

    def payload(self) -> dict:
        """The JSON a webhook receives."""
        return {
            "type": "alert",
            "id": self.alert_id,
            "kind": self.kind,
            "night": self.night.isoformat(),
            "business_id": self.business_id,
            "message": self.message,
            "details": self.details,
        }


def _rating(value: float | None) -> str:
    return "unrated" if value is None else f"{value:.1f}"


def detect(
    tonight: BusinessNight, before: BusinessNight | None, *, rating_step: float
) -> list[Alert]:
    """Alerts for one business; `before` is its latest earlier night with status ok or
    not_found (None on its first night)."""
    if tonight.status == "error":
        return []

    def alert(kind: str, subject: str, message: str, **details) -> Alert:
        return Alert(tonight.night, tonight.business_id, kind, subject, message, details)

    if tonight.status == "not_found":
        if before is not None and before.status == "not_found":
            return []  # said already; repeating it every night would teach people to ignore it
        return [
            alert(
                "business_not_found",
                "",
                f"{tonight.name} could not be found on Google Maps on {tonight.night}: "
                f"{tonight.error or 'no matching result'}",
                error=tonight.error,
                last_found=before.night.isoformat() if before else None,
            )
        ]
    if before is None or before.status != "ok":
        return []
    alerts: list[Alert] = []
    # An empty set tonight means the competitor search failed, not that every rival closed.
    if tonight.rivals and before.rivals:
        alerts += _set_changes(tonight, before, rating_step, alert)
    if tonight.rank is not None and before.rank is not None and tonight.rank > before.rank:
        alerts.append(
            alert(
                "rank_dropped",
                "",
                f"{tonight.name} dropped from rank {before.rank} to {tonight.rank} of "
                f"{tonight.ranked_count} among its competitors",
                previous_rank=before.rank,
                rank=tonight.rank,
                ranked_count=tonight.ranked_count,
                previous_night=before.night.isoformat(),
            )
        )
    return alerts


def _set_changes(tonight: BusinessNight, before: BusinessNight, step: float, alert) -> list[Alert]:
    found = []
    for place_id in sorted(tonight.rivals.keys() - before.rivals.keys()):
        rival = tonight.rivals[place_id]
        found.append(
            alert(
                "competitor_entered",
                place_id,
                f"{rival.title} ({_rating(rival.rating)}) is a new competitor of {tonight.name}",
                competitor=rival.title,
                rating=rival.rating,
            )
        )
    for place_id in sorted(before.rivals.keys() - tonight.rivals.keys()):
        rival = before.rivals[place_id]
        found.append(
            alert(
                "competitor_left",
                place_id,
                f"{rival.title} is no longer among the competitors of {tonight.name}",
                competitor=rival.title,
                previous_rating=rival.rating,
            )
        )
    for place_id in sorted(tonight.rivals.keys() & before.rivals.keys()):
        now, then = tonight.rivals[place_id].rating, before.rivals[place_id].rating
        if now is None or then is None or abs(now - then) + _EPSILON < step:
            continue
        title = tonight.rivals[place_id].title
        found.append(
            alert(
                "competitor_rating_change",
                place_id,
                f"{title}, a competitor of {tonight.name}, went from {_rating(then)} to "
                f"{_rating(now)} ({now - then:+.1f})",
                competitor=title,
                previous_rating=then,
                rating=now,
                change=round(now - then, 3),
                previous_night=before.night.isoformat(),
            )
        )
    return found
