"""Who is who: normalised websites and names, and picking a tracked business out of search results.

A business is found by its website's domain when it has one (chains share names, never
domains... except when branches share a site, which the location then settles), otherwise by
a fuzzy match of its name. Its identity across nights is Google's place id, never its name.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from insights.places import Place

# Below this similarity two names are different businesses; chosen so that "Joe's Coffee" and
# "Joes Coffee Austin" match while "Joe's Pizza" and "Joe's Coffee" do not.
NAME_MATCH_THRESHOLD = 0.72

_NAME_NOISE = {"the", "and", "&", "inc", "llc", "ltd", "gmbh", "co", "corp", "company"}


def normalize_domain(url: str | None) -> str | None:
    """`https://www.Example.com/path?utm=x` → `example.com`; None when there is no host."""
    if not url or not url.strip():
        return None
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    if not host or "." not in host:
        return None
    host = host.rstrip(".").lower()
    for prefix in ("www.", "m."):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def fold_text(text: str) -> str:
    """Case- and accent-insensitive form of a text, keeping non-Latin scripts intact."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_name(name: str | None) -> str:
    if not name:
        return ""
    folded = fold_text(name).replace("'", "").replace("\u2019", "")
    tokens = re.findall(r"\w+", folded)
    return " ".join(t for t in tokens if t not in _NAME_NOISE)


def name_similarity(a: str | None, b: str | None) -> float:
    """0..1; a name contained whole in the other (a branch suffix, a city) counts as a match."""
    left, right = normalize_name(a), normalize_name(b)
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    shorter, longer = sorted((left, right), key=len)
    if f" {shorter} " in f" {longer} ":
        return 0.9
    return difflib.SequenceMatcher(None, left, right).ratio()


def business_key(name: str | None, website: str | None, location: str | None) -> str:
    """A stable id for a tracked business, derived from what the user gave us.

    The website's domain wins when present, so two rows naming the same site merge.
    """
    domain = normalize_domain(website)
    if domain:
        basis = f"web:{domain}"
    else:
        basis = f"name:{normalize_name(name)}|{fold_text(location or '').strip()}"
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Match:
    place: Place
    reason: str


def pick_business(
    candidates: list[Place],
    *,
    name: str | None,
    website: str | None,
    known_identity: str | None = None,
) -> Match | None:
    """The candidate that is the tracked business, or None when none is convincing."""
    if known_identity:
        for place in candidates:
            if place.identity == known_identity:
                return Match(place, "same place id as on earlier nights")
    domain = normalize_domain(website)
    if domain:
        same_site = [p for p in candidates if normalize_domain(p.website) == domain]
        if name:
            same_site.sort(key=lambda p: -name_similarity(name, p.title))
        if same_site:
            return Match(same_site[0], f"website domain {domain}")
    if name:
        scored = [(name_similarity(name, p.title), p) for p in candidates]
        scored = [(s, p) for s, p in scored if s >= NAME_MATCH_THRESHOLD]
        if scored:
            # Stable: equal scores keep Serper's order, which already weighs the location.
            best_score, best = max(scored, key=lambda sp: sp[0])
            return Match(best, f"name similarity {best_score:.2f}")
    return None
