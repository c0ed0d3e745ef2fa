"""The `competitor-insights` command line: the same stages and job the Dagster UI runs."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from datetime import date
from pathlib import Path

from cli.errors import CommandError
from cli.home import ensure_dagster_home
from cli.inprocess import (
    LAUNCHED_BY_CLI,
    LAUNCHED_BY_TAG,
    exclusive_runs,
    fail_abandoned_runs,
    terse_console_logger,
)
from resources.settings import SettingError, Settings

logger = logging.getLogger("competitor_insights")


def _open_warehouse(settings: Settings):
    from resources.warehouse import Warehouse

    warehouse = Warehouse.from_url(settings.warehouse_url)
    warehouse.migrate()
    return warehouse


def _check_nights(first: date, last: date) -> None:
    from assets.partitions import nightly_partitions

    if first > last:
        raise CommandError(f"--from {first} comes after --to {last}")
    for night in (first, last):
        if not nightly_partitions.has_partition_key(night.isoformat()):
            raise CommandError(
                f"{night} is not a night the product keeps: nights run from "
                f"{nightly_partitions.get_first_partition_key()} to today "
                f"({nightly_partitions.get_last_partition_key()} in NIGHTLY_TIMEZONE)"
            )


def run_nightly_job(
    settings: Settings,
    night: date,
    *,
    last: date | None = None,
    business_ids: list[str] | None = None,
):
    """Run `nightly_refresh_job` in this process for one night, or for the nights from `night`
    to `last` as one run (as a backfill of that range would)."""
    import dagster as dg

    from assets.partitions import BUSINESS_IDS_TAG
    from pipelines.definitions import build_definitions

    last = last or night
    _check_nights(night, last)
    definitions = build_definitions(settings, loggers={"console": terse_console_logger()})
    job = definitions.resolve_job_def("nightly_refresh_job")
    tags = {LAUNCHED_BY_TAG: LAUNCHED_BY_CLI}
    if business_ids:
        tags[BUSINESS_IDS_TAG] = ",".join(business_ids)
    partition_key = night.isoformat()
    if last != night:
        partition_key = None
        # The tags a single-run backfill of the range carries.
        tags["dagster/asset_partition_range_start"] = night.isoformat()
        tags["dagster/asset_partition_range_end"] = last.isoformat()
    with exclusive_runs(settings.data_dir):
        ensure_dagster_home(settings)
        with dg.DagsterInstance.get() as instance:
            fail_abandoned_runs(instance)
            return _execute(job, instance, partition_key, tags)


def _execute(job, instance, partition_key: str | None, tags: dict):
    from schedules.alerts import run_failure_text

    result = job.execute_in_process(
        partition_key=partition_key,
        instance=instance,
        tags=tags,
        raise_on_error=False,
        # Progress lines, not Dagster's debug event stream.
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    if not result.success:
        raise CommandError(run_failure_text(instance, result.run_id) or "the run failed")
    return result


def cmd_track(settings: Settings, args) -> int:
    from workflows.tracking import import_csv_text

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text; save it as UTF-8 CSV") from None
    from insights.tracking import HeaderError

    try:
        summary = import_csv_text(_open_warehouse(settings), text, settings.data_source)
    except HeaderError as error:
        raise CommandError(f"{path}: {error}") from None
    for problem in summary.problems:
        print(f"{path}: skipped {problem}", file=sys.stderr)
    print(
        f"{path}: {summary.added} added, {summary.updated} updated, {summary.merged} duplicate "
        f"rows merged, {len(summary.problems)} skipped"
    )
    return 1 if summary.problems and not (summary.added or summary.updated) else 0


def cmd_refresh(settings: Settings, args) -> int:
    if args.date and (args.first or args.last):
        raise CommandError("give either --date or --from/--to, not both")
    first = args.first or args.date or args.last or settings.today()
    last = args.last or args.date or first
    if settings.offline:
        print("SERPER_API_KEY is not set: refreshing the bundled sample market.", file=sys.stderr)
    run_nightly_job(settings, first, last=last)
    if first == last:
        _print_night(settings, first)
    else:
        _print_nights(settings, first, last)
    return 0


def _print_nights(settings: Settings, first: date, last: date) -> None:
    rows = _open_warehouse(settings).query(
        "SELECT night, count(*) AS reports FROM reports WHERE night BETWEEN ? AND ? "
        "GROUP BY night ORDER BY night",
        [first, last],
    )
    for row in rows:
        print(f"{row['night']}: {row['reports']} reports")
    print(f"{first} to {last} refreshed in one run; Markdown files under {settings.reports_dir}")


def _print_night(settings: Settings, night: date) -> None:
    warehouse = _open_warehouse(settings)
    rows = warehouse.query(
        "SELECT r.business_id, r.markdown, s.title FROM reports r "
        "JOIN business_snapshots s ON s.night = r.night AND s.business_id = r.business_id "
        "WHERE r.night = ? ORDER BY s.title",
        [night],
    )
    failed = warehouse.query(
        "SELECT f.business_id, f.stage, f.error, coalesce(t.name, t.website) AS label "
        "FROM stage_failures f JOIN tracked_businesses t ON t.business_id = f.business_id "
        "WHERE f.night = ? ORDER BY f.stage, label",
        [night],
    )
    # A dozen reports read well in a terminal; beyond that, point to the files instead.
    if len(rows) <= 12:
        for row in rows:
            print(row["markdown"])
            print("-" * 80)
    print(f"{night}: {len(rows)} reports in {settings.warehouse_url}")
    if not rows and not warehouse.query("SELECT 1 AS one FROM tracked_businesses LIMIT 1"):
        print("No businesses are tracked yet: add some with `competitor-insights track FILE`.")
    print(f"Markdown files: {settings.reports_dir / night.isoformat()}")
    for row in failed:
        print(f"no report for {row['label']} ({row['stage']}): {row['error']}")


def cmd_compare(settings: Settings, args) -> int:
    from cli.requests import business_from_args
    from workflows.tracking import store_businesses

    business = business_from_args(args)
    warehouse = _open_warehouse(settings)
    # Compared on demand, not tracked every night, unless it already was.
    store_businesses(warehouse, [business], settings.data_source, active=False)
    night = settings.today()
    run_nightly_job(settings, night, business_ids=[business.business_id])
    return _print_report(warehouse, business.business_id, business.label)


def _print_report(warehouse, business_id: str, label: str) -> int:
    from workflows.reporting import latest_report
    from workflows.requests import outcome

    report = latest_report(warehouse, business_id)
    if report is None:
        rows = warehouse.query(
            "SELECT max(night) AS night FROM business_snapshots WHERE business_id = ?",
            [business_id],
        )
        night = rows[0]["night"] if rows else None
        reason = outcome(warehouse, business_id, night)[1] if night else "never refreshed yet"
        raise CommandError(f"no report for {label}: {reason}")
    print(report["markdown"])
    return 0


def cmd_report(settings: Settings, args) -> int:
    from cli.requests import looks_like_request_id, report_for_request

    if looks_like_request_id(args.name):
        markdown = report_for_request(settings, args.name)
        if markdown is not None:
            print(markdown)
            return 0
    name = args.name.strip()
    if not name:
        raise CommandError("give a business name (or part of it), a website or an id")
    warehouse = _open_warehouse(settings)
    business_id, label = _find_business(warehouse, name)
    return _print_report(warehouse, business_id, label)


def _find_business(warehouse, name: str) -> tuple[str, str]:
    """The one business `name` designates, preferring an exact name and nightly tracking."""
    # strpos, not LIKE: a name may contain % or _ and must match literally.
    matches = warehouse.query(
        "SELECT t.business_id, t.place_id, t.active, t.location, "
        "coalesce(max(s.title), t.name, t.website) AS label FROM tracked_businesses t "
        "LEFT JOIN business_snapshots s ON s.business_id = t.business_id "
        "WHERE strpos(lower(coalesce(t.name, '')), ?) > 0 "
        "OR strpos(lower(coalesce(s.title, '')), ?) > 0 "
        "OR strpos(lower(coalesce(t.website, '')), ?) > 0 OR t.business_id = ? "
        "GROUP BY t.business_id, t.place_id, t.active, t.location, t.name, t.website",
        [name.casefold()] * 3 + [name],
    )
    if not matches:
        raise CommandError(f"no tracked or compared business matches {name!r}")
    exact = [m for m in matches if str(m["label"]).casefold() == name.casefold()]
    candidates = exact or matches
    # Several ids for one Google place (tracked, and compared under another description):
    # the nightly-tracked one speaks for the place.
    by_place: dict = {}
    for m in sorted(candidates, key=lambda m: not m["active"]):
        by_place.setdefault(m["place_id"] or m["business_id"], m)
    if len(by_place) > 1:
        listing = "\n".join(
            f"  {m['business_id']}  {m['label']}  ({m['location'] or 'no location'}; "
            f"{'tracked nightly' if m['active'] else 'compared on demand'})"
            for m in by_place.values()
        )
        raise CommandError(f"{name!r} matches {len(by_place)} businesses; give one id:\n{listing}")
    chosen = next(iter(by_place.values()))
    return chosen["business_id"], chosen["label"]


def cmd_ui(settings: Settings, args) -> int:
    home = ensure_dagster_home(settings)
    workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
    # This interpreter's Dagster, so `.venv/bin/competitor-insights ui` works without activating.
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(workspace),
               "-h", args.host, "-p", str(args.port)]  # fmt: skip
    print(f"DAGSTER_HOME={home}; starting: dagster {' '.join(command[3:])}", file=sys.stderr)
    # A background job of a script starts with SIGINT ignored, and Dagster copies SIGINT's
    # setting onto SIGTERM: restore both, or nothing could stop the UI but SIGKILL.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.execv(command[0], command)
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-12-04") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="competitor-insights",
        description="How local businesses stand against the competitors near them.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    track = sub.add_parser("track", help="import tracked businesses from a CSV file")
    track.add_argument("file", help="CSV with the header name,website,location,gl,hl")
    track.set_defaults(handler=cmd_track)
    refresh = sub.add_parser(
        "refresh", help="run the nightly job in-process for one night (default: today) or a range"
    )
    refresh.add_argument("--date", type=_date, help="YYYY-MM-DD")
    refresh.add_argument("--from", dest="first", type=_date, help="first night of a range")
    refresh.add_argument("--to", dest="last", type=_date, help="last night of a range (one run)")
    refresh.set_defaults(handler=cmd_refresh)
    compare = sub.add_parser("compare", help="compare one business now and print its report")
    compare.add_argument("business", nargs="?", help='"NAME, CITY"')
    compare.add_argument("--website", help="the business's website instead of a name")
    compare.add_argument("--gl", help="country code for the search, e.g. us, de")
    compare.add_argument("--hl", help="language code for the search, e.g. en, de")
    compare.set_defaults(handler=cmd_compare)
    report = sub.add_parser(
        "report", help="print the latest stored report of a business, or a request's report"
    )
    report.add_argument("name", help="request id, or name (or part of it), website or business id")
    report.set_defaults(handler=cmd_report)
    _add_request_commands(sub)
    ui = sub.add_parser("ui", help="start the Dagster UI (dagster dev) on this machine")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=cmd_ui)
    return parser


def _add_request_commands(sub) -> None:
    from cli import alerts, requests

    request = sub.add_parser(
        "request", help="queue a comparison for the running Dagster daemon; prints its id"
    )
    request.add_argument("business", nargs="?", help='"NAME, CITY"')
    request.add_argument("--website", help="the business's website instead of a name")
    request.add_argument("--gl", help="country code for the search, e.g. us, de")
    request.add_argument("--hl", help="language code for the search, e.g. en, de")
    request.set_defaults(handler=requests.cmd_request)
    status = sub.add_parser("status", help="queued, running, done or failed, for a request id")
    status.add_argument("request_id")
    status.set_defaults(handler=requests.cmd_status)
    listing = sub.add_parser("alerts", help="list recent alerts and their webhook delivery")
    listing.add_argument("--night", type=_date, help="only this night")
    listing.add_argument("--limit", type=int, default=30)
    listing.add_argument(
        "--deliver", action="store_true", help="post what the webhook has not taken yet, now"
    )
    listing.set_defaults(handler=alerts.cmd_alerts)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # One line per HTTP request or schema check is noise at a terminal.
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
        return args.handler(settings, args)
    except (CommandError, SettingError) as error:
        print(f"competitor-insights {args.command}: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Output piped into `head` or a pager that quit: not an error of ours.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stops the flush at exit failing again
        return 0
    except Exception as error:  # noqa: BLE001 - last resort: one line, not a traceback
        from resources.warehouse import WarehouseError

        if isinstance(error, WarehouseError):
            print(f"competitor-insights {args.command}: {error}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
