"""On-demand comparisons from the command line: `request`, `status` and `report ID`.

`request` and `status` read and write only the request store and Dagster's run records, never
the warehouse, so they answer at once even while a nightly run is writing to DuckDB.
"""

from __future__ import annotations

import sys
import time

from cli.errors import CommandError
from insights.tracking import TrackedBusiness, make_business
from resources.request_store import ID_LENGTH, Request, RequestStore
from resources.settings import Settings
from workflows.requests import REQUEST_ID_TAG

# How long a request may wait without a run before `status` asks whether the daemon is up.
_DAEMON_HINT_AFTER_S = 20


def business_from_args(args) -> TrackedBusiness:
    """The business named by `"NAME, CITY"` or `--website URL` (with --gl/--hl)."""
    if args.website:
        name, location, website = None, None, args.website
    elif args.business:
        name, _, location = args.business.partition(",")
        website = None
    else:
        raise CommandError('give a business as "NAME, CITY" or --website URL')
    try:
        return make_business(name, website, location.strip() or None if location else None,
                             args.gl, args.hl)  # fmt: skip
    except ValueError as error:
        raise CommandError(f"cannot compare this business: {error}") from None


def open_store(settings: Settings) -> RequestStore:
    return RequestStore.from_url(settings.request_store_url)


def cmd_request(settings: Settings, args) -> int:
    business = business_from_args(args)
    request = open_store(settings).add(business, settings.today())
    print(request.id)
    print(
        f"Comparison of {business.label} requested for {request.night}. Follow it with: "
        f"competitor-insights status {request.id}",
        file=sys.stderr,
    )
    return 0


def _find(settings: Settings, request_id: str) -> Request:
    request = open_store(settings).get(request_id.strip())
    if request is None:
        raise CommandError(f"there is no comparison request {request_id!r}")
    return request


def request_state(settings: Settings, request: Request) -> tuple[str, str | None, str | None]:
    """(status, detail, run id): the outcome the run recorded, else the state of its run."""
    if request.status in ("done", "failed"):
        return request.status, request.error, request.run_id
    import dagster as dg

    from cli.home import ensure_dagster_home
    from schedules.alerts import run_failure_text

    ensure_dagster_home(settings)  # the instance the UI and its daemon use
    with dg.DagsterInstance.get() as instance:
        tagged = dg.RunsFilter(tags={REQUEST_ID_TAG: request.id})
        runs = instance.get_runs(filters=tagged, limit=1)
        if not runs:
            return "queued", _waiting_hint(instance, request), None
        run = runs[0]
        if run.status in (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING):
            return "running", None, run.run_id
        if run.status == dg.DagsterRunStatus.SUCCESS:
            return "done", None, run.run_id
        if run.status == dg.DagsterRunStatus.FAILURE:
            return "failed", run_failure_text(instance, run.run_id), run.run_id
        if run.status == dg.DagsterRunStatus.CANCELED:
            return "failed", "the run was canceled", run.run_id
        return "queued", "its run is waiting to start", run.run_id


def _waiting_hint(instance, request: Request) -> str:
    from resources.request_store import utc_now

    waited = (utc_now() - request.created_at).total_seconds()
    if waited > _DAEMON_HINT_AFTER_S:
        # Dagster calls a daemon healthy for minutes after its last heartbeat; a running sensor
        # daemon beats every few seconds, so a minute of silence means it is not running.
        beat = instance.get_daemon_heartbeats().get("SENSOR")
        if beat is None or time.time() - beat.timestamp > 60:
            return (
                "no Dagster daemon is running, so nothing picks requests up: start it with "
                "`competitor-insights ui` (or `dagster dev`) using the same DAGSTER_HOME"
            )
    return "waiting for the comparison sensor to start its run"


def cmd_status(settings: Settings, args) -> int:
    request = _find(settings, args.request_id)
    status, detail, run_id = request_state(settings, request)
    print(f"request   {request.id}")
    print(f"business  {request.business.label}")
    print(f"night     {request.night}")
    print(f"status    {status}")
    if detail:
        print(f"{'error' if status == 'failed' else 'detail':<9} {detail}")
    if run_id:
        print(f"run       {run_id}")
    if status == "done":
        print(f"report    competitor-insights report {request.id}")
    return 0


def looks_like_request_id(text: str) -> bool:
    return len(text) == ID_LENGTH and text.isalnum() and text.islower()


def report_for_request(settings: Settings, request_id: str) -> str | None:
    """The Markdown report of a finished request; None when no request has this id."""
    request = open_store(settings).get(request_id)
    if request is None:
        return None
    status, detail, _ = request_state(settings, request)
    if status != "done":
        reason = f": {detail}" if detail else ""
        raise CommandError(f"request {request.id} is {status}{reason}")
    from resources.warehouse import Warehouse

    rows = Warehouse.from_url(settings.warehouse_url).query(
        "SELECT markdown FROM reports WHERE night = ? AND business_id = ?",
        [request.night, request.business_id],
    )
    if not rows:
        raise CommandError(
            f"request {request.id} finished, but its report for {request.night} is no longer "
            f"in {settings.warehouse_url}"
        )
    return rows[0]["markdown"]
