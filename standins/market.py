"""The sample market: answers Serper `/maps` and `/places` requests from local place records.

Pure: no I/O besides reading the bundled JSON and CSV. The HTTP stand-in wraps it; tests and the
offline Serper resource may call `SampleMarket.answer` directly.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from importlib import resources

from insights.identity import normalize_domain
from standins import _synthetic
from standins._cities import city_alias_tokens, distance_km, first_component, nearest_city
from standins._drift import drift_place
from standins._text import (
    CATEGORY_WORDS,
    categories_in,
    fold,
    looks_like_url,
    place_categories,
    significant_tokens,
    tokens,
)

MAX_NUM = 20
# Serper bills a second credit once a page holds more than this many places.
_ONE_CREDIT_MAX = 10
_LL = re.compile(r"^@?\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)(?:\s*,\s*(\d+(?:\.\d+)?)z)?$")
_DEFAULT_ZOOM = 14.0
# Radius of a nearby search at zoom 14; each zoom level halves or doubles it like the map does.
_RADIUS_AT_Z14_KM = 5.0
_GRID = 10  # cells per degree for the spatial index (about 11 km of latitude)
# Languages whose thousands separator is a dot or a space: Serper's /places has been seen to
# cut review counts there ("6.703" arriving as 6), so the stand-in does the same.
_TRUNCATING_HL = frozenset({"de", "fr", "es", "it", "pt", "nl", "tr", "id", "pl", "ru"})
_PLACES_FIELDS = (
    "title",
    "address",
    "latitude",
    "longitude",
    "rating",
    "ratingCount",
    "category",
    "phoneNumber",
    "website",
    "thumbnailUrl",
    "cid",
)

AsOf = date | Callable[[], date] | None


@dataclass(slots=True)
class _Entry:
    """A place with everything search needs precomputed once."""

    place: dict
    lat: float | None
    lng: float | None
    city: str | None
    title_tokens: frozenset[str]
    title_squeezed: str
    address_tokens: frozenset[str]
    address_folded: str
    host: str | None
    categories: frozenset[str]
    label_tokens: frozenset[str]
    prominence: float


class BadRequest(ValueError):
    """A request Serper would refuse with a 400."""


class SampleMarket:
    """A market of place records that answers like Serper's maps endpoints.

    `as_of` is the day the market is observed on: review counts and ratings drift from the
    recorded values by a deterministic amount per day since 2026-01-01. None serves the records
    unchanged; a callable (for example `date.today`) is asked on every answer, for servers that
    run across midnight.
    """

    def __init__(
        self, places: list[dict], as_of: AsOf = None, *, tracked: list[dict] | None = None
    ):
        self.as_of = as_of
        self._tracked = [dict(row) for row in tracked or []]
        self._entries: list[_Entry] = []
        self._by_place_id: dict[str, int] = {}
        self._by_cid: dict[str, int] = {}
        self._by_host: dict[str, list[int]] = {}
        self._postings: dict[str, list[int]] = {}
        self._grid: dict[tuple[int, int], list[int]] = {}
        for place in places:
            if isinstance(place, dict) and place.get("title"):
                self._add(place)

    # ----------------------------------------------------------------- construction

    @classmethod
    def load_bundled(cls, as_of: AsOf = None) -> SampleMarket:
        """The hand-written sample market shipped in `standins/data/`."""
        data = resources.files(__package__) / "data"
        places = json.loads((data / "market.json").read_text(encoding="utf-8"))
        text = (data / "tracked_sample.csv").read_text(encoding="utf-8")
        tracked = list(csv.DictReader(io.StringIO(text)))
        return cls(places, as_of, tracked=tracked)

    @classmethod
    def synthetic(cls, n_businesses: int, seed: int = 7, as_of: AsOf = None) -> SampleMarket:
        """A procedural market: `n_businesses` tracked places, each with about 15 neighbours of
        its category. The same arguments always give the same market."""
        places, tracked = _synthetic.build(n_businesses, seed)
        return cls(places, as_of, tracked=tracked)

    def at(self, as_of: AsOf) -> SampleMarket:
        """The same market observed on another day; shares the indexes, so it is cheap."""
        view = copy.copy(self)
        view.as_of = as_of
        return view

    def _add(self, place: dict) -> None:
        index = len(self._entries)
        lat, lng = _coord(place.get("latitude")), _coord(place.get("longitude"))
        city = nearest_city(lat, lng) if lat is not None and lng is not None else None
        title_tokens = tokens(str(place["title"]))
        address = str(place.get("address") or "")
        host = normalize_domain(place.get("website"))
        # The site's name counts as a title word: people search "beantheory" as often as the
        # business name.
        label_tokens = frozenset(tokens(host.rsplit(".", 1)[0])) if host else frozenset()
        count = place.get("ratingCount") if isinstance(place.get("ratingCount"), int) else 0
        rating = place.get("rating") if isinstance(place.get("rating"), int | float) else 0
        entry = _Entry(
            place=place,
            lat=lat,
            lng=lng,
            city=city.key if city else None,
            title_tokens=frozenset(title_tokens),
            title_squeezed="".join(title_tokens),
            address_tokens=frozenset(tokens(address)),
            address_folded=fold(address),
            host=host,
            categories=frozenset(place_categories(place)),
            label_tokens=label_tokens,
            prominence=float(rating) * math.log1p(count),
        )
        self._entries.append(entry)
        if place.get("placeId"):
            self._by_place_id[str(place["placeId"])] = index
        if place.get("cid") is not None:
            self._by_cid[_cid_key(place["cid"])] = index
        if host:
            self._by_host.setdefault(host, []).append(index)
        for tok in entry.title_tokens | label_tokens:
            self._postings.setdefault(tok, []).append(index)
        if lat is not None and lng is not None:
            self._grid.setdefault(_cell(lat, lng), []).append(index)

    # ----------------------------------------------------------------- public views

    @property
    def places(self) -> list[dict]:
        """The recorded places, undrifted (read them, do not modify them)."""
        return [e.place for e in self._entries]

    def tracked_rows(self) -> list[dict]:
        """Rows of tracked businesses: {name, website, location, gl, hl}, all strings."""
        return [dict(row) for row in self._tracked]

    @property
    def day(self) -> date | None:
        return self.as_of() if callable(self.as_of) else self.as_of

    # ----------------------------------------------------------------- answering

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        """(HTTP status, JSON body) for a Serper request, as Serper would send it."""
        path = "/" + path.strip("/")
        if path not in ("/maps", "/places"):
            return 404, {"message": "Not found.", "statusCode": 404}
        try:
            return 200, self._answer(path, body)
        except BadRequest as exc:
            return 400, {"message": str(exc), "statusCode": 400}

    def _answer(self, path: str, body: dict) -> dict:
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.")
        is_maps = path == "/maps"
        page = _int_param(body, "page", 1, minimum=1)
        num = min(_int_param(body, "num", MAX_NUM if is_maps else 10, minimum=1), MAX_NUM)
        ll = body.get("ll")
        echo = {**body, "type": path.strip("/"), "engine": "google"}
        ll_out: str | None = None

        if is_maps and (body.get("placeId") or body.get("cid")):
            found = self._lookup(body.get("placeId"), body.get("cid"))
            hits = [found] if found is not None else []
        else:
            q = body.get("q")
            if not isinstance(q, str) or not q.strip():
                raise BadRequest("Missing query parameter: q.")
            if ll and is_maps:
                lat, lng, zoom = _parse_ll(ll)
                hits = self._nearby(q, lat, lng, zoom)
                ll_out = str(ll)
            else:
                if page > 1 and is_maps:
                    raise BadRequest("Page 2 and later require the ll parameter.")
                location = body.get("location")
                hits = self._text_search(q, location if isinstance(location, str) else None)
        page_hits = hits[(page - 1) * num : page * num]
        if is_maps and ll_out is None and page_hits:
            ll_out = self._view_of(page_hits)

        day = self.day
        out: dict = {"searchParameters": echo}
        if ll_out is not None:
            out["ll"] = ll_out
        rendered = []
        for position, index in enumerate(page_hits, start=1):
            # A deep copy: in-process callers may edit the answer, and the records are shared.
            place = copy.deepcopy(drift_place(self._entries[index].place, day))
            if is_maps:
                rendered.append({"position": position, **place})
            else:
                rendered.append(_as_places_item(place, position, str(body.get("hl") or "en")))
        out["places"] = rendered
        out["credits"] = 2 if len(rendered) > _ONE_CREDIT_MAX else 1
        return out

    def _lookup(self, place_id: object, cid: object) -> int | None:
        if place_id:
            return self._by_place_id.get(str(place_id))
        return self._by_cid.get(_cid_key(cid))

    def _view_of(self, hits: list[int]) -> str | None:
        # Serper echoes the map view it searched; for a text query that is around the results.
        first = self._entries[hits[0]]
        if first.lat is None or first.lng is None:
            return None
        return f"@{first.lat:.7f},{first.lng:.7f},14z"

    # ----------------------------------------------------------------- nearby search

    def _nearby(self, q: str, lat: float, lng: float, zoom: float) -> list[int]:
        radius = _RADIUS_AT_Z14_KM * 2 ** (_DEFAULT_ZOOM - zoom)
        wanted = categories_in(q)
        words = set(significant_tokens(q))
        scored: list[tuple[float, int]] = []
        for index in self._within(lat, lng, radius):
            e = self._entries[index]
            if wanted:
                if not e.categories & wanted:
                    continue
            elif words and not words & (e.title_tokens | e.label_tokens):
                # No category in the query: fall back to names, so a brand search near a
                # point still finds its branches.
                continue
            scored.append((distance_km(lat, lng, e.lat, e.lng), index))
        scored.sort()
        return [index for dist, index in scored if dist <= radius]

    def _within(self, lat: float, lng: float, radius_km: float) -> list[int]:
        dlat = radius_km / 111.0
        dlng = radius_km / (111.0 * max(0.01, math.cos(math.radians(lat))))
        lat0, lat1 = math.floor((lat - dlat) * _GRID), math.floor((lat + dlat) * _GRID)
        lng0, lng1 = math.floor((lng - dlng) * _GRID), math.floor((lng + dlng) * _GRID)
        if (lat1 - lat0 + 1) * (lng1 - lng0 + 1) > len(self._grid):
            # A very wide view: scanning every occupied cell is cheaper than the box.
            return [i for cell in self._grid.values() for i in cell]
        out: list[int] = []
        for a in range(lat0, lat1 + 1):
            for b in range(lng0, lng1 + 1):
                out.extend(self._grid.get((a, b), ()))
        return out

    # ----------------------------------------------------------------- text search

    def _text_search(self, q: str, location: str | None) -> list[int]:
        scope = self._scope(q, location)
        if looks_like_url(q):
            return self._by_website(q, scope)
        q_city, city_words = city_alias_tokens(q)
        if location and q_city is not None and city_alias_tokens(location)[0] is not q_city:
            # "Café de Paris" searched in Austin: "Paris" is part of the name, not a place.
            city_words = set()

        squeezed_full = "".join(tokens(q))
        all_tokens = [t for t in tokens(q) if t not in city_words]
        names = [t for t in significant_tokens(q) if t not in city_words]
        specific = [t for t in names if t not in CATEGORY_WORDS]
        wanted = categories_in(q)
        if not specific:
            if not wanted:
                return []
            # A pure category query ("dentist in Toronto"): the category's places by prominence,
            # after any place whose whole title the query is ("Café Berlin" in Berlin).
            hits = [i for i, e in enumerate(self._entries) if e.categories & wanted and scope(e)]
            hits.sort(
                key=lambda i: (
                    self._entries[i].title_squeezed != squeezed_full,
                    -self._entries[i].prominence,
                )
            )
            return hits

        squeezed_q = "".join(all_tokens)
        candidates: set[int] = set()
        for tok in specific:
            candidates.update(self._postings.get(tok, ()))
        if not candidates and not squeezed_q.isascii():
            # Japanese queries often run words together ("珈琲館渋谷"): no token to look up.
            candidates = {i for i, e in enumerate(self._entries) if squeezed_q in e.title_squeezed}

        scored: list[tuple[float, float, int]] = []
        for index in candidates:
            e = self._entries[index]
            if not scope(e):
                continue
            score = self._name_score(e, names, specific, squeezed_q, wanted)
            if squeezed_full == e.title_squeezed:
                score += 100.0
            if score > 0:
                scored.append((-score, -e.prominence, index))
        scored.sort()
        return [index for _, _, index in scored]

    @staticmethod
    def _name_score(
        e: _Entry, names: list[str], specific: list[str], squeezed_q: str, wanted: frozenset[str]
    ) -> float:
        known = e.title_tokens | e.label_tokens
        hits = sum(1 for t in names if t in known)
        substring = len(squeezed_q) >= 2 and squeezed_q in e.title_squeezed
        # A shared category word alone ("Café") is no evidence that two names are the same.
        if not substring and not any(t in known for t in specific):
            return 0.0
        coverage = hits / len(names)
        if coverage < 0.5 and not substring:
            return 0.0
        exact = squeezed_q == e.title_squeezed
        # Street words in the query pick the right branch of a chain.
        street = sum(1 for t in names if t not in known and t in e.address_tokens)
        same_category = 1.0 if wanted and e.categories & wanted else 0.0
        return 100.0 * exact + 10.0 * coverage + 3.0 * substring + street + 0.5 * same_category

    def _by_website(self, q: str, scope: Callable[[_Entry], bool]) -> list[int]:
        host = normalize_domain(q)
        if not host:
            return []
        hits = [
            i
            for h, indexes in self._by_host.items()
            if h == host or h.endswith("." + host) or host.endswith("." + h)
            for i in indexes
            if scope(self._entries[i])
        ]
        hits.sort(key=lambda i: -self._entries[i].prominence)
        return hits

    def _scope(self, q: str, location: str | None) -> Callable[[_Entry], bool]:
        """Which places a text search may return: the city named by `location` or by the query."""
        if location and location.strip():
            city, _ = city_alias_tokens(location)
            if city is not None:
                return lambda e: e.city == city.key
            # An unknown town: keep places whose address names it (service-area businesses whose
            # whole address is the town included).
            town = first_component(location)
            return lambda e: bool(town) and town in e.address_folded
        city, _ = city_alias_tokens(q)
        if city is not None:
            return lambda e: e.city == city.key
        return lambda e: True


# --------------------------------------------------------------------- helpers


def _coord(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _cell(lat: float, lng: float) -> tuple[int, int]:
    return math.floor(lat * _GRID), math.floor(lng * _GRID)


def _cid_key(cid: object) -> str:
    # Clients send the cid as a string or, wrongly, as a number; both name the same place.
    text = str(cid).strip()
    return str(int(text)) if text.isdigit() else text


def _int_param(body: dict, name: str, default: int, *, minimum: int) -> int:
    raw = body.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"Invalid {name} parameter: {raw!r}.") from None
    if value < minimum:
        raise BadRequest(f"Invalid {name} parameter: {raw!r}.")
    return value


def _parse_ll(ll: object) -> tuple[float, float, float]:
    match = _LL.match(str(ll).strip())
    if not match:
        raise BadRequest(f"Invalid ll parameter {ll!r}: expected @LATITUDE,LONGITUDE,ZOOMz.")
    lat, lng = float(match.group(1)), float(match.group(2))
    zoom = float(match.group(3)) if match.group(3) else _DEFAULT_ZOOM
    if not (-90 <= lat <= 90 and -180 <= lng <= 180 and 1 <= zoom <= 21):
        raise BadRequest(f"Invalid ll parameter {ll!r}: out of range.")
    return lat, lng, zoom


def _as_places_item(place: dict, position: int, hl: str) -> dict:
    """A /maps record cut down to what /places sends (no ids but cid, no hours or price)."""
    source = dict(place)
    if "type" in source:
        source["category"] = source["type"]
    count = source.get("ratingCount")
    if isinstance(count, int) and count >= 1000 and hl.split("-")[0].lower() in _TRUNCATING_HL:
        source["ratingCount"] = count // 1000
    item: dict = {"position": position}
    item.update({k: source[k] for k in _PLACES_FIELDS if k in source})
    return item
