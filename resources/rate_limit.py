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
import secrets
from typing import Protocol

from aiolimiter import AsyncLimiter

from resources.outage import DEFAULT_COOLDOWN_S, Outage

logger = logging.getLogger(__name__)

KEY_PREFIX = "competitor-insights:rate:"

# KEYS[1]: the next free slot, in microseconds of Redis time; KEYS[2]: the pacers that took a
# slot lately, by the time of their last one. ARGV: the interval in µs, this pacer's id, and how
# long (µs) a pacer counts as active. Returns the µs to wait for the slot taken and the number
# of active pacers. Times are formatted with %.0f: Lua's default number format keeps 14 digits,
# which would round microseconds since 1970.
_TAKE_SLOT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local expires_ms = math.ceil((slot + interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX', expires_ms)
local active_us = tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], string.format('%.0f', now), ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now - active_us))
redis.call('PEXPIRE', KEYS[2], math.ceil(active_us / 1000))
return {string.format('%.0f', slot - now), redis.call('ZCARD', KEYS[2])}
"""

# A pacer that took a slot in the last 30 s counts as sharing the rate. When Redis goes away,
# each pacer falls back to its share of the rate among those, so that the runs that were sharing
# it together stay near the rate instead of each sending at the whole of it.
_ACTIVE_S = 30.0

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
        self.interval_s = 1 / (rate * HEADROOM)
        self._limiter = AsyncLimiter(1, self.interval_s)

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

        self.name = name
        self.rate = rate
        self.key = limit_key(name, scope)
        self._keys = [self.key, f"{self.key}:pacers"]
        self._id = secrets.token_hex(8)
        self.interval_us = max(1, round(1_000_000 / (rate * HEADROOM)))
        self._errors = (redis.RedisError, OSError, asyncio.TimeoutError)
        self._client = redis.asyncio.Redis.from_url(
            redis_url, **redis_options(timeout_s, for_asyncio=True)
        )
        self._script = self._client.register_script(_TAKE_SLOT)
        self.peers = 1  # pacers seen sharing the rate, this one included
        self._reserved_until = 0.0  # loop time of the latest shared slot this pacer took
        self._lead = 0.0  # the furthest ahead the shared schedule was booked when asked
        self._local = LocalPacer(rate)
        self._local_share = 1
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
                wait, peers = await self._script(
                    keys=self._keys, args=[self.interval_us, self._id, int(_ACTIVE_S * 1e6)]
                )
            except self._errors as error:
                self._fall_back("taking a slot", error)
                break
            self.outage.succeeded()
            wait_s, self.peers = int(wait) / 1e6, max(1, int(peers))
            answered = loop.time()
            self._reserved_until = max(self._reserved_until, answered + wait_s)
            self._lead = max(self._lead, wait_s)
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
        # Slots taken before Redis went away are still being used, here and in the other
        # processes, which may have booked as far beyond this pacer's last slot as the schedule
        # was ever booked ahead: local pacing starts only after that.
        start = self._reserved_until + self._lead + self._local.interval_s
        start -= asyncio.get_running_loop().time()
        if start > 0:
            await asyncio.sleep(start)
        await self._local.acquire()

    def _fall_back(self, action: str, error: BaseException) -> None:
        if self._local_share != self.peers:
            self._local = LocalPacer(self.rate / self.peers)
            self._local_share = self.peers
        if not self.outage.down:
            self.outage.fallback = (
                f"pacing {self.name} calls in this process alone, at "
                f"{self.rate / self.peers:g}/s: its share of {self.rate:g}/s among the "
                f"{self.peers} clients seen sharing it"
            )
        self.outage.failed(action, error)

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
