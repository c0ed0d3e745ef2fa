"""On-demand comparisons inside a run: the requested business in, the outcome out.

The `request` command and the sensor only touch the request store; the warehouse is written here,
by the run, which is allowed to wait its turn for DuckDB's file lock.
"""

from __future__ import annotations

from datetime import date

from resources.request_store import RequestStore
from workflows.tracking import store_businesses

REQUEST_ID_TAG = "competitor-insights/request_id"
REQUEST_LABEL_TAG = "competitor-insights/request"


def register(store: RequestStore, warehouse, request_id: str, source: str) -> str:
    """Put the requested business in `tracked_businesses` (not tracked nightly unless it already
    was) and return its id."""
    request = store.get(request_id)
    if request is None:
        raise LookupError(f"comparison request {request_id} is not in the request store")
    # The sensor has already tagged the run with this id, so it must not be merged into another.
    store_businesses(warehouse, [request.business], source, active=False, merge_known=False)
    return request.business_id


def outcome(warehouse, business_id: str, night: date) -> tuple[str, str | None]:
    """("done", None) when tonight's report exists, else ("failed", the reason there is none)."""
    params = [night, business_id]
    if warehouse.query("SELECT 1 AS one FROM reports WHERE night = ? AND business_id = ?", params):
        return "done", None
    snapshot = warehouse.query(
        "SELECT status, error FROM business_snapshots WHERE night = ? AND business_id = ?", params
    )
    if snapshot and snapshot[0]["status"] != "ok":
        return "failed", snapshot[0]["error"] or snapshot[0]["status"]
    failures = warehouse.query(
        "SELECT stage, error FROM stage_failures WHERE night = ? AND business_id = ? "
        "ORDER BY stage",
        params,
    )
    if failures:
        return "failed", "; ".join(f"{f['stage']}: {f['error']}" for f in failures)
    return "failed", "the run wrote no report for this business"


def finish(store: RequestStore, warehouse, request_id: str, night: date, run_id: str) -> str:
    """Record the request's outcome in the store; returns the status recorded."""
    request = store.get(request_id)
    if request is None:
        raise LookupError(f"comparison request {request_id} is not in the request store")
    status, error = outcome(warehouse, request.business_id, night)
    store.finish(request_id, status, run_id=run_id, error=error)
    return status
