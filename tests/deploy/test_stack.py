"""The deployment end to end, without Docker: scripts/stack.sh starts the code location server,
the webserver and the daemon with deploy/dagster.yaml on PostgreSQL and a Redis of its own;
the product talks to local Serper and LLM stand-ins. The Serper stand-in answers 429 above 22
requests a second, and every run is told 20: two runs at once stay clear of it only by sharing
one limit through Redis.

The three tests share one stack and run in order: a requested comparison, two runs at once
(while the schedule's minute comes closer), a schedule tick.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from resources.request_store import FINAL_STATUSES, RequestStore
from resources.warehouse import Warehouse
from standins.llm_server import LLMStandin
from standins.market import SampleMarket
from standins.serper_server import SerperStandin
from tests.postgres import dagster_storage_env, fresh_database
from tests.redis_server import PrivateRedis, free_port
from workflows.requests import REQUEST_ID_TAG

pytestmark = [
    pytest.mark.stack,
    pytest.mark.postgres,
    pytest.mark.redis,
    # dagster-graphql's client still passes variables the way gql 4 deprecates.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gql.*"),
]

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "scripts" / "stack.sh"
TRACKED = 60  # businesses tracked; one more of the same synthetic market is requested on demand
SERPER_LIMIT = 22  # what the stand-in allows per second, like a Serper plan
SERPER_RATE = 20  # what each run is told; two runs pacing alone would send 40
CONCURRENT_NIGHTS = ("2026-11-01", "2026-11-02")


class Stack:
    """The running stack as the tests see it: its settings, its instance, its services."""

    def __init__(self, env, serper: SerperStandin, redis_server: PrivateRedis, tick: datetime):
        self.env = env
        self.home = Path(env["DAGSTER_HOME"])
        self.serper = serper
        self.redis = redis_server
        self.tick = tick
        self.warehouse = Warehouse.from_url(env["WAREHOUSE_URL"])
        self.requested: dict = {}

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{args}: {done.stderr[-2000:]}"
        return done.stdout

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def logs(self) -> str:
        tails = []
        for log in sorted((Path(self.env["STACK_DIR"]) / "log").glob("*.log")):
            tails.append(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-30:]))
        return "\n".join(tails)


def wait_for(check: Callable, timeout_s: float, what: str, stack: Stack):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"{what} did not happen within {timeout_s:g} s\n{stack.logs()}")


def _tick_minute() -> datetime:
    """A schedule time far enough ahead for the stack to start and the request to run."""
    soon = datetime.now(UTC) + timedelta(seconds=40)
    return soon.replace(second=0, microsecond=0) + timedelta(minutes=1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stack")
    market = SampleMarket.synthetic(TRACKED + 1, seed=7)
    tick = _tick_minute()
    with (
        fresh_database("ci_dagster") as dagster_url,
        fresh_database("ci_warehouse") as warehouse_url,
        PrivateRedis(tmp) as redis_server,
        SerperStandin(market, api_key="test-key", rps_limit=SERPER_LIMIT) as serper,
        LLMStandin(api_key="llm-key") as llm,
        pytest.MonkeyPatch.context() as patch,
    ):
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "REDIS_URL")}
        env.update(dagster_storage_env(dagster_url))
        env.update(
            STACK_DIR=str(tmp / "stack"),
            STACK_ENV_FILE=str(tmp / "no.env"),
            WEBSERVER_PORT=str(free_port()),
            DAGSTER_CODE_SERVER_PORT=str(free_port()),
            WAREHOUSE_URL=warehouse_url,
            REDIS_URL=redis_server.url,
            DATA_DIR=str(tmp / "data"),
            SERPER_API_KEY="test-key",
            SERPER_BASE_URL=serper.url,
            SERPER_REQUESTS_PER_SECOND=str(SERPER_RATE),
            SERPER_MAX_RETRIES="0",  # a 429 would fail a business, not hide in a retry
            OPENAI_API_KEY="llm-key",
            OPENAI_BASE_URL=llm.url,
            LLM_MODEL="standin-model",
            LLM_REQUESTS_PER_SECOND="50",
            NIGHTLY_TIMEZONE="UTC",
            NIGHTLY_HOUR=str(tick.hour),
            NIGHTLY_MINUTE=str(tick.minute),
        )
        # The test process reads the same instance: DagsterInstance resolves these variables.
        for key in dagster_storage_env(dagster_url):
            patch.setenv(key, env[key])
        started = time.monotonic()
        up = subprocess.run([str(STACK), "start"], env=env, capture_output=True, text=True)
        home = str(tmp / "stack" / "dagster_home")
        handle = Stack({**env, "DAGSTER_HOME": home}, serper, redis_server, tick)
        try:
            assert up.returncode == 0, up.stderr + handle.logs()
            print(f"stack up in {time.monotonic() - started:.1f} s; schedule at {tick:%H:%M}")
            with open(tmp / "tracked.csv", "w", newline="") as out:
                writer = csv.DictWriter(out, fieldnames=["name", "website", "location", "gl", "hl"])
                writer.writeheader()
                writer.writerows(market.tracked_rows()[:TRACKED])
            handle.cli("track", str(tmp / "tracked.csv"))
            handle.requested = market.tracked_rows()[TRACKED]
            yield handle
        finally:
            stopped = time.monotonic()
            down = subprocess.run([str(STACK), "stop"], env=env, capture_output=True, text=True)
            print(down.stderr, f"stack down in {time.monotonic() - stopped:.1f} s")
            assert (
                "stopped"
                in subprocess.run(
                    [str(STACK), "status"], env=env, capture_output=True, text=True
                ).stdout
            )


def _run_succeeded(instance: dg.DagsterInstance, tags: dict[str, str]):
    runs = instance.get_runs(filters=dg.RunsFilter(tags=tags), limit=1)
    if runs and runs[0].status == dg.DagsterRunStatus.FAILURE:
        pytest.fail(f"run {runs[0].run_id} with {tags} failed")
    return runs[0] if runs and runs[0].status == dg.DagsterRunStatus.SUCCESS else None


def test_a_requested_comparison_is_run_by_the_sensor_and_its_report_lands_in_postgres(stack):
    row = stack.requested
    started = time.monotonic()
    request_id = stack.cli("request", f"{row['name']}, {row['location']}").strip()
    store = RequestStore.from_url(stack.env["WAREHOUSE_URL"])
    request = wait_for(
        lambda: (r := store.get(request_id)) and r.status in FINAL_STATUSES and r,
        120,
        "the requested comparison",
        stack,
    )
    assert request.status == "done", request.error
    print(f"request {request_id} done {time.monotonic() - started:.1f} s after `request`")

    with stack.instance() as instance:
        # The run records the outcome in its last step, a moment before the run itself ends.
        tagged = {REQUEST_ID_TAG: request_id}
        run = wait_for(lambda: _run_succeeded(instance, tagged), 30, "the run's success", stack)
        assert run.tags["dagster/sensor_name"] == "comparison_request_sensor"
    assert "status    done" in stack.cli("status", request_id)
    assert stack.cli("report", request_id).startswith("# ")
    [report] = stack.warehouse.query(
        "SELECT writer, markdown FROM reports WHERE night = ? AND business_id = ?",
        [request.night, request.business_id],
    )
    assert report["writer"] == "llm" and row["name"] in report["markdown"]


def test_two_runs_at_once_stay_under_the_shared_serper_limit(stack):
    from dagster_graphql import DagsterGraphQLClient

    # Earlier runs filled the cache; without it both runs must ask Serper for everything.
    stack.redis.client().flushdb()
    before = stack.serper.stats
    client = DagsterGraphQLClient("127.0.0.1", port_number=int(stack.env["WEBSERVER_PORT"]))
    run_ids = [
        client.submit_job_execution(
            "nightly_refresh_job",
            repository_location_name="competitor-insights",
            repository_name="__repository__",
            tags={"dagster/partition": night},
        )
        for night in CONCURRENT_NIGHTS
    ]
    with stack.instance() as instance:
        # stack.sh set the pools' limits before the daemon started (deploy/dagster.yaml).
        pools = [instance.event_log_storage.get_concurrency_info(p) for p in ("serper", "llm")]
        assert [p.slot_count for p in pools] == [2, 2]

        def finished():
            runs = [instance.get_run_by_id(run_id) for run_id in run_ids]
            return all(r.status.value in ("SUCCESS", "FAILURE") for r in runs) and runs

        runs = wait_for(finished, 180, "both runs", stack)
        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2
        windows = []
        for run_id in run_ids:
            steps = {s.step_key: s for s in instance.get_run_step_stats(run_id)}
            windows.append(
                (steps["business_profiles"].start_time, steps["competitor_sets"].end_time)
            )
    after = stack.serper.stats
    calls = after["requests"] - before["requests"]
    print(f"two runs: {calls} Serper calls, max {after['max_rps_seen']}/s, 429s: "
          f"{after['rate_limited']}; Serper steps {windows}")  # fmt: skip

    # The two runs' Serper steps really ran at the same time, both calling Serper (they share
    # the cache too, so together they make fewer than twice one run's calls)...
    assert max(start for start, _ in windows) < min(end for _, end in windows)
    spent = stack.warehouse.query(
        "SELECT run_id, sum(calls) AS calls FROM api_usage WHERE service = 'serper' "
        "AND run_id IN (?, ?) GROUP BY run_id",
        run_ids,
    )
    assert len(spent) == 2 and all(s["calls"] > TRACKED / 2 for s in spent)
    assert calls > 2 * TRACKED
    # ...and not one request was refused.
    assert after["rate_limited"] == 0
    assert after["max_rps_seen"] <= SERPER_LIMIT
    for night in CONCURRENT_NIGHTS:
        rows = stack.warehouse.query(
            "SELECT count(*) AS n FROM business_snapshots WHERE night = ? AND status = 'ok'",
            [date.fromisoformat(night)],
        )
        assert rows[0]["n"] == TRACKED


def test_a_schedule_tick_starts_the_nightly_run_for_every_tracked_business(stack):
    schedule = {"dagster/schedule_name": "nightly_refresh_schedule"}
    wait_seconds = (stack.tick - datetime.now(UTC)).total_seconds() + 120
    with stack.instance() as instance:
        run = wait_for(
            lambda: _run_succeeded(instance, schedule), wait_seconds, "a scheduled run", stack
        )
        record = instance.get_run_record_by_id(run.run_id)
    print(f"scheduled run started {record.start_time - stack.tick.timestamp():.1f} s after the "
          f"tick time, took {record.end_time - record.start_time:.1f} s")  # fmt: skip
    night = date.fromisoformat(run.tags["dagster/partition"])
    assert night == stack.tick.date()
    snapshots = stack.warehouse.query(
        "SELECT status FROM business_snapshots WHERE night = ? AND run_id = ?",
        [night, run.run_id],
    )
    assert len(snapshots) == TRACKED and {s["status"] for s in snapshots} == {"ok"}
    reports = stack.warehouse.query("SELECT count(*) AS n FROM reports WHERE night = ?", [night])
    assert reports[0]["n"] >= TRACKED
