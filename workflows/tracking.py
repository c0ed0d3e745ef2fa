"""Adding businesses to the tracked list: from a user's CSV, or the sample market's own list."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources as package_files

from insights.tracking import BusinessIndex, ImportResult, TrackedBusiness, parse_tracked_csv
from workflows.night import utc_now

SAMPLE_LIST = ("standins", "data/tracked_sample.csv")
_IDENTITY_COLUMNS = ("business_id", "name", "website", "location", "gl", "hl")


@dataclass
class TrackSummary:
    added: int = 0
    updated: int = 0
    merged: int = 0
    problems: list[str] = field(default_factory=list)


def store_businesses(
    warehouse,
    businesses: list[TrackedBusiness],
    source: str,
    *,
    active: bool = True,
    merge_known: bool = True,
) -> tuple[int, int]:
    """Insert new businesses and refresh known ones; returns (added, updated).

    A known business keeps the place id found earlier: re-importing a list never makes the
    product forget whom it has been following. With `merge_known`, a business described
    differently than before (a website added, a shorter location) takes the known one's id;
    callers that already handed the id to someone else (a queued request) turn it off.
    """
    if not businesses:
        return 0, 0
    warehouse.claim_source(source)
    known = {row["business_id"]: row for row in warehouse.query("SELECT * FROM tracked_businesses")}
    index = BusinessIndex()
    for row in known.values():
        index.add(TrackedBusiness(*(row[k] for k in _IDENTITY_COLUMNS)))
    now = utc_now()
    rows = []
    for business in businesses:
        # A business already known under another description keeps its id (and its place id).
        same = index.find(business) if merge_known else None
        if same is not None:
            business.business_id = same.business_id
        earlier = known.get(business.business_id, {})
        given = {k: v for k, v in business.as_row().items() if v is not None}
        rows.append(
            {
                **earlier,
                **given,
                "source": source,
                "active": bool(earlier.get("active")) or active,
                "created_at": earlier.get("created_at") or now,
                "updated_at": now,
            }
        )
    warehouse.upsert("tracked_businesses", rows, key=["business_id"])
    added = len({b.business_id for b in businesses} - set(known))
    return added, len(businesses) - added


def import_csv_text(warehouse, text: str, source: str) -> TrackSummary:
    result: ImportResult = parse_tracked_csv(text)
    added, updated = store_businesses(warehouse, result.businesses, source)
    return TrackSummary(added, updated, result.merged, [str(p) for p in result.problems])


def sample_list_text() -> str:
    package, name = SAMPLE_LIST
    return package_files.files(package).joinpath(name).read_text(encoding="utf-8")


def ensure_sample_businesses(warehouse, log) -> int:
    """On a warehouse with nobody tracked, track the sample market's businesses."""
    if warehouse.query("SELECT 1 AS one FROM tracked_businesses LIMIT 1"):
        return 0
    summary = import_csv_text(warehouse, sample_list_text(), "sample")
    log.info("No tracked businesses yet: tracking the %d sample businesses", summary.added)
    return summary.added
