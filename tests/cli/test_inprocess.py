"""Runs started by commands: one at a time per data folder; killed ones do not stay 'started'."""

import logging
import threading
import time

import dagster as dg

from cli.inprocess import (
    LAUNCHED_BY_CLI,
    LAUNCHED_BY_TAG,
    TerseDagsterLog,
    exclusive_runs,
    fail_abandoned_runs,
)


def test_a_second_command_waits_for_the_first(tmp_path, capsys):
    order = []
    first_holds = threading.Event()

    def first():
        with exclusive_runs(tmp_path):
            first_holds.set()
            time.sleep(0.5)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    first_holds.wait()
    with exclusive_runs(tmp_path):
        order.append("second runs")
    thread.join()
    assert order == ["first done", "second runs"]
    assert "waiting for another competitor-insights run" in capsys.readouterr().err


def test_runs_left_started_by_a_killed_command_are_marked_failed():
    @dg.op
    def noop():
        return None

    @dg.job
    def tiny():
        noop()

    with dg.DagsterInstance.ephemeral() as instance:
        abandoned = instance.create_run_for_job(
            tiny, tags={LAUNCHED_BY_TAG: LAUNCHED_BY_CLI}, status=dg.DagsterRunStatus.STARTED
        )
        elsewhere = instance.create_run_for_job(tiny, status=dg.DagsterRunStatus.STARTED)
        assert fail_abandoned_runs(instance) == 1
        assert instance.get_run_by_id(abandoned.run_id).status == dg.DagsterRunStatus.FAILURE
        # A run the daemon launched is not ours to judge.
        assert instance.get_run_by_id(elsewhere.run_id).status == dg.DagsterRunStatus.STARTED


def test_failures_read_as_one_line_and_skipped_steps_are_not_listed():
    terse = TerseDagsterLog()
    failure = logging.LogRecord(
        "x", logging.ERROR, "", 0, "step failed\nStack Trace:\n  ...", (), None
    )
    skipped = logging.LogRecord(
        "x", logging.ERROR, "", 0, "Dependencies for step reports failed. Not executing.", (), None
    )
    assert terse.filter(failure) and failure.getMessage() == "step failed"
    assert not terse.filter(skipped)
