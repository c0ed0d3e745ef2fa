"""Running the job inside a command: one run at a time per data folder, and a terse log.

Two `refresh` commands started together would race to create Dagster's SQLite storage (which
can leave it unusable) and would pay the API twice for the same night. So the second waits for
the first, then finds the first one's answers in the cache. Holding the lock also proves that
any run a command started earlier and still marked as running was killed: it is marked failed.
"""

from __future__ import annotations

import fcntl
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LAUNCHED_BY_TAG = "competitor-insights/launched-by"
LAUNCHED_BY_CLI = "command-line"


@contextmanager
def exclusive_runs(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".command-run.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(
                f"waiting for another competitor-insights run in {data_dir} to finish...",
                file=sys.stderr,
            )
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fail_abandoned_runs(instance) -> int:
    """Mark as failed the runs a killed command left 'started' (call with the lock held)."""
    import dagster as dg

    abandoned = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
            tags={LAUNCHED_BY_TAG: LAUNCHED_BY_CLI},
        )
    )
    for run in abandoned:
        instance.report_run_failed(run, message="the command that ran it was stopped")
    return len(abandoned)


class TerseDagsterLog(logging.Filter):
    """Keeps Dagster's progress lines and turns failures into one line each.

    The full stack traces stay in the run's event log (and the UI); at a terminal they bury
    the one sentence that says what to fix, which the command prints at the end.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Not executing." in message and "Dependencies for step" in message:
            return False
        if record.levelno >= logging.ERROR and "\n" in message:
            record.msg, record.args = message.split("\n", 1)[0], ()
        return True


def terse_console_logger():
    """A Dagster logger for runs started by a command: progress lines, one line per failure."""
    import dagster as dg

    @dg.logger(
        {"log_level": dg.Field(str, is_required=False, default_value="INFO")},
        description="Console output of runs started from the command line.",
    )
    def terse_console(init_context):
        level = init_context.logger_config["log_level"]
        logger = logging.Logger("competitor_insights.run", level=level)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        handler.addFilter(TerseDagsterLog())
        logger.addHandler(handler)
        return logger

    return terse_console
