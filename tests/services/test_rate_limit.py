"""The request rate shared through Redis, and how it and the Redis cache survive Redis going away.

The shared-limit tests run real processes against a Serper stand-in that answers 429 above its
rate, as Serper does. The outage tests use a Redis of their own, killed by its pid mid-run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time

import pytest

from resources.cache import RedisCache
from resources.llm import LlmConfig, LlmWriter
from resources.rate_limit import LocalPacer, SharedPacer, limit_key, pacer
from resources.serper import SerperClient, SerperConfig
from standins.serper_server import SerperStandin
from tests.redis_server import PrivateRedis

pytestmark = pytest.mark.redis


@pytest.fixture
def private_redis(tmp_path):
    with PrivateRedis(tmp_path) as server:
        yield server


def serper_config(url: str, rate: float, redis_url: str | None, **extra) -> SerperConfig:
    return SerperConfig(
        api_key="test-key",
        base_url=url,
        requests_per_second=rate,
        concurrency=8,
        timeout_s=5,
        max_retries=0,  # a 429 must show, not be retried away
        redis_url=redis_url,
        **extra,
    )


def test_without_redis_each_process_paces_itself():
    assert isinstance(pacer(5, redis_url=None, name="serper"), LocalPacer)
    assert isinstance(pacer(5, redis_url="redis://127.0.0.1:1/0", name="serper"), SharedPacer)


def test_the_key_names_the_service_and_hides_the_account():
    key = limit_key("serper", "https://google.serper.dev|secret-key")
    assert key.startswith("competitor-insights:rate:serper:") and "secret" not in key
    assert key != limit_key("serper", "https://google.serper.dev|another-key")


def test_two_pacers_on_one_redis_share_one_rate(redis_url):
    rate, each = 100.0, 30

    async def run() -> list[float]:
        pacers = [SharedPacer(redis_url, "test", rate, scope="shared") for _ in range(2)]
        stamps: list[float] = []

        async def take(p):
            await p.acquire()
            stamps.append(time.monotonic())

        await asyncio.gather(*(take(p) for p in pacers for _ in range(each)))
        for p in pacers:
            assert p.shared_slots == each and p.local_slots == 0
            await p.aclose()
        return sorted(stamps)

    stamps = asyncio.run(run())
    # 60 slots at 100 per second take 0.59 s however the two pacers interleave; two separate
    # local pacers would have finished in half that.
    assert stamps[-1] - stamps[0] >= (2 * each - 1) / rate - 0.02
    for i, start in enumerate(stamps):
        in_window = sum(1 for t in stamps[i:] if t < start + 0.1)
        assert in_window <= rate * 0.1 + 1


_WORKER = """
import asyncio, json, sys, time
from resources.serper import SerperClient, SerperConfig

url, redis_url, rate, count, tag, start_at = sys.argv[1:7]
config = SerperConfig(api_key="test-key", base_url=url, requests_per_second=float(rate),
                      concurrency=8, timeout_s=5, max_retries=0, redis_url=redis_url or None)

async def main():
    async with SerperClient(config) as serper:
        time.sleep(max(0.0, float(start_at) - time.time()))
        answers = await asyncio.gather(
            *(serper.maps({"q": f"{tag} coffee {i}", "gl": "us"}, kind="lookup")
              for i in range(int(count))),
            return_exceptions=True,
        )
        failed = [repr(a) for a in answers if isinstance(a, Exception)]
        shared = getattr(serper._limiter, "shared_slots", 0)
    print(json.dumps({"usage": serper.usage.as_dict(), "failed": failed, "shared": shared}))

