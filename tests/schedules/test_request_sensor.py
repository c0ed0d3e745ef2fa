"""The comparison request sensor: one run per request, by cursor and run key; no warehouse."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import date

import dagster as dg
import pytest

from cli.main import main
from insights.tracking import make_business
from resources.dagster_requests import RequestStoreResource
from schedules import requests as request_sensor
from schedules.requests import comparison_request_sensor
from tests.schedules.daemon import daemon_workspace, latest_tick, sensor_state, tick_sensors

NIGHT = date(2026, 12, 4)
BEAN = make_business("Bean Theory Coffee", None, "Austin, Texas, United States", "us", "en")


def evaluate(store, cursor: str | None = None):
    resources = {"request_store": RequestStoreResource(url=store.url)}
    with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
        return comparison_request_sensor(context)


def test_each_request_becomes_one_run_keyed_by_its_id(store):
    first = store.add(BEAN, NIGHT)
    second = store.add(make_business(None, "https://www.zilkersmiles.com/"), NIGHT)
    result = evaluate(store)
    assert [r.run_key for r in result.run_requests] == [first.id, second.id]
    run = result.run_requests[0]
    assert run.partition_key == "2026-12-04"
    assert run.tags["competitor-insights/request_id"] == first.id
    assert run.tags["competitor-insights/business_ids"] == BEAN.business_id
    assert run.tags["competitor-insights/request"] == BEAN.label
    assert result.cursor == str(second.seq)


def test_the_same_business_requested_again_is_a_second_run(store):
    ids = [store.add(BEAN, NIGHT).id for _ in range(2)]
    result = evaluate(store)
    assert len(set(ids)) == 2
    assert [r.run_key for r in result.run_requests] == ids


def test_a_tick_without_new_requests_is_a_skip(store):
    store.add(BEAN, NIGHT)
    cursor = evaluate(store).cursor
    assert isinstance(evaluate(store, cursor), dg.SkipReason)


def test_a_tick_evaluated_again_from_the_same_cursor_asks_for_the_same_runs(store):
    store.add(BEAN, NIGHT)
    first, again = evaluate(store), evaluate(store)
    # Dagster starts a run key once, so asking again (a retried tick) starts nothing new.
    assert [r.run_key for r in first.run_requests] == [r.run_key for r in again.run_requests]
    assert first.cursor == again.cursor


def test_a_finished_request_is_not_started_again_when_the_cursor_is_lost(store):
    done = store.add(BEAN, NIGHT)
    store.finish(done.id, "done", run_id="earlier-run", error=None)
    waiting = store.add(BEAN, NIGHT)
    result = evaluate(store, cursor=None)
    assert [r.run_key for r in result.run_requests] == [waiting.id]


def test_a_burst_of_100_requests_arriving_during_ticks_is_handed_over_in_order(store, monkeypatch):
    monkeypatch.setattr(request_sensor, "BATCH", 30)
    made: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        for _ in range(n):
            request = store.add(BEAN, NIGHT)
            with lock:
                made.append(request.id)

    clients = [threading.Thread(target=client, args=(25,)) for _ in range(4)]
    for thread in clients:
        thread.start()
    handed, cursor, ticks = [], None, 0
    # Tick while the requests are still arriving, as the daemon would, until all are in.
    while any(t.is_alive() for t in clients) or len(handed) < 100:
        result = evaluate(store, cursor)
        ticks += 1
        if isinstance(result, dg.SensorResult):
            handed += [r.run_key for r in result.run_requests]
            cursor = result.cursor
        assert ticks < 1000
    for thread in clients:
        thread.join()
    in_order = [r.id for r in store.after(0, limit=1000)]
    assert handed == in_order
    assert sorted(handed) == sorted(made) and len(set(handed)) == 100
    assert ticks >= 4  # at most 30 a tick


def test_the_daemon_starts_each_request_once_across_ticks_and_a_restart(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    from resources.request_store import RequestStore
    from resources.settings import Settings

    store = RequestStore.from_url(Settings.from_env().request_store_url)
    ids = [store.add(BEAN, NIGHT).id for _ in range(3)]
    with daemon_workspace(tmp_path) as (instance, workspace):
        tick_sensors(workspace)
        assert sorted(r.tags["dagster/run_key"] for r in instance.get_runs()) == sorted(ids)
        assert sensor_state(instance, "comparison_request_sensor").instigator_data.cursor == "3"

        tick_sensors(workspace)
        assert latest_tick(instance, "comparison_request_sensor").skip_reason
        # A restart that lost the cursor after the runs were started: the sensor asks for the
        # same three runs again, and Dagster recognises their run keys and starts none.
        tick_sensors(workspace, forget_cursor_of="comparison_request_sensor")
        retried = latest_tick(instance, "comparison_request_sensor")
        assert sorted(retried.run_keys) == sorted(ids)
        assert retried.status.value == "SKIPPED"
        assert len(instance.get_runs()) == 3

        later = store.add(BEAN, NIGHT).id
        tick_sensors(workspace)
        runs = instance.get_runs()
    assert sorted(r.tags["dagster/run_key"] for r in runs) == sorted([*ids, later])
    assert {r.tags["dagster/partition"] for r in runs} == {"2026-12-04"}
    assert {r.tags["competitor-insights/request_id"] for r in runs} == {*ids, later}


@pytest.fixture
def locked_warehouse(settings):
    """Another process holding the DuckDB warehouse file for writing, as a long night would."""
    path = settings.warehouse_url.removeprefix("duckdb:///")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            "con = duckdb.connect(sys.argv[1])\n"
            "con.execute('CREATE TABLE IF NOT EXISTS busy (i INTEGER)')\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
            path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    yield
    holder.kill()
    holder.wait()


def test_requests_and_the_sensor_never_wait_for_a_locked_warehouse(
    settings, store, locked_warehouse, monkeypatch, capsys
):
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    started = time.monotonic()
    assert main(["request", "Bean Theory Coffee, Austin"]) == 0
    request_id = capsys.readouterr().out.strip()
    result = evaluate(store)
    elapsed = time.monotonic() - started
    # The warehouse would wait up to 120 s for the lock; neither of these asks for it.
    assert elapsed < 5
    assert [r.run_key for r in result.run_requests] == [request_id]
