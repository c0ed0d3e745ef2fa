"""Shared fixtures: local stand-ins for Serper and the LLM, and the real service URLs.

Tests that need PostgreSQL or Redis skip with the reason when the server does not answer,
except under CI=true, where a missing service is a failure, never a silent skip.
"""

from __future__ import annotations

import os

import pytest

from standins.llm_server import LLMStandin
from standins.serper_server import SerperStandin

IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: service tests must run, not skip)")
    pytest.skip(reason)


@pytest.fixture
def serper_standin():
    with SerperStandin(api_key="test-key") as standin:
        yield standin


@pytest.fixture
def llm_standin():
    with LLMStandin(api_key="llm-key") as standin:
        yield standin


@pytest.fixture
def redis_url():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        skip_or_fail(
            f"Redis at {REDIS_URL} does not answer ({error}); start it or set TEST_REDIS_URL"
        )
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()
