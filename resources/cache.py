"""The response cache: Redis when `REDIS_URL` is set, otherwise an SQLite file that persists.

A cache is an optimisation, never a dependency: when it cannot be reached it warns once and
behaves as an empty cache, so a stopped Redis costs API credits but never a failed run; it is
tried again after a cool-down, so a Redis that comes back is used again in the same run.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

from resources.outage import DEFAULT_COOLDOWN_S, Outage

logger = logging.getLogger(__name__)


class Cache(Protocol):
    name: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_s: float) -> None: ...


class NullCache:
    name = "none"

    def get(self, key: str) -> bytes | None:
        return None

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        return None


class _Degrading:
    """Shared behaviour: a failure warns once, and the cache is tried again after a cool-down."""

    name = "cache"

    def _init_outage(self, cooldown_s: float) -> None:
        self.outage = Outage(
            f"{self.name} cache", "continuing without a cache", cooldown_s=cooldown_s, log=logger
        )

    @property
    def available(self) -> bool:
        return self.outage.usable()

    def _fail(self, action: str, error: Exception) -> None:
        self.outage.failed(action, error)


class SqliteCache(_Degrading):
    """An embedded cache in one SQLite file, safe to share between processes."""

    name = "sqlite"

    def __init__(self, path: Path, *, cooldown_s: float = DEFAULT_COOLDOWN_S):
        self.path = Path(path)
        self._local = threading.local()
        self._init_outage(cooldown_s)

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            # WAL lets a sensor read while a run writes; NORMAL sync is safe with WAL.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS entries "
                "(key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL NOT NULL)"
            )
            self._local.conn = conn
        return conn

    def get(self, key: str) -> bytes | None:
        if not self.available:
            return None
        try:
            row = (
                self._connection()
                .execute(
                    "SELECT value FROM entries WHERE key = ? AND expires_at > ?", (key, time.time())
                )
                .fetchone()
            )
        except (sqlite3.Error, OSError) as error:
            self._fail("read", error)
            return None
        self.outage.succeeded()
        return bytes(row[0]) if row else None

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if not self.available or ttl_s <= 0:
            return
        try:
            self._connection().execute(
                "INSERT OR REPLACE INTO entries (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, time.time() + ttl_s),
            )
        except (sqlite3.Error, OSError) as error:
            self._fail("write", error)
            return
        self.outage.succeeded()


class RedisCache(_Degrading):
    name = "redis"

    def __init__(self, url: str, *, timeout_s: float = 1.0, cooldown_s: float = DEFAULT_COOLDOWN_S):
        import redis

        self._errors = (redis.RedisError, OSError)
        self.url = url
        self._client = redis.Redis.from_url(url, **redis_options(timeout_s))
        self._init_outage(cooldown_s)

    def get(self, key: str) -> bytes | None:
        if not self.available:
            return None
        try:
            value = self._client.get(key)
        except self._errors as error:
            self._fail("read", error)
            return None
        self.outage.succeeded()
        return value

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if not self.available or ttl_s <= 0:
            return
        try:
            self._client.set(key, value, px=int(ttl_s * 1000))
        except self._errors as error:
            self._fail("write", error)
            return
        self.outage.succeeded()


def redis_options(timeout_s: float, *, for_asyncio: bool = False) -> dict:
    """Client options for a Redis that is a helper: fail fast, so an outage costs no time.

    Short timeouts, and one immediate retry instead of redis-py's ten with backoff, which
    reconnects a pooled connection after a Redis restart without stalling on a dead server.
    """
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    retry = (AsyncRetry if for_asyncio else Retry)(NoBackoff(), 1)
    return {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s, "retry": retry}


def open_cache(redis_url: str | None, sqlite_path: Path | None) -> Cache:
    if redis_url:
        return RedisCache(redis_url)
    if sqlite_path is not None:
        return SqliteCache(sqlite_path)
    return NullCache()
