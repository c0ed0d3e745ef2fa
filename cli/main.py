"""The `competitor-insights` command line: the same stages and job the Dagster UI runs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date
from pathlib import Path

from resources.settings import SettingError, Settings

logger = logging.getLogger("competitor_insights")


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback."""


def _open_warehouse(settings: Settings):
    from resources.warehouse import Warehouse

    warehouse = Warehouse.from_url(settings.warehouse_url)
    warehouse.migrate()
    return warehouse


def _ensure_dagster_home(settings: Settings) -> Path:
    """Runs from the command line land in the same instance the UI reads, unless told otherwise."""
    home = os.environ.get("DAGSTER_HOME")
    if home:
        return Path(home)
    path = settings.data_dir / "dagster_home"
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        # Without this Dagster also writes telemetry under ~/.dagster.
        config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(path)
    return path


def run_nightly_job(settings: Settings, night: date, *, business_ids: list[str] | None = None):
    """Run `nightly_refresh_job` for one night in this process, as the schedule would."""
    import dagster as dg

    from assets.partitions import BUSINESS_IDS_TAG
    from pipelines.definitions import build_definitions

    _ensure_dagster_home(settings)
    job = build_definitions(settings).resolve_job_def("nightly_refresh_job")
    tags = {BUSINESS_IDS_TAG: ",".join(business_ids)} if business_ids else None
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key=night.isoformat(),
            instance=instance,
            tags=tags,
            raise_on_error=False,
            # Progress lines, not Dagster's debug event stream.
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
    if not result.success:
        raise CommandError(_failure_text(result))
    return result


def _failure_text(result) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            error = event.step_failure_data.error
            detail = error.message.strip().splitlines()[-1] if error.message else str(error)
            if error.cause is not None and "Failure" not in error.cls_name:
                detail = error.cause.message.strip()
            return f"step {event.step_key} failed: {detail}"
    return "the run failed; see the log above"


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
    night = args.date
    if settings.offline:
        print("SERPER_API_KEY is not set: refreshing the bundled sample market.", file=sys.stderr)
    run_nightly_job(settings, night)
    _print_night(settings, night)
    return 0


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
    print(f"Markdown files: {settings.reports_dir / night.isoformat()}")
    for row in failed:
        print(f"no report for {row['label']} ({row['stage']}): {row['error']}")


def cmd_compare(settings: Settings, args) -> int:
    from insights.tracking import make_business
    from workflows.tracking import store_businesses

    if args.website:
        name, location, website = None, None, args.website
    elif args.business:
        name, _, location = args.business.partition(",")
        website = None
    else:
        raise CommandError('give a business as "NAME, CITY" or --website URL')
    try:
        business = make_business(name, website, location.strip() or None if location else None,
                                 args.gl, args.hl)  # fmt: skip
    except ValueError as error:
        raise CommandError(f"cannot compare this business: {error}") from None
    warehouse = _open_warehouse(settings)
    # Compared on demand, not tracked every night, unless it already was.
    store_businesses(warehouse, [business], settings.data_source, active=False)
    night = date.today()
    run_nightly_job(settings, night, business_ids=[business.business_id])
    return _print_report(warehouse, business.business_id, business.label)


def _print_report(warehouse, business_id: str, label: str) -> int:
    from workflows.reporting import latest_report

    report = latest_report(warehouse, business_id)
    if report is None:
        rows = warehouse.query(
            "SELECT status, error FROM business_snapshots WHERE business_id = ? "
            "ORDER BY night DESC LIMIT 1",
            [business_id],
        )
        reason = f"{rows[0]['status']}: {rows[0]['error']}" if rows else "never refreshed"
        raise CommandError(f"no report for {label} ({reason})")
    print(report["markdown"])
    return 0


def cmd_report(settings: Settings, args) -> int:
    warehouse = _open_warehouse(settings)
    needle = f"%{args.name.casefold()}%"
    matches = warehouse.query(
        "SELECT DISTINCT t.business_id, coalesce(s.title, t.name, t.website) AS label "
        "FROM tracked_businesses t LEFT JOIN business_snapshots s "
        "ON s.business_id = t.business_id "
        "WHERE lower(coalesce(t.name, '')) LIKE ? OR lower(coalesce(s.title, '')) LIKE ? "
        "OR lower(coalesce(t.website, '')) LIKE ? OR t.business_id = ?",
        [needle, needle, needle, args.name],
    )
    ids = {m["business_id"]: m["label"] for m in matches}
    if not ids:
        raise CommandError(f"no tracked business matches {args.name!r}")
    if len(ids) > 1:
        listing = "\n".join(f"  {bid}  {label}" for bid, label in ids.items())
        raise CommandError(f"{args.name!r} matches {len(ids)} businesses; give one id:\n{listing}")
    business_id, label = next(iter(ids.items()))
    return _print_report(warehouse, business_id, label)


def cmd_ui(settings: Settings, args) -> int:
    home = _ensure_dagster_home(settings)
    workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
    command = ["dagster", "dev", "-w", str(workspace), "-h", args.host, "-p", str(args.port)]
    print(f"DAGSTER_HOME={home}; starting: {' '.join(command)}", file=sys.stderr)
    os.execvp(command[0], command)
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
    refresh = sub.add_parser("refresh", help="run the nightly job for one night, in-process")
    refresh.add_argument("--date", type=_date, default=date.today(), help="YYYY-MM-DD")
    refresh.set_defaults(handler=cmd_refresh)
    compare = sub.add_parser("compare", help="compare one business now and print its report")
    compare.add_argument("business", nargs="?", help='"NAME, CITY"')
    compare.add_argument("--website", help="the business's website instead of a name")
    compare.add_argument("--gl", help="country code for the search, e.g. us, de")
    compare.add_argument("--hl", help="language code for the search, e.g. en, de")
    compare.set_defaults(handler=cmd_compare)
    report = sub.add_parser("report", help="print the latest stored report of a business")
    report.add_argument("name", help="name (or part of it), website or business id")
    report.set_defaults(handler=cmd_report)
    ui = sub.add_parser("ui", help="start the Dagster UI (dagster dev) on this machine")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=cmd_ui)
    return parser


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
    except Exception as error:  # noqa: BLE001 - last resort: one line, not a traceback
        from resources.warehouse import WarehouseError

        if isinstance(error, WarehouseError):
            print(f"competitor-insights {args.command}: {error}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
