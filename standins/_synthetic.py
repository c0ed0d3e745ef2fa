"""Procedural markets of any size, for benchmarks that need thousands of tracked businesses."""

from __future__ import annotations

import base64
import math
import random

from standins._cities import CITIES, City

_CATEGORIES = ("coffee", "dentist", "hair")

_TYPES = {
    "coffee": {"en": "Coffee shop", "de": "Café", "ja": "カフェ", "fr": "Café"},
    "dentist": {"en": "Dentist", "de": "Zahnarzt", "ja": "歯科医院", "fr": "Dentiste"},
    "hair": {"en": "Hair salon", "de": "Friseursalon", "ja": "美容院", "fr": "Salon de coiffure"},
}
_SUFFIXES = {
    "coffee": {
        "en": ("Coffee", "Coffee Co.", "Roasters", "Espresso"),
        "de": ("Café", "Kaffeebar", "Kaffeehaus", "Rösterei"),
        "ja": ("Coffee", "カフェ", "珈琲", "Roastery"),
        "fr": ("Café", "Brûlerie", "Caféothèque", "Torréfacteur"),
    },
    "dentist": {
        "en": ("Dental", "Dental Care", "Family Dentistry", "Smiles"),
        "de": ("Zahnarztpraxis", "Zahnzentrum", "Zahnärzte", "Zahnklinik"),
        "ja": ("歯科", "デンタルクリニック", "歯科医院", "Dental Office"),
        "fr": ("Cabinet Dentaire", "Dentaire", "Clinique Dentaire", "Sourire"),
    },
    "hair": {
        "en": ("Hair Salon", "Hair Studio", "Barbers", "Salon"),
        "de": ("Friseure", "Haarstudio", "Friseursalon", "Barbier"),
        "ja": ("Hair", "美容室", "ヘアサロン", "Salon"),
        "fr": ("Coiffure", "Salon de Coiffure", "Barbier", "Studio Coiffure"),
    },
}
_ADJECTIVES = (
    "Golden", "Blue", "Little", "Urban", "Copper", "Maple", "Silver", "Green", "Northside",
    "Sunny", "Hidden", "Iron", "Cedar", "Harbor", "Lucky", "Velvet", "Bright", "Wild", "Quiet",
    "Crimson", "Twin", "Amber", "Coastal", "Rustic", "Noble", "Hollow", "Modern", "Gentle",
    "Royal", "Misty", "Vivid", "Honest", "Happy", "Cosmic", "Polar", "Early", "Lazy", "Swift",
    "Tidy", "Bold",
)  # fmt: skip
_NOUNS = (
    "Fox", "Bean", "Leaf", "Anchor", "Lantern", "Sparrow", "Oak", "River", "Bridge", "Mill",
    "Garden", "Pine", "Stone", "Bear", "Owl", "Bee", "Tide", "Peak", "Field", "Brook", "Comet",
    "Harbour", "Willow", "Falcon", "Meadow", "Ember", "Otter", "Heron", "Cobble", "Summit",
    "Orchard", "Acorn", "Pebble", "Wren", "Badger", "Canyon", "Tulip", "Raven", "Lark", "Clover",
)  # fmt: skip
_STREETS = (
    "Oak", "Elm", "Main", "Park", "Lake", "Hill", "Church", "Mill", "River", "King", "Queen",
    "Station", "Market", "Garden", "Bridge", "Forest", "Spring", "Union", "Victoria", "Harbor",
)  # fmt: skip
_DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "ja": ("月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日", "日曜日"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}
_CLOSED = {"en": "Closed", "de": "Geschlossen", "ja": "定休日", "fr": "Fermé"}
_PRICES = {
    "us": ("$", "$$", "$10–20", "$1–10"),
    "ca": ("$", "$$", "$10–20"),
    "de": ("€10–20", "1–10 €", "€€"),
    "fr": ("10-20 €", "€€", "1-10 €"),
    "jp": ("¥1,000~2,000", "￥1～1,000", "¥2,000～3,000"),
    "gb": ("£10–20", "££", "£1–10"),
}


