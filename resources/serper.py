"""The Serper.dev client: async httpx, paced to the plan's rate, cache first, retried with care.

Transient trouble (429, 5xx, timeouts, cut-off bodies) is retried with exponential backoff and
jitter. A 400 or 403 means our configuration is wrong for every business, so it stops the run
with a message naming the setting to fix. Spend is metered from each answer's `credits`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from insights.cache_keys import request_key
from resources.cache import Cache, NullCache
from resources.rate_limit import pacer
from resources.usage import Counters

logger = logging.getLogger(__name__)


class SerperError(Exception):
    """Serper could not answer one request; the business it was for is marked failed."""


class SerperFatalError(SerperError):
    """An error that would hit every business (bad key, bad settings, no credits): stop the run."""


@dataclass
class SerperUsage(Counters):
    calls: int = 0
    cache_hits: int = 0
    credits: float = 0.0
    errors: int = 0
    rate_limited: int = 0
    retries: int = 0


@dataclass
class SerperConfig:
    api_key: str
    base_url: str
    requests_per_second: float
    concurrency: int
    timeout_s: float
    max_retries: int
    ttl_s: dict[str, float] = field(default_factory=dict)
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0
    # Set: the rate is shared through this Redis by every run using the same account.
    redis_url: str | None = None


class SerperClient:
    """Use as `async with SerperClient(config, cache) as serper:`; one per run."""

    def __init__(
        self,
        config: SerperConfig,
        cache: Cache | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        cache_namespace: str = "",
    ):
        self.config = config
        self.cache = cache or NullCache()
        self.usage = SerperUsage()
        self._namespace = cache_namespace
        self._transport = transport
        self._rng = rng or random.Random()
        self._http: httpx.AsyncClient | None = None
        self._limiter = pacer(
            config.requests_per_second,
            redis_url=config.redis_url,
            name="serper",
            scope=f"{config.base_url}|{config.api_key}",
        )
        self._slots = asyncio.Semaphore(config.concurrency)

    async def __aenter__(self) -> SerperClient:
        self._http = httpx.AsyncClient(
            base_url=self.config.base_url,
            headers={"X-API-KEY": self.config.api_key, "Content-Type": "application/json"},
            timeout=httpx.Timeout(self.config.timeout_s, connect=min(self.config.timeout_s, 5)),
            limits=httpx.Limits(
                max_connections=self.config.concurrency,
                max_keepalive_connections=self.config.concurrency,
            ),
            transport=self._transport,
        )
        # httpcore loads anyio's asyncio backend during the first request (about 30 ms here);
        # loaded now, the first request leaves on its paced slot instead of crowding the next.
        await anyio.sleep(0)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self._limiter.aclose()

    async def maps(self, body: dict[str, Any], *, kind: str) -> dict[str, Any]:
        """POST /maps, answered from the cache when an identical request is still fresh.

        `kind` ("lookup", "profile", "nearby") selects how long the answer stays fresh.
        """
        key = self._key(body, kind)
        cached = self.cache.get(key)
        if cached is not None:
            self.usage.cache_hits += 1
            return json.loads(cached)
        payload = await self._post("/maps", {k: v for k, v in body.items() if v is not None})
        self.cache.set(key, json.dumps(payload).encode(), self.config.ttl_s.get(kind, 0))
        return payload

    def _key(self, body: dict[str, Any], kind: str) -> str:
        present = {k: v for k, v in body.items() if v is not None}
        return request_key(f"serper:{self._namespace}maps:{kind}", present)

    def prime(self, body: dict[str, Any], *, kind: str, payload: dict[str, Any]) -> None:
        """Store an answer we already hold under the request that would fetch it.

        After a name search finds a business, the same answer serves tonight's look-up by
        place id, so running a night again costs no credits.
        """
        self.cache.set(
            self._key(body, kind), json.dumps(payload).encode(), self.config.ttl_s.get(kind, 0)
        )

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._http is None:
            raise RuntimeError("SerperClient used outside `async with`")
        last_problem = "no attempt made"
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                self.usage.retries += 1
                await asyncio.sleep(self._backoff(attempt))
            async with self._slots:
                await self._limiter.acquire()
                self.usage.calls += 1
                try:
                    response = await self._http.post(path, json=body)
                except httpx.TimeoutException:
                    last_problem = f"timed out after {self.config.timeout_s:g} s"
                    continue
                except httpx.TransportError as error:
                    last_problem = f"connection failed: {error!r}"
                    continue
            status = response.status_code
            if status == 200:
                try:
                    payload = response.json()
                except (json.JSONDecodeError, UnicodeDecodeError):
                    last_problem = "answered with a malformed or truncated body"
                    continue
                if not isinstance(payload, dict):
                    last_problem = "answered with JSON that is not an object"
                    continue
                self.usage.credits += _credits(payload)
                return payload
            if status == 429:
                self.usage.rate_limited += 1
                last_problem = "answered 429 (too many requests, or no credits left)"
                continue
            if status >= 500:
                last_problem = f"answered {status}"
                continue
            self.usage.errors += 1
            raise self._fatal(status, response, body)
        self.usage.errors += 1
        if last_problem.startswith("answered 429"):
            raise SerperFatalError(
                f"Serper kept answering 429 after {self.config.max_retries} retries: either "
                "the account has no credits left (check your serper.dev dashboard) or "
                "SERPER_REQUESTS_PER_SECOND "
                f"({self.config.requests_per_second:g}) is above your plan's limit."
            )
        raise SerperError(f"Serper {last_problem} ({self.config.max_retries} retries)")

    def _backoff(self, attempt: int) -> float:
        # Full jitter: concurrent requests that failed together do not retry together.
        ceiling = min(self.config.backoff_max_s, self.config.backoff_base_s * 2 ** (attempt - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    def _fatal(self, status: int, response: httpx.Response, body: dict) -> SerperError:
        message = _message(response)
        if status in (401, 403):
            return SerperFatalError(
                f"Serper refused the API key ({status} {message}). Set SERPER_API_KEY to a valid "
                "key from serper.dev, or unset it to run on the bundled sample market."
            )
        if status == 400:
            fields = ", ".join(f"{k}={v!r}" for k, v in sorted(body.items()))
            return SerperFatalError(
                f"Serper rejected a request as invalid (400 {message}) for {fields}. Check "
                "SERPER_BASE_URL and the gl/hl codes of your tracked businesses."
            )
        if status == 404:
            return SerperFatalError(
                f"Serper has no {response.request.url.path} endpoint at "
                f"{self.config.base_url} (404). Check SERPER_BASE_URL."
            )
        return SerperError(f"Serper answered {status} {message}")


def _credits(payload: dict[str, Any]) -> float:
    value = payload.get("credits")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return 1.0  # every successful call costs at least one credit


def _message(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(payload, dict):
        return str(payload.get("message") or payload.get("error") or payload)[:200]
    return str(payload)[:200]
