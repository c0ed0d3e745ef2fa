"""Text folding, tokens and category synonyms shared by the sample market's search."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters NFKD cannot take apart: without this table "Yıldız" and "Straße" would never match
# the ASCII spellings people type.
_SPECIAL = str.maketrans({"ı": "i", "ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d"})
# German writes "ü" as "ue" when a keyboard lacks it; collapsing both spellings to "u" on both
# sides of a comparison lets "Mueller" find "Müller" (and harms nothing, being symmetric).
_DIGRAPHS = re.compile(r"(?<=[a-z])(ae|oe|ue)")
_LATIN_MARKS = re.compile("[\u0300-\u036f]")
_TOKEN = re.compile(r"\w+")
_STOPWORDS = frozenset({"in", "near", "me", "the", "of", "at", "and", "und", "a", "an", "de"})


def fold(text: str) -> str:
    """Lower-case, accent-free, width-normalised form used for every comparison."""
    text = text.casefold()
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
        # Only Latin combining accents go: the Japanese voicing marks are combining characters
        # too, and dropping them would turn デ into テ.
        text = unicodedata.normalize("NFC", _LATIN_MARKS.sub("", decomposed))
    return _DIGRAPHS.sub(_first_letter, text)


def _first_letter(match: re.Match[str]) -> str:
    return match.group(1)[0]


def tokens(text: str) -> list[str]:
    return [_singular(t) for t in _TOKEN.findall(fold(text))]


def significant_tokens(text: str) -> list[str]:
    return [t for t in tokens(text) if t not in _STOPWORDS]


def squeeze(text: str) -> str:
    """Folded text without spaces or punctuation, for scripts that do not separate words."""
    return "".join(_TOKEN.findall(fold(text)))


def _singular(token: str) -> str:
    # Crude, but enough for "dentists" or "coffee shops"; applied on both sides of a comparison.
    if len(token) > 3 and token.isascii() and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


_URLISH = re.compile(r"^(https?://)?([\w-]+\.)+[a-z]{2,}(:\d+)?([/?#].*)?$", re.IGNORECASE)


def looks_like_url(text: str) -> bool:
    text = text.strip()
    return " " not in text and bool(_URLISH.match(text))


# Canonical category -> folded phrases that name it, in the languages the sample market uses.
# Google answers category searches with the localised type ("Café", "カフェ"), so a client
# asking for "coffee shop" in Berlin must still find them.
CATEGORY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "coffee": (
        "coffee shop",
        "coffee",
        "coffeeshop",
        "coffee house",
        "coffee roaster",
        "cafe",
        "espresso bar",
        "espresso",
        "kaffee",
        "kaffeehaus",
        "kaffeebar",
        "kaffeerosterei",
        "brulerie",
        "カフェ",
        "喫茶店",
        "喫茶",
        "コーヒーショップ",
        "コーヒー",
        "珈琲",
    ),
    "dentist": (
        "dentist",
        "dental",
        "dental clinic",
        "dentistry",
        "orthodontist",
        "zahnarzt",
        "zahnarztin",
        "zahnarztpraxis",
        "zahnklinik",
        "zahnzentrum",
        "kieferorthopade",
        "dentiste",
        "cabinet dentaire",
        "dentaire",
        "歯科医院",
        "歯科",
        "歯医者",
        "小児歯科",
        "矯正歯科",
        "デンタルクリニック",
    ),
    "hair": (
        "hair salon",
        "hair",
        "hairdresser",
        "salon",
        "barber",
        "barber shop",
        "barbershop",
        "beauty salon",
        "friseur",
        "friseursalon",
        "barbier",
        "coiffeur",
        "coiffure",
        "salon de coiffure",
        "美容院",
        "美容室",
        "ヘアサロン",
        "理容室",
        "理髪店",
    ),
}

# Pre-tokenised synonyms: phrase matching works on token sequences so that "cafe" does not match
# inside "cafeteria", while scripts without spaces fall back to substring tests.
_SYNONYM_TOKENS = {
    cat: tuple(tuple(tokens(p)) for p in phrases) for cat, phrases in CATEGORY_SYNONYMS.items()
}
CATEGORY_WORDS = frozenset(t for phrases in _SYNONYM_TOKENS.values() for p in phrases for t in p)


def _has_phrase(haystack: list[str], squeezed: str, phrase: tuple[str, ...]) -> bool:
    if len(phrase) == 1 and not phrase[0].isascii():
        return phrase[0] in squeezed
    n = len(phrase)
    return any(tuple(haystack[i : i + n]) == phrase for i in range(len(haystack) - n + 1))


@lru_cache(maxsize=8192)
def categories_in(text: str) -> frozenset[str]:
    """Canonical categories named anywhere in text (a query, a type, a title)."""
    toks = tokens(text)
    squeezed = squeeze(text)
    return frozenset(
        cat
        for cat, phrases in _SYNONYM_TOKENS.items()
        if any(_has_phrase(toks, squeezed, p) for p in phrases)
    )


def place_categories(place: dict) -> set[str]:
    """Categories of a place from its type and types only: a title mentioning coffee does not
    make a florist a coffee shop."""
    labels = [place.get("type") or ""] + list(place.get("types") or [])
    found: set[str] = set()
    for label in labels:
        if isinstance(label, str) and label:
            found |= categories_in(label)
    return found