def build(n_businesses: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Places and tracked rows: each business sits in a cluster of same-category neighbours."""
    rng = random.Random(seed)
    places: list[dict] = []
    tracked: list[dict] = []
    taken: dict[str, set[str]] = {c.key: set() for c in CITIES}
    for i in range(n_businesses):
        # Round-robin over cities keeps every country and language represented at any size.
        city = CITIES[i % len(CITIES)]
        category = rng.choice(_CATEGORIES)
        lat, lng = _offset(rng, city.lat, city.lng, 12.0)
        own = _place(rng, city, category, lat, lng, _name(rng, city, category, taken[city.key]))
        places.append(own)
        tracked.append(
            {
                "name": own["title"],
                "website": "",
                "location": city.location,
                "gl": city.gl,
                "hl": city.hl,
            }
        )
        for _ in range(rng.randint(13, 17)):
            clat, clng = _offset(rng, lat, lng, 3.0)
            name = _name(rng, city, category, taken[city.key])
            places.append(_place(rng, city, category, clat, clng, name))
    return places, tracked


def _offset(rng: random.Random, lat: float, lng: float, max_km: float) -> tuple[float, float]:
    # Uniform over a disc, so clusters are not crowded at the exact centre.
    r = max_km * math.sqrt(rng.random())
    theta = rng.random() * 2 * math.pi
    dlat = r * math.cos(theta) / 111.0
    dlng = r * math.sin(theta) / (111.0 * math.cos(math.radians(lat)))
    return round(lat + dlat, 7), round(lng + dlng, 7)


def _name(rng: random.Random, city: City, category: str, taken: set[str]) -> str:
    # Titles are unique within a city so that every tracked business resolves to itself; real
    # markets share titles, which the bundled sample covers instead.
    suffixes = _SUFFIXES[category][city.hl]
    for _ in range(20):
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(suffixes)}"
        if name not in taken:
            taken.add(name)
            return name
    n = len(taken)
    name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(suffixes)} {n}"
    taken.add(name)
    return name


def _address(rng: random.Random, city: City) -> str:
    number = rng.randint(1, 2999)
    street = rng.choice(_STREETS)
    town = city.location.split(",")[0]
    if city.hl == "de":
        postcode = rng.randint(10000, 99999)
        return f"{street}straße {number % 200 + 1}, {postcode} {town}"
    if city.hl == "ja":
        postcode = f"{rng.randint(100, 999)}-{rng.randint(0, 9999):04d}"
        block = f"{number % 9 + 1}丁目{number % 30 + 1}−{number % 20 + 1}"
        return f"日本、〒{postcode} {town} {block}"
    if city.hl == "fr":
        return f"{number % 200 + 1} Rue {street}, {rng.randint(75001, 75020)} {town}"
    region = city.location.split(",")[1].strip()
    return f"{number} {street} St, {town}, {region}"


def _hours(rng: random.Random, hl: str) -> dict[str, str]:
    days = _DAYS[hl]
    opens, closes = rng.choice((7, 8, 9, 10)), rng.choice((17, 18, 19, 20))
    if hl == "en":
        weekday = f"{opens}\u202fAM–{closes - 12}\u202fPM"
    elif hl == "ja":
        weekday = f"{opens}時00分～{closes}時00分"
    else:
        weekday = f"{opens:02d}:00–{closes:02d}:00"
    sunday = _CLOSED[hl] if rng.random() < 0.5 else weekday
    # Serper starts the week at the day of the request.
    start = rng.randrange(7)
    return {days[(start + k) % 7]: (sunday if (start + k) % 7 == 6 else weekday) for k in range(7)}


def _b64(rng: random.Random, length: int) -> str:
    # URL-safe base64 of random bytes: the alphabet of Google's ids, at a fraction of the cost
    # of drawing characters one by one.
    return base64.urlsafe_b64encode(rng.randbytes(length)).decode()[:length]


def _place(
    rng: random.Random, city: City, category: str, lat: float, lng: float, title: str
) -> dict:
    cid = str(rng.getrandbits(64))
    ids = {
        "cid": cid,
        "fid": f"0x{rng.getrandbits(64):016x}:0x{int(cid):x}",
        "placeId": "ChIJ" + _b64(rng, 23),
    }
    if rng.random() < 0.01:
        # The barest record Serper has been seen to send.
        return {"title": title, "latitude": lat, "longitude": lng, **ids}
    place: dict = {
        "title": title,
        "address": _address(rng, city),
        "latitude": lat,
        "longitude": lng,
    }
    if rng.random() < 0.9:
        count = int(rng.lognormvariate(4.5, 1.2)) + 1
        rating = 5 if count < 15 and rng.random() < 0.5 else round(rng.uniform(3.5, 4.9), 1)
        place["rating"] = rating
        place["ratingCount"] = count
    if category != "dentist" and rng.random() < 0.6:
        place["priceLevel"] = rng.choice(_PRICES[city.gl])
    kind = _TYPES[category][city.hl]
    place["type"] = kind
    place["types"] = [kind]
    if rng.random() < 0.7:
        domain = title.lower().encode("ascii", "ignore").decode()
        domain = "".join(ch for ch in domain if ch.isalnum()) or f"biz{cid[-6:]}"
        scheme = "http" if rng.random() < 0.2 else "https"
        tracking = "?utm_source=gmb" if rng.random() < 0.2 else ""
        place["website"] = f"{scheme}://{domain}.example.{city.gl}/{tracking}"
    if rng.random() < 0.85:
        place["phoneNumber"] = (
            f"+{rng.randint(1, 81)} {rng.randint(100, 999)} {rng.randint(1000000, 9999999)}"
        )
    if rng.random() < 0.2:
        place["description"] = f"{kind} in {city.location.split(',')[0]}."
    if rng.random() < 0.6:
        place["openingHours"] = _hours(rng, city.hl)
    if rng.random() < 0.9:
        place["thumbnailUrl"] = (
            "https://lh5.googleusercontent.com/p/AF1Qip" + _b64(rng, 38) + "=w80-h106-k-no"
        )
    place.update(ids)
    return place
