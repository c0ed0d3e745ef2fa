"""Converting between core records and warehouse rows."""

from __future__ import annotations

import json
from typing import Any

from insights.places import Place


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def place_columns(place: Place) -> dict[str, Any]:
    """The place columns shared by `business_snapshots` and `competitor_sets`."""
    return {
        "place_id": place.place_id,
        "cid": place.cid,
        "title": place.title,
        "address": place.address,
        "latitude": place.latitude,
        "longitude": place.longitude,
        "rating": place.rating,
        "review_count": place.review_count,
        "price_level": place.price_level,
        "category": place.category,
        "categories": list(place.categories),
        "website": place.website,
        "phone": place.phone,
        "description": place.description,
        "opening_hours": place.opening_hours,
    }


def place_from_row(row: dict[str, Any]) -> Place:
    count = row.get("review_count")
    return Place(
        title=row.get("title") or "",
        place_id=row.get("place_id"),
        cid=row.get("cid"),
        fid=row.get("fid"),
        address=row.get("address"),
        latitude=row.get("latitude"),
        longitude=row.get("longitude"),
        rating=row.get("rating"),
        review_count=None if count is None else int(count),
        price_level=row.get("price_level"),
        category=row.get("category"),
        categories=tuple(_json(row.get("categories")) or ()),
        website=row.get("website"),
        phone=row.get("phone"),
        description=row.get("description"),
        opening_hours=_json(row.get("opening_hours")),
        thumbnail_url=row.get("thumbnail_url"),
    )


def decode_json(value: Any) -> Any:
    return _json(value)
