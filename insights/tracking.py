"""Reading the list of tracked businesses a user gives us as CSV.

Each bad row is reported with its line number and reason while the good rows are kept, and
rows that name the same business are merged, so one typo never blocks an import.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from insights.identity import business_key, fold_text, normalize_domain, normalize_name

EXPECTED_HEADER = ("name", "website", "location", "gl", "hl")
_COUNTRY = re.compile(r"^[a-z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,4})?$")


@dataclass
class TrackedBusiness:
    business_id: str
    name: str | None
    website: str | None
    location: str | None
    gl: str | None
    hl: str | None

    @property
    def domain(self) -> str | None:
        return normalize_domain(self.website)

    @property
    def label(self) -> str:
        """How to name the business to a person before Google has told us its title."""
        if self.name:
            return f"{self.name}, {self.location}" if self.location else self.name
        return self.domain or self.website or self.business_id

    def as_row(self) -> dict:
        return {
            "business_id": self.business_id,
            "name": self.name,
            "website": self.website,
            "domain": self.domain,
            "location": self.location,
            "gl": self.gl,
            "hl": self.hl,
        }


@dataclass
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportResult:
    businesses: list[TrackedBusiness] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    merged: int = 0


class HeaderError(ValueError):
    pass


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    return text or None


def make_business(
    name: str | None,
    website: str | None = None,
    location: str | None = None,
    gl: str | None = None,
    hl: str | None = None,
) -> TrackedBusiness:
    """Validate one business description; raises ValueError with a reason a person can act on."""
    name, website, location = _clean(name), _clean(website), _clean(location)
    gl = (_clean(gl) or "").lower() or None
    hl = (_clean(hl) or "").lower() or None
    if not name and not website:
        raise ValueError("needs a name or a website")
    if website and normalize_domain(website) is None:
        raise ValueError(f"website {website!r} is not a web address (example: https://example.com)")
    if gl and not _COUNTRY.match(gl):
        raise ValueError(f"gl {gl!r} is not a two-letter country code (examples: us, de, jp)")
    if hl and not _LANGUAGE.match(hl):
        raise ValueError(f"hl {hl!r} is not a language code (examples: en, de, pt-br)")
    return TrackedBusiness(business_key(name, website, location), name, website, location, gl, hl)


def _location_parts(location: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in fold_text(location or "").split(",") if p.strip())


def same_location(a: str | None, b: str | None) -> bool:
    """Whether two location texts can name the same place.

    "Austin" and "Austin, Texas, United States" can; "12 Main St, Austin" and "9 Oak Ave, Austin"
    cannot, so two branches given with their addresses stay two businesses.
    """
    left, right = _location_parts(a), _location_parts(b)
    if left == right:
        return True
    if not left or not right:
        return False
    shorter, longer = sorted((left, right), key=len)
    return len(shorter) == 1 and shorter[0] == longer[0]


class BusinessIndex:
    """Finds the business a description names among those already known.

    The same website domain is the same business; so is the same name in a compatible
    location; a name given without a location names the one business of that name, if unique.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, TrackedBusiness] = {}
        self._by_domain: dict[str, str] = {}
        self._by_name: dict[str, list[str]] = {}

    def add(self, business: TrackedBusiness) -> None:
        self._by_id[business.business_id] = business
        if business.domain:
            self._by_domain.setdefault(business.domain, business.business_id)
        if business.name:
            self._by_name.setdefault(normalize_name(business.name), []).append(business.business_id)

    def find(self, business: TrackedBusiness) -> TrackedBusiness | None:
        if business.business_id in self._by_id:
            return self._by_id[business.business_id]
        if business.domain and business.domain in self._by_domain:
            return self._by_id[self._by_domain[business.domain]]
        if not business.name:
            return None
        namesakes = [self._by_id[i] for i in self._by_name.get(normalize_name(business.name), [])]
        if business.location is None:
            return namesakes[0] if len(namesakes) == 1 else None
        same_place = [b for b in namesakes if same_location(b.location, business.location)]
        return same_place[0] if len(same_place) == 1 else None


def merge_into(known: TrackedBusiness, business: TrackedBusiness) -> None:
    """Fill what `known` lacks from another description of the same business."""
    for attribute in ("name", "website", "location", "gl", "hl"):
        if getattr(known, attribute) is None:
            setattr(known, attribute, getattr(business, attribute))


def parse_tracked_csv(text: str) -> ImportResult:
    """Parse the CSV text; raises HeaderError when the header is not the expected one."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise HeaderError(
            "the file is empty; expected the header name,website,location,gl,hl"
        ) from None
    columns = [h.strip().lower() for h in header]
    if tuple(columns) != EXPECTED_HEADER:
        raise HeaderError(
            f"the header is {','.join(columns)!r}; expected exactly name,website,location,gl,hl"
        )
    result = ImportResult()
    index = BusinessIndex()
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(EXPECTED_HEADER):
            result.problems.append(
                RowProblem(line, f"has {len(row)} fields, expected {len(EXPECTED_HEADER)}")
            )
            continue
        try:
            business = make_business(*row)
        except ValueError as error:
            result.problems.append(RowProblem(line, str(error)))
            continue
        known = index.find(business)
        if known is None:
            index.add(business)
            result.businesses.append(business)
            continue
        result.merged += 1
        merge_into(known, business)
    return result
