"""Finding each tracked business on Google Maps and taking tonight's snapshot of its profile.

The first night finds a business by name and location (or website); from then on it is looked
up by the place id found that night, so a renamed business stays the same business and a
namesake never takes its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from insights.identity import normalize_domain, pick_business
from insights.places import Place, ResponseShapeError, parse_places
from resources.serper import SerperClient, SerperError, SerperFatalError

LOOKUP_RESULTS = 10


@dataclass(frozen=True)
class ProfileOutcome:
    business_id: str
    status: str  # "ok", "not_found" or "error"
    place: Place | None = None
    error: str | None = None


def lookup_query(business: dict[str, Any]) -> str:
    """The text a person would type into Google Maps to find the business."""
    what = business.get("name") or normalize_domain(business.get("website")) or ""
    return " ".join(part for part in (what, business.get("location")) if part)


async def fetch_profile(serper: SerperClient, business: dict[str, Any]) -> ProfileOutcome:
    business_id = business["business_id"]
    locale = {"gl": business.get("gl"), "hl": business.get("hl")}
    try:
        if business.get("place_id") or business.get("cid"):
            return await _by_identity(serper, business, locale)
        payload = await serper.maps(
            {"q": lookup_query(business), "num": LOOKUP_RESULTS, **locale}, kind="lookup"
        )
        match = pick_business(
            parse_places(payload), name=business.get("name"), website=business.get("website")
        )
    except SerperFatalError:
        raise
    except (SerperError, ResponseShapeError) as error:
        return ProfileOutcome(business_id, "error", error=str(error))
    if match is None:
        return ProfileOutcome(
            business_id,
            "not_found",
            error=f"no Google Maps result matches {lookup_query(business)!r}; check the name, "
            "location or website in the tracked list",
        )
    _prime_identity_lookup(serper, payload, match.place, locale)
    return ProfileOutcome(business_id, "ok", match.place)


def identity_request(place_id: str | None, cid: str | None, locale: dict) -> dict:
    return {**({"placeId": place_id} if place_id else {"cid": cid}), **locale}


def _prime_identity_lookup(serper: SerperClient, payload: dict, place: Place, locale: dict):
    for raw in payload.get("places") or []:
        if isinstance(raw, dict) and raw.get("placeId") == place.place_id and place.place_id:
            request = identity_request(place.place_id, None, locale)
            serper.prime(request, kind="profile", payload={"places": [raw], "credits": 0})
            return


async def _by_identity(
    serper: SerperClient, business: dict[str, Any], locale: dict
) -> ProfileOutcome:
    place_id, cid = business.get("place_id"), business.get("cid")
    payload = await serper.maps(identity_request(place_id, cid, locale), kind="profile")
    known = place_id or f"cid:{cid}"
    match = pick_business(parse_places(payload), name=None, website=None, known_identity=known)
    if match is None:
        return ProfileOutcome(
            business["business_id"],
            "not_found",
            error=f"Google Maps no longer lists place {known}; the business may have closed or "
            "been merged",
        )
    return ProfileOutcome(business["business_id"], "ok", match.place)
