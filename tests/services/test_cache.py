"""The embedded and Redis caches, and how both degrade when unreachable."""

import logging

from resources.cache import RedisCache, SqliteCache, open_cache


def test_sqlite_cache_round_trips_and_expires(tmp_path):
    cache = SqliteCache(tmp_path / "c.sqlite")
    cache.set("k", b"v", ttl_s=60)
    cache.set("gone", b"v", ttl_s=-1)
    assert cache.get("k") == b"v"
    assert cache.get("gone") is None
    assert SqliteCache(tmp_path / "c.sqlite").get("k") == b"v"


def test_unwritable_sqlite_cache_degrades_to_no_cache(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = SqliteCache(blocker / "c.sqlite")
    with caplog.at_level(logging.WARNING):
        cache.set("k", b"v", 60)
        assert cache.get("k") is None
    assert "continuing without a cache" in caplog.text


def test_redis_cache_round_trips_with_ttl(redis_url):
    cache = open_cache(redis_url, None)
    assert isinstance(cache, RedisCache)
    cache.set("ci:test:k", b"value", ttl_s=30)
    assert cache.get("ci:test:k") == b"value"
    ttl = cache._client.pttl("ci:test:k")
    assert 0 < ttl <= 30_000


def test_unreachable_redis_warns_once_and_behaves_as_empty(caplog):
    cache = RedisCache("redis://127.0.0.1:1/0", timeout_s=0.2)
    with caplog.at_level(logging.WARNING):
        assert cache.get("k") is None
        cache.set("k", b"v", 60)
        assert cache.get("k") is None
    assert caplog.text.count("continuing without a cache") == 1
