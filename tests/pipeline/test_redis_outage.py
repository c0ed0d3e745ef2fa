"""Redis dies in the middle of a night: the run still succeeds and writes every row."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date

import pytest

from standins.serper_server import SerperStandin
from tests.pipeline.test_nightly_job import count, run_night, track_sample
from tests.redis_server import PrivateRedis

NIGHT = date(2026, 12, 3)


@pytest.mark.redis
def test_a_night_survives_redis_being_killed_mid_run(tmp_path, live_settings, caplog):
    with (
        PrivateRedis(tmp_path) as redis_server,
        SerperStandin(api_key="test-key", latency_s=0.05) as serper,
    ):
        settings = live_settings.with_overrides(
            serper_base_url=serper.url, serper_requests_per_second=100, redis_url=redis_server.url
        )
        warehouse, tracked = track_sample(settings)
        killed_after: list[int] = []

        def kill_once_serper_is_busy():
            deadline = time.monotonic() + 30
            while serper.stats["requests"] < 5 and time.monotonic() < deadline:
                time.sleep(0.002)
            killed_after.append(serper.stats["requests"])
            redis_server.kill()

        killer = threading.Thread(target=kill_once_serper_is_busy)
        killer.start()
        with caplog.at_level(logging.WARNING, logger="resources"):
            result = run_night(settings)
        killer.join()
        total_requests = serper.stats["requests"]

    assert result.success
    assert 5 <= killed_after[0] < total_requests  # Redis went away while Serper was in use
    assert "continuing without a cache" in caplog.text
    assert "pacing serper calls in this process alone" in caplog.text
    assert count(warehouse, "business_snapshots") == tracked
    assert count(warehouse, "comparison_metrics") >= tracked - 2
    assert count(warehouse, "reports") >= tracked - 2
    assert serper.stats["rate_limited"] == 0
