"""The one place that reads configuration: environment variables, documented in the README.

Everything else receives a `Settings` value, so tests and the command line can build one
explicitly and nothing reads `os.environ` behind the caller's back.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_SERPER_BASE_URL = "https://google.serper.dev"
DEFAULT_LLM_MODEL = "gpt-4o-mini"
# The checkout this package was installed from (the README installs it in editable mode).
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class SettingError(ValueError):
    """A setting with a value we cannot use; the message names the variable."""


def _number(env: dict, name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise SettingError(f"{name}={raw!r} must be a finite number")
    if value < minimum:
        raise SettingError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


def _whole(env: dict, name: str, default: int, *, minimum: int, maximum: int) -> int:
    value = _number(env, name, default, minimum=minimum)
    if value != int(value) or value > maximum:
        raise SettingError(f"{name}={env[name]!r} must be a whole number, {minimum} to {maximum}")
    return int(value)


def _share(env: dict, name: str, default: float) -> float:
    value = _number(env, name, default)
    if value > 1:
        raise SettingError(f"{name}={env[name]!r} is a share: a number from 0 to 1")
    return value


def _redis_url(env: dict, name: str) -> str | None:
    value = _text(env, name)
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise SettingError(
            f"{name}={value!r} is not a Redis URL; use redis://HOST:6379/0 (or rediss://, unix://)"
        )
    return value


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a `.env` file; comments, blank lines and `export ` prefixes allowed."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    values = {}
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#") or "=" not in text:
            continue
        key, _, value = text.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _timezone(env: dict, name: str, default: str) -> str:
    value = _text(env, name) or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingError(
            f"{name}={value!r} is not a time zone; use an IANA name like UTC or Europe/Berlin"
        ) from None
    return value


def _web_address(env: dict, name: str) -> str | None:
    value = _text(env, name)
    if value is not None and not value.startswith(("http://", "https://")):
        raise SettingError(f"{name}={value!r} must start with http:// or https://")
    return value


def _text(env: dict, name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value and value.strip() else None


@dataclass(frozen=True)
class Settings:
    serper_api_key: str | None = None
    serper_base_url: str = DEFAULT_SERPER_BASE_URL
    serper_requests_per_second: float = 10.0
    serper_concurrency: int = 20
    serper_timeout_s: float = 15.0
    serper_max_retries: int = 4
    nearby_results: int = 10
    competitor_count: int = 5
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    llm_model: str = DEFAULT_LLM_MODEL
    llm_timeout_s: float = 60.0
    llm_concurrency: int = 8
    llm_requests_per_second: float = 5.0
    llm_input_price_per_mtok: float = 0.15
    llm_output_price_per_mtok: float = 0.60
    redis_url: str | None = None
    data_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "data")
    warehouse_url_setting: str | None = None
    cache_ttl_lookup_h: float = 24.0 * 7
    cache_ttl_profile_h: float = 20.0
    cache_ttl_nearby_h: float = 20.0
    nightly_hour: int = 2
    nightly_minute: int = 0
    nightly_timezone: str = "UTC"
    alert_webhook_url: str | None = None
    alert_rating_step: float = 0.2
    check_max_failed_lookup_share: float = 0.2

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Settings from the environment; a `.env` file in the current folder fills the gaps,
        as `dagster dev` does, so the command line and the UI see the same values."""
        env = {**read_dotenv(Path(".env")), **os.environ} if env is None else dict(env)
        data_dir = _text(env, "DATA_DIR")
        return cls(
            serper_api_key=_text(env, "SERPER_API_KEY"),
            serper_base_url=(_text(env, "SERPER_BASE_URL") or DEFAULT_SERPER_BASE_URL).rstrip("/"),
            serper_requests_per_second=_number(env, "SERPER_REQUESTS_PER_SECOND", 10, minimum=0.1),
            serper_concurrency=int(_number(env, "SERPER_CONCURRENCY", 20, minimum=1)),
            serper_timeout_s=_number(env, "SERPER_TIMEOUT_SECONDS", 15, minimum=1),
            serper_max_retries=int(_number(env, "SERPER_MAX_RETRIES", 4)),
            nearby_results=int(_number(env, "SERPER_NEARBY_RESULTS", 10, minimum=2)),
            competitor_count=int(_number(env, "COMPETITOR_COUNT", 5, minimum=1)),
            openai_api_key=_text(env, "OPENAI_API_KEY"),
            openai_base_url=_text(env, "OPENAI_BASE_URL"),
            llm_model=_text(env, "LLM_MODEL") or DEFAULT_LLM_MODEL,
            llm_timeout_s=_number(env, "LLM_TIMEOUT_SECONDS", 60, minimum=1),
            llm_concurrency=int(_number(env, "LLM_CONCURRENCY", 8, minimum=1)),
            llm_requests_per_second=_number(env, "LLM_REQUESTS_PER_SECOND", 5, minimum=0.1),
            llm_input_price_per_mtok=_number(env, "LLM_INPUT_PRICE_PER_MTOK", 0.15),
            llm_output_price_per_mtok=_number(env, "LLM_OUTPUT_PRICE_PER_MTOK", 0.60),
            redis_url=_redis_url(env, "REDIS_URL"),
            data_dir=Path(data_dir).expanduser().resolve() if data_dir else PROJECT_ROOT / "data",
            warehouse_url_setting=_text(env, "WAREHOUSE_URL"),
            cache_ttl_lookup_h=_number(env, "CACHE_TTL_LOOKUP_HOURS", 24 * 7),
            cache_ttl_profile_h=_number(env, "CACHE_TTL_PROFILE_HOURS", 20),
            cache_ttl_nearby_h=_number(env, "CACHE_TTL_NEARBY_HOURS", 20),
            nightly_hour=_whole(env, "NIGHTLY_HOUR", 2, minimum=0, maximum=23),
            nightly_minute=_whole(env, "NIGHTLY_MINUTE", 0, minimum=0, maximum=59),
            nightly_timezone=_timezone(env, "NIGHTLY_TIMEZONE", "UTC"),
            alert_webhook_url=_web_address(env, "ALERT_WEBHOOK_URL"),
            alert_rating_step=_number(env, "ALERT_RATING_STEP", 0.2, minimum=0.01),
            check_max_failed_lookup_share=_share(env, "CHECK_MAX_FAILED_LOOKUP_SHARE", 0.2),
        )

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)

    @property
    def offline(self) -> bool:
        """Without a Serper key the product runs on the bundled sample market."""
        return self.serper_api_key is None

    @property
    def data_source(self) -> str:
        return "sample" if self.offline else "live"

    @property
    def llm_enabled(self) -> bool:
        # Ollama and vLLM need no key, so a base URL alone also turns the LLM on.
        return self.openai_api_key is not None or self.openai_base_url is not None

    @property
    def warehouse_url(self) -> str:
        """The warehouse; sample and live data get different default files so they never mix."""
        if self.warehouse_url_setting:
            return self.warehouse_url_setting
        name = "sample.duckdb" if self.offline else "warehouse.duckdb"
        return f"duckdb:///{self.data_dir / name}"

    def today(self) -> date:
        """Today's night: the date in NIGHTLY_TIMEZONE, which names the nightly partitions."""
        return datetime.now(ZoneInfo(self.nightly_timezone)).date()

    @property
    def request_store_url(self) -> str:
        """Comparison requests and the webhook outbox: never in DuckDB, whose file lock a
        sensor must not wait on; beside a PostgreSQL warehouse, in that database."""
        if self.warehouse_url.split("://", 1)[0].startswith("postgres"):
            return self.warehouse_url
        return f"sqlite:///{self.data_dir / 'requests.sqlite'}"

    @property
    def cache_path(self) -> Path:
        return self.data_dir / "cache.sqlite"

    @property
    def reports_dir(self) -> Path:
        # Sample and live reports of the same night and business would share a file name.
        return self.data_dir / "reports" / self.data_source

    def cache_ttl_s(self, kind: str) -> float:
        hours = {
            "lookup": self.cache_ttl_lookup_h,
            "profile": self.cache_ttl_profile_h,
            "nearby": self.cache_ttl_nearby_h,
        }[kind]
        return hours * 3600