asyncio.run(main())
"""


def _two_processes(standin, redis_url: str | None, rate: float, each: int, *, meanwhile=None):
    """Two processes making `each` Serper calls at `rate`; `meanwhile(start)` runs in between."""
    start_at = time.time() + 2.0  # both past their imports before the first request
    args = [standin.url, redis_url or "", str(rate), str(each)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, *args, f"p{n}", f"{start_at:.3f}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    if meanwhile is not None:
        meanwhile(start_at)
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        results.append({**json.loads(out.strip().splitlines()[-1]), "log": err})
    return results


def test_two_processes_sharing_a_limit_get_no_429s(redis_url):
    # The plan allows 24 requests a second; each process is told 20, and together they stay
    # at 20 because they take their turns from one schedule in Redis.
    with SerperStandin(api_key="test-key", rps_limit=24) as standin:
        results = _two_processes(standin, redis_url, rate=20, each=30)
        stats = standin.stats
    assert stats["rate_limited"] == 0
    assert stats["ok"] == 60 and stats["max_rps_seen"] <= 21
    for result in results:
        assert result["failed"] == [] and result["usage"]["rate_limited"] == 0
        assert result["shared"] == 30


def test_the_same_processes_without_redis_overrun_the_plan():
    """The control: what the shared limit prevents."""
    with SerperStandin(api_key="test-key", rps_limit=24) as standin:
        results = _two_processes(standin, None, rate=20, each=30)
        stats = standin.stats
    assert stats["rate_limited"] > 0 and stats["max_rps_seen"] > 24
    assert sum(r["usage"]["rate_limited"] for r in results) == stats["rate_limited"]


def test_processes_that_shared_a_limit_stay_under_it_when_redis_dies(private_redis):
    """Killed mid-run, each process falls back to its share of the rate (half, here), and only
    once the slots already booked in Redis have gone by: no second over the plan."""

    def kill_after_a_second(start_at):
        time.sleep(max(0.0, start_at + 1.0 - time.time()))
        private_redis.kill()

    with SerperStandin(api_key="test-key", rps_limit=12) as standin:
        results = _two_processes(
            standin, private_redis.url, rate=10, each=20, meanwhile=kill_after_a_second
        )
        stats = standin.stats
    assert stats["rate_limited"] == 0 and stats["ok"] == 40
    assert all(r["failed"] == [] for r in results)
    assert all(0 < r["shared"] < 20 for r in results)  # some slots from Redis, some local
    assert all("at 5/s: its share of 10/s among the 2 clients" in r["log"] for r in results)


def test_a_stopped_redis_falls_back_to_local_pacing_and_is_used_again_when_back(
    private_redis, caplog
):
    async def run():
        shared = SharedPacer(private_redis.url, "test", 200, cooldown_s=0.3)
        for _ in range(3):
            await shared.acquire()
        private_redis.kill()
        for _ in range(5):
            await shared.acquire()
        after_kill = (shared.shared_slots, shared.local_slots)
        private_redis.start()
        await asyncio.sleep(0.35)
        await shared.acquire()
        await shared.aclose()
        return after_kill, (shared.shared_slots, shared.local_slots)

    with caplog.at_level(logging.INFO, logger="resources"):
        after_kill, final = asyncio.run(run())
    assert after_kill == (3, 5)
    assert final == (4, 5)
    assert caplog.text.count("pacing test calls in this process alone") == 1
    assert "available again" in caplog.text


def test_pacers_that_shared_a_rate_fall_back_to_their_share_of_it(private_redis, caplog):
    async def run():
        pacers = [SharedPacer(private_redis.url, "test", 40, cooldown_s=60) for _ in range(2)]
        for _ in range(2):  # each sees the other once both have taken a slot
            for p in pacers:
                await p.acquire()
        private_redis.kill()
        started = time.monotonic()
        for _ in range(6):
            await pacers[0].acquire()
        elapsed = time.monotonic() - started
        for p in pacers:
            await p.aclose()
        return pacers[0], elapsed

    with caplog.at_level(logging.WARNING, logger="resources"):
        pacer_, elapsed = asyncio.run(run())
    assert pacer_.peers == 2 and pacer_.local_slots == 6
    # 20 a second (half of 40, less the 2 % headroom): five gaps of 51 ms, not 26 ms.
    assert elapsed >= 5 / (20 * 0.98) - 0.01
    assert "at 20/s: its share of 40/s among the 2 clients seen sharing it" in caplog.text


def test_the_redis_cache_is_used_again_after_redis_comes_back(private_redis, caplog):
    cache = RedisCache(private_redis.url, cooldown_s=0.3)
    cache.set("k", b"v", 60)
    private_redis.kill()
    with caplog.at_level(logging.WARNING, logger="resources"):
        assert cache.get("k") is None
        cache.set("k", b"v", 60)
        assert cache.get("k") is None
    assert caplog.text.count("continuing without a cache") == 1
    private_redis.start()
    time.sleep(0.35)
    cache.set("k2", b"v2", 60)
    assert cache.get("k2") == b"v2"


def test_serper_calls_go_on_when_redis_dies_mid_run(private_redis, caplog):
    """Killed mid-run: every request is still answered, paced locally, with one warning each
    for the cache and the limit, and no 429 from a stand-in that allows the configured rate."""

    async def run(standin):
        cache = RedisCache(private_redis.url)
        config = serper_config(standin.url, 40, private_redis.url, ttl_s={"lookup": 60})
        async with SerperClient(config, cache) as s:

            async def one(i):
                if i == 15:
                    private_redis.kill()
                return await s.maps({"q": f"bakery {i}", "gl": "us"}, kind="lookup")

            # One after another, so the kill lands between requests at a known point.
            answers = [await one(i) for i in range(30)]
            return answers, s.usage, s._limiter

    with SerperStandin(api_key="test-key", rps_limit=48) as standin:
        with caplog.at_level(logging.WARNING, logger="resources"):
            answers, usage, limiter = asyncio.run(run(standin))
        stats = standin.stats
    assert len(answers) == 30 and usage.errors == 0
    assert stats["rate_limited"] == 0 and stats["ok"] == 30
    assert limiter.shared_slots == 15 and limiter.local_slots == 15
    assert caplog.text.count("continuing without a cache") == 1
    assert caplog.text.count("pacing serper calls in this process alone") == 1


def test_two_llm_writers_on_one_redis_share_the_llm_rate(redis_url, llm_standin):
    from tests.services.test_llm_writer import _inputs

    metrics, document = _inputs()
    rate, each = 20.0, 6

    async def run():
        config = dict(model="standin-model", api_key="llm-key", base_url=llm_standin.url)
        writers = [
            LlmWriter(LlmConfig(**config, requests_per_second=rate, redis_url=redis_url))
            for _ in range(2)
        ]
        started = time.monotonic()
        drafts = await asyncio.gather(
            *(w.write("Me", document, metrics) for w in writers for _ in range(each))
        )
        elapsed = time.monotonic() - started
        for w in writers:
            await w.aclose()
        return drafts, elapsed

    drafts, elapsed = asyncio.run(run())
    assert {d.writer for d in drafts} == {"llm"}
    # Twelve calls at 20 a second between them: 0.55 s at least, not the 0.25 s of two
    # writers pacing themselves separately.
    assert elapsed >= (2 * each - 1) / rate - 0.02
