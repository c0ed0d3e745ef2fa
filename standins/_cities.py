"""Cities the stand-in market knows, to place records and to read `location` texts."""

from __future__ import annotations

import math
from dataclasses import dataclass

from standins._text import fold, squeeze, tokens


@dataclass(frozen=True)
class City:
    key: str
    location: str  # the way Serper spells a location, as a client would send it
    lat: float
    lng: float
    gl: str
    hl: str
    aliases: tuple[str, ...]  # folded words that name the city in a query or a location


# The first four hold the bundled sample; the rest give the synthetic market a spread of
# countries and languages.
CITIES: tuple[City, ...] = (
    City("austin", "Austin, Texas, United States", 30.2672, -97.7431, "us", "en", ("austin",)),
    City("berlin", "Berlin, Germany", 52.5200, 13.4050, "de", "de", ("berlin", "ベルリン")),
    City(
        "tokyo",
        "Tokyo, Japan",
        35.6762,
        139.6503,
        "jp",
        "ja",
        ("tokyo", "東京", "東京都", "shibuya", "渋谷", "渋谷区"),
    ),
    City("toronto", "Toronto, Ontario, Canada", 43.6532, -79.3832, "ca", "en", ("toronto",)),
    City("denver", "Denver, Colorado, United States", 39.7392, -104.9903, "us", "en", ("denver",)),
    City(
        "portland", "Portland, Oregon, United States", 45.5152, -122.6784, "us", "en", ("portland",)
    ),
    City(
        "vancouver",
        "Vancouver, British Columbia, Canada",
        49.2827,
        -123.1207,
        "ca",
        "en",
        ("vancouver",),
    ),
    City("montreal", "Montreal, Quebec, Canada", 45.5019, -73.5674, "ca", "fr", ("montreal",)),
    City("munich", "Munich, Bavaria, Germany", 48.1351, 11.5820, "de", "de", ("munich", "munchen")),
    City("hamburg", "Hamburg, Germany", 53.5511, 9.9937, "de", "de", ("hamburg",)),
    City("osaka", "Osaka, Japan", 34.6937, 135.5023, "jp", "ja", ("osaka", "大阪", "大阪市")),
    City("london", "London, England, United Kingdom", 51.5072, -0.1276, "gb", "en", ("london",)),
    City("paris", "Paris, France", 48.8566, 2.3522, "fr", "fr", ("paris",)),
)

# Keyed by the aliases' own tokens: tokenising singularises ("paris" -> "pari"), and a lookup must
# compare like with like.
_BY_ALIAS = {"".join(tokens(alias)): city for city in CITIES for alias in city.aliases}
# A place further than this from every known centre belongs to no city: it can still be found by
# name or nearby search, just not restricted by a `location`.
_CITY_RADIUS_KM = 60.0


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(min(1.0, math.sqrt(a)))


def nearest_city(lat: float, lng: float) -> City | None:
    # Cities are hundreds of kilometres apart, so a flat-earth comparison picks the right one
    # and only the winner needs the exact distance.
    scale = math.cos(math.radians(lat)) ** 2
    best = min(CITIES, key=lambda c: (c.lat - lat) ** 2 + scale * (c.lng - lng) ** 2)
    return best if distance_km(lat, lng, best.lat, best.lng) <= _CITY_RADIUS_KM else None


def city_alias_tokens(text: str) -> tuple[City | None, set[str]]:
    """The city a text names (a query or a location), and which of its tokens named it."""
    found: City | None = None
    used: set[str] = set()
    for tok in tokens(text):
        city = _BY_ALIAS.get(tok)
        if city and (found is None or city is found):
            found, used = city, used | {tok}
    if found is None:
        # Japanese addresses and queries run words together ("東京都渋谷区のカフェ").
        squeezed = squeeze(text)
        for alias, city in _BY_ALIAS.items():
            if not alias.isascii() and alias in squeezed:
                return city, set()
    return found, used


def first_component(location: str) -> str:
    """The most specific part of a location text ("Pflugerville" of "Pflugerville, TX")."""
    return fold(location.split(",")[0]).strip()
