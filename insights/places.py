"""Typed records for Google places as Serper describes them, and the parser that builds them.

Serper publishes no schema, so the parser accepts every shape seen in the wild: any field but
`title` may be missing, ratings come as ints or floats, cids exceed 64 bits. Missing stays `None`.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

# Serper sends `cid` as a string or a number; a JSON number above 2**63 may even arrive as a
# float in some clients, which would lose digits, so keep whatever text we were given.
_DIGITS = re.compile(r"^\d+$")


class ResponseShapeError(ValueError):
    """A Serper answer that is not the JSON object we can read at all."""


@dataclass(frozen=True)
class Place:
    title: str
    place_id: str | None = None
    cid: str | None = None
    fid: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    rating: float | None = None
    review_count: int | None = None
    price_level: str | None = None
    category: str | None = None
    categories: tuple[str, ...] = ()
    website: str | None = None
    phone: str | None = None
    description: str | None = None
    opening_hours: dict[str, str] | None = None
    thumbnail_url: str | None = None
    position: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def identity(self) -> str | None:
        """The key that follows a place across nights: Google's place id, else its cid."""
        if self.place_id:
            return self.place_id
        return f"cid:{self.cid}" if self.cid else None

    @property
    def has_coordinates(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    def as_row(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("extra")
        row.pop("position")
        row["categories"] = list(self.categories)
        return row


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _float(value: Any, *, low: float | None = None, high: float | None = None) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).replace(",", ".")) if isinstance(value, str) else float(value)
    except ValueError:
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    if (low is not None and number < low) or (high is not None and number > high):
        return None
    return number


def _count(value: Any) -> int | None:
    """A review count; text with thousands separators of any locale is read whole."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value >= 0 and value.is_integer() else None
    digits = re.sub(r"[\s,.'\u00a0\u202f]", "", str(value))
    return int(digits) if _DIGITS.match(digits) else None


def _identifier(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        # A float cid has already lost its low digits upstream; refuse it rather than store a
        # wrong identity.
        return None
    return _text(value)


def _categories(raw: dict[str, Any]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in [raw.get("type"), *(raw.get("types") or [])]:
        text = _text(value)
        if text and text.casefold() not in {s.casefold() for s in seen}:
            seen[text] = None
    return tuple(seen)


def _hours(value: Any) -> dict[str, str] | None:
    if isinstance(value, dict):
        hours = {str(day): str(text) for day, text in value.items() if text is not None}
        return hours or None
    if isinstance(value, list):
        # Seen occasionally as a list of {"day": ..., "hours": ...} objects.
        hours = {
            str(item.get("day")): str(item.get("hours"))
            for item in value
            if isinstance(item, dict) and item.get("day")
        }
        return hours or None
    return None


def parse_place(raw: Any) -> Place | None:
    """Build a Place from one Serper result; a result without a title is not a place."""
    if not isinstance(raw, dict):
        return None
    title = _text(raw.get("title"))
    if title is None:
        return None
    categories = _categories(raw)
    known = {
        "title", "placeId", "cid", "fid", "address", "latitude", "longitude", "rating",
        "ratingCount", "priceLevel", "type", "types", "website", "phoneNumber", "description",
        "openingHours", "thumbnailUrl", "position",
    }  # fmt: skip
    return Place(
        title=title,
        place_id=_identifier(raw.get("placeId")),
        cid=_identifier(raw.get("cid")),
        fid=_identifier(raw.get("fid")),
        address=_text(raw.get("address")),
        latitude=_float(raw.get("latitude"), low=-90, high=90),
        longitude=_float(raw.get("longitude"), low=-180, high=180),
        rating=_float(raw.get("rating"), low=0, high=5),
        review_count=_count(raw.get("ratingCount")),
        price_level=_text(raw.get("priceLevel")),
        category=categories[0] if categories else None,
        categories=categories,
        website=_text(raw.get("website")),
        phone=_text(raw.get("phoneNumber")),
        description=_text(raw.get("description")),
        opening_hours=_hours(raw.get("openingHours")),
        thumbnail_url=_text(raw.get("thumbnailUrl")),
        position=_count(raw.get("position")),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def parse_places(payload: Any) -> list[Place]:
    """All readable places of a `/maps` answer; an answer without `places` has none."""
    if not isinstance(payload, dict):
        raise ResponseShapeError(f"expected a JSON object, got {type(payload).__name__}")
    places = [parse_place(item) for item in payload.get("places") or []]
    return [place for place in places if place is not None]
