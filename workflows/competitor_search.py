"""Searching the places around a business for competitors, and choosing among them."""

from __future__ import annotations

from dataclasses import dataclass, field

from insights.competitors import Competitor, choose_competitors
from insights.places import Place, ResponseShapeError, parse_places
from resources.serper import SerperClient, SerperError, SerperFatalError

# Zoom 14 covers a few kilometres around the business: a neighbourhood, not a whole city.
SEARCH_ZOOM = 14


@dataclass(frozen=True)
class CompetitorOutcome:
    business_id: str
    competitors: list[Competitor] = field(default_factory=list)
    error: str | None = None


def nearby_request(business: Place, results: int, locale: dict) -> dict | None:
    """The /maps request for places like this one around it; None without a category."""
    if not business.category:
        return None
    if business.has_coordinates:
        ll = f"@{business.latitude:.6f},{business.longitude:.6f},{SEARCH_ZOOM}z"
        return {"q": business.category, "ll": ll, "num": results, **locale}
    where = business.address or ""
    return {"q": f"{business.category} {where}".strip(), "num": results, **locale}


async def find_competitors(
    serper: SerperClient,
    business_id: str,
    business: Place,
    *,
    locale: dict,
    results: int,
    top_k: int,
) -> CompetitorOutcome:
    request = nearby_request(business, results, locale)
    if request is None:
        return CompetitorOutcome(
            business_id,
            error="Google lists no category for this business, so there is nothing to search "
            "competitors by",
        )
    try:
        payload = await serper.maps(request, kind="nearby")
        candidates = parse_places(payload)
    except SerperFatalError:
        raise
    except (SerperError, ResponseShapeError) as error:
        return CompetitorOutcome(business_id, error=str(error))
    chosen = choose_competitors(business, candidates, top_k)
    if not chosen:
        return CompetitorOutcome(business_id, error=f"no other {business.category} found nearby")
    return CompetitorOutcome(business_id, chosen)
