"""Request pacing: one rate for every process that shares a Redis, or for this process alone.

Serper and LLM providers limit an account, not a process. With `REDIS_URL` set, every run
(the nightly one and on-demand comparisons, in any number of processes) takes its turn from one
schedule kept in Redis, so together they stay at the configured rate. Without Redis, or while
it is unreachable, each process paces itself with aiolimiter.

The shared schedule is a next-free-slot scheme (GCRA with no burst): one key holds the time of
the next free slot; a caller takes it, moves it on by 1/rate, and sleeps until its slot. One Lua
script does the read and the write, so no two callers can take the same slot, and Redis's own
clock is the only clock, so clocks of different machines never disagree.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Protocol

from aiolimiter import AsyncLimiter

from resources.outage import DEFAULT_COOLDOWN_S, Outage

logger = logging.getLogger(__name__)

KEY_PREFIX = "competitor-insights:rate:"

# KEYS[1]: the next free slot, in microseconds of Redis time. ARGV[1]: the interval in µs.
# Returns how many µs the caller waits for the slot it took. Times are formatted with %.0f:
# Lua's default number format keeps 14 digits, which would round microseconds since 1970.
_TAKE_SLOT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local expires_ms = math.ceil((slot + interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX', expires_ms)
return string.format('%.0f', slot - now)
"""

# A slot taken too late is given up for the next one at most this often per request, so that a
# process that is busy all the time still gets its turns.
_MAX_MISSED_SLOTS = 3

# Requests leave at 98 % of the configured rate. A server counting a sliding second sees the
# first and the last of rate+1 evenly paced requests exactly one second apart, so a millisecond
# of jitter would put rate+1 in one second and earn a 429; 2 % leaves 20 ms for that jitter.
HEADROOM = 0.98


class Pacer(Protocol):
    async def acquire(self) -> None: ...

    async def aclose(self) -> None: ...


class LocalPacer:
    """One request every 1/rate seconds in this process, rather than a burst each second:
    servers count a sliding window, and a burst at its edge is what earns a 429."""

    shared = False

    def __init__(self, rate: float):
        self._limiter = AsyncLimiter(1, 1 / (rate * HEADROOM))

    async def acquire(self) -> None:
        await self._limiter.acquire()

    async def aclose(self) -> None:
        return None


class SharedPacer:
    """The rate shared through Redis; the local pacer while Redis cannot be reached."""

    shared = True

    def __init__(
        self,
        redis_url: str,
        name: str,
        rate: float,
        *,
        scope: str = "",
        timeout_s: float = 1.0,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
    ):
        import redis
        import redis.asyncio

        from resources.cache import redis_options

        self.key = limit_key(name, scope)
        self.interval_us = max(1, round(1_000_000 / (rate * HEADROOM)))
        self._errors = (redis.RedisError, OSError, asyncio.TimeoutError)
        self._client = redis.asyncio.Redis.from_url(
            redis_url, **redis_options(timeout_s, for_asyncio=True)
        )
        self._script = self._client.register_script(_TAKE_SLOT)
        self._local = LocalPacer(rate)
        self.outage = Outage(
            f"Redis for the shared {name} rate limit",
            f"pacing {name} calls in this process alone",
            cooldown_s=cooldown_s,
            log=logger,
        )
        self._late_s = max(self.interval_us / 2_000_000, 0.002)
        self.shared_slots = 0
        self.local_slots = 0
        self.missed_slots = 0

    async def acquire(self) -> None:
        missed = 0
        while self.outage.usable():
            loop = asyncio.get_running_loop()
            asked = loop.time()
            try:
                wait_s = int(await self._script(keys=[self.key], args=[self.interval_us])) / 1e6
            except self._errors as error:
                self.outage.failed("taking a slot", error)
                break
            self.outage.succeeded()
            answered = loop.time()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            # The slot was timed on Redis's clock somewhere between asking and the answer, and
            # the request leaves when this process wakes: either may be late (the first call
            # opens a connection; a run writing to the warehouse holds the GIL). A request sent
            # well after its slot lands in the same second as the next slot's, which a strict
            # server counts against us, so such a slot is given up and another taken.
            late = loop.time() - (answered + wait_s) + (answered - asked)
            if late <= self._late_s or missed >= _MAX_MISSED_SLOTS:
                self.shared_slots += 1
                return
            missed += 1
            self.missed_slots += 1
        self.local_slots += 1
        await self._local.acquire()

    async def aclose(self) -> None:
        try:
            await self._client.aclose()
        except self._errors:
            pass  # closing a client of a Redis that went away is not worth a warning


def limit_key(name: str, scope: str) -> str:
    """The Redis key of one account's schedule; the secret in `scope` appears only hashed."""
    digest = hashlib.sha256(scope.encode()).hexdigest()[:16]
    return f"{KEY_PREFIX}{name}:{digest}"


def pacer(rate: float, *, redis_url: str | None, name: str, scope: str = "") -> Pacer:
    """The shared pacer when `redis_url` is set, else this process's own.

    `scope` names the account the limit belongs to (base URL and key), so two accounts sharing
    one Redis never slow each other down.
    """
    if redis_url:
        return SharedPacer(redis_url, name, rate, scope=scope)
    return LocalPacer(rate)
