"""The real Serper client against a local HTTP stand-in: retries, fatal errors, cache, pacing."""

import asyncio
import json
import subprocess
import sys
import time

import pytest

from insights.cache_keys import request_key
from resources.cache import SqliteCache
from resources.serper import SerperClient, SerperConfig, SerperError, SerperFatalError
from standins.serper_server import SerperStandin

LOOKUP = {"q": "Bean Theory Coffee Austin", "gl": "us", "hl": "en", "num": 10}


def config(url, **overrides):
    values = dict(
        api_key="test-key",
        base_url=url,
        requests_per_second=200,
        concurrency=8,
        timeout_s=2,
        max_retries=3,
        ttl_s={"lookup": 3600},
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )
    values.update(overrides)
    return SerperConfig(**values)


async def ask(cfg, body=LOOKUP, cache=None, times=1):
    async with SerperClient(cfg, cache) as serper:
        answers = [await serper.maps(body, kind="lookup") for _ in range(times)]
        return serper.usage, answers


def test_answer_is_returned_and_credits_are_metered_from_the_response(serper_standin):
    usage, [answer] = asyncio.run(ask(config(serper_standin.url)))
    assert answer["places"][0]["title"] == "Bean Theory Coffee"
    assert usage.calls == 1
    assert usage.credits == answer["credits"] == serper_standin.stats["credits_billed"]


def test_transient_faults_are_retried_until_an_answer(serper_standin):
    serper_standin.script(["500", "truncated", "429", "503"])
    usage, [answer] = asyncio.run(ask(config(serper_standin.url, max_retries=4)))
    assert answer["places"]
    assert usage.calls == 5 and usage.retries == 4 and usage.rate_limited == 1
    # Failed calls are not billed: only the last one cost credits.
    assert usage.credits == answer["credits"]


def test_a_timeout_is_retried(serper_standin):
    serper_standin.script(["timeout"])
    usage, [answer] = asyncio.run(ask(config(serper_standin.url, timeout_s=1)))
    assert answer["places"] and usage.calls == 2


def test_bad_key_stops_at_once_naming_the_setting():
    with SerperStandin(api_key="the-right-key") as standin:
        with pytest.raises(SerperFatalError, match="SERPER_API_KEY"):
            asyncio.run(ask(config(standin.url, api_key="wrong")))
        assert standin.stats["requests"] == 1


def test_bad_request_stops_at_once_without_retry(serper_standin):
    serper_standin.script(["400"])
    with pytest.raises(SerperFatalError, match="400"):
        asyncio.run(ask(config(serper_standin.url)))
    assert serper_standin.stats["requests"] == 1


def test_persistent_429_means_no_credits_or_too_fast_and_is_fatal():
    with SerperStandin(api_key="test-key", credits_left=0) as standin:
        with pytest.raises(SerperFatalError, match="SERPER_REQUESTS_PER_SECOND"):
            asyncio.run(ask(config(standin.url, max_retries=2)))
        assert standin.stats["requests"] == 3


def test_persistent_5xx_fails_only_that_request(serper_standin):
    serper_standin.script(["500"] * 4)
    with pytest.raises(SerperError) as caught:
        asyncio.run(ask(config(serper_standin.url, max_retries=3)))
    assert not isinstance(caught.value, SerperFatalError)
    assert "500" in str(caught.value)


def test_the_cache_answers_repeats_and_survives_a_new_process(serper_standin, tmp_path):
    cache = SqliteCache(tmp_path / "cache.sqlite")
    usage, answers = asyncio.run(ask(config(serper_standin.url), cache=cache, times=3))
    assert usage.calls == 1 and usage.cache_hits == 2
    assert answers[0] == answers[2]
    # A new client (as in tomorrow's run) finds the same entry: keys do not depend on the process.
    usage, _ = asyncio.run(ask(config(serper_standin.url), cache=SqliteCache(cache.path)))
    assert usage.calls == 0 and usage.cache_hits == 1
    assert serper_standin.stats["requests"] == 1


def test_cache_keys_are_identical_in_another_process():
    body = {"q": "café", "gl": "de", "num": 10}
    here = request_key("serper:maps:lookup", body)
    code = (
        "import json,sys; from insights.cache_keys import request_key; "
        "print(request_key('serper:maps:lookup', json.loads(sys.argv[1])))"
    )
    reordered = json.dumps(dict(reversed(list(body.items()))))
    there = subprocess.run(
        [sys.executable, "-c", code, reordered], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert here == there


def test_requests_are_paced_to_the_rate_limit():
    with SerperStandin(api_key="test-key", rps_limit=20) as standin:

        async def burst():
            async with SerperClient(config(standin.url, requests_per_second=20)) as serper:
                bodies = [{**LOOKUP, "q": f"coffee {i}"} for i in range(30)]
                await asyncio.gather(*(serper.maps(b, kind="lookup") for b in bodies))
                return serper.usage

        started = time.monotonic()
        usage = asyncio.run(burst())
        elapsed = time.monotonic() - started
    assert usage.rate_limited == 0 and standin.stats["rate_limited"] == 0
    # 30 calls at 20 per second cannot take less than 29/20 s.
    assert elapsed >= 1.4
