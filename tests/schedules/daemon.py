"""Dagster's own daemon code (sensor and backfill iterations) over our definitions, in-process.

The instance queues runs and never launches them, so a test sees exactly which runs the daemon
would start, without starting any.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context, instance_for_test
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.sensor import execute_sensor_iteration

from pipelines.definitions import build_definitions
from resources.dagster_requests import RequestStoreResource
from resources.request_store import RequestStore
from resources.settings import Settings
from schedules.requests import comparison_request_sensor

_QUEUE_ONLY = {
    "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}
}
_LOG = logging.getLogger("tests.daemon")


@contextmanager
def daemon_workspace(folder: Path) -> Iterator[tuple]:
    """(instance, workspace) for definitions built from the environment (DATA_DIR and so on),
    which the test sets with monkeypatch before entering."""
    module = folder / "defs_under_test.py"
    module.write_text(
        "from pipelines.definitions import build_definitions\ndefs = build_definitions()\n"
    )
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            python_file=str(module),
            attribute="defs",
            working_directory=os.getcwd(),
        ),
        location_name="competitor-insights",
    )
    home = folder / "dagster_home"
    home.mkdir(exist_ok=True)
    with instance_for_test(overrides=_QUEUE_ONLY, temp_dir=str(home)) as instance:
        with create_test_daemon_workspace_context(
            InProcessWorkspaceLoadTarget(origin), instance
        ) as workspace:
            yield instance, workspace


def sensor_state(instance, name: str):
    return next(s for s in instance.all_instigator_state() if s.name == name)


def latest_tick(instance, name: str):
    state = sensor_state(instance, name)
    return instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)[0]


def tick_sensors(workspace, *, forget_cursor_of: str | None = None) -> None:
    """One pass of the sensor daemon; `forget_cursor_of` first drops that sensor's cursor, as
    if the daemon had died after starting the runs but before saving it."""
    instance = workspace.instance
    for state in instance.all_instigator_state():
        if state.instigator_data is None:
            continue
        cursor = None if state.name == forget_cursor_of else state.instigator_data.cursor
        # Also forget when the sensor last ran, so the minimum interval does not skip the tick.
        data = state.instigator_data._replace(
            cursor=cursor, last_tick_timestamp=None, last_tick_start_timestamp=None
        )
        instance.update_instigator_state(state.with_data(data))
    list(execute_sensor_iteration(workspace, _LOG, None, None))


def run_backfill_daemon(workspace, passes: int = 2) -> None:
    for _ in range(passes):
        list(execute_backfill_iteration(workspace, _LOG))


class RequestRunner:
    """Plays the daemon for the request sensor in this process: each tick starts the runs the
    sensor asks for, one after the other, with exactly their partition and tags."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = RequestStore.from_url(settings.request_store_url)
        self.cursor: str | None = None
        self.job = build_definitions(settings).resolve_job_def("nightly_refresh_job")

    def tick(self) -> list[dg.ExecuteInProcessResult]:
        resources = {"request_store": RequestStoreResource(url=self.store.url)}
        with dg.build_sensor_context(cursor=self.cursor, resources=resources) as context:
            result = comparison_request_sensor(context)
        if not isinstance(result, dg.SensorResult):
            return []
        self.cursor = result.cursor
        with dg.DagsterInstance.get() as instance:
            return [
                self.job.execute_in_process(
                    partition_key=r.partition_key,
                    tags=r.tags,
                    instance=instance,
                    raise_on_error=False,
                )
                for r in result.run_requests
            ]
