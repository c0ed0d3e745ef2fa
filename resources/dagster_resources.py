"""Dagster resources: one per external system, each with a real and an offline implementation.

Configuration arrives here as plain fields (bound from `Settings` in `pipelines.definitions`);
secrets are bound with `EnvVar` so the UI never shows them.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from resources.cache import Cache, open_cache
from resources.llm import LlmConfig, LlmWriter, RuleWriter
from resources.runloop import RunLoop
from resources.sample_transport import SampleMarketTransport
from resources.serper import SerperClient, SerperConfig
from resources.settings import Settings


class CacheResource(dg.ConfigurableResource):
    """Redis when `redis_url` is set, else an SQLite file; either degrades to no cache."""

    redis_url: str | None = None
    sqlite_path: str | None = None

    def open(self) -> Cache:
        return open_cache(self.redis_url, Path(self.sqlite_path) if self.sqlite_path else None)


class _RunLoopResource(dg.ConfigurableResource):
    """A resource whose async clients live on one event loop for the whole run."""

    _loop: RunLoop | None = PrivateAttr(default=None)

    def _on_loop(self, coroutine):
        if self._loop is None:
            self._loop = RunLoop(type(self).__name__)
        return self._loop.run(coroutine)

    def _release_clients(self) -> list:
        """Hand over the clients to close, forgetting them."""
        return []

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        if self._loop is None:
            return
        for client in self._release_clients():
            self._loop.run(client.aclose())
        self._loop.close()
        self._loop = None


class SerperResource(_RunLoopResource):
    """Serper.dev, or the bundled sample market served through the same client when no key."""

    api_key: str | None = None
    base_url: str = "https://google.serper.dev"
    requests_per_second: float = 10.0
    concurrency: int = 20
    timeout_s: float = 15.0
    max_retries: int = 4
    nearby_results: int = 10
    competitor_count: int = 5
    ttl_lookup_h: float = 168.0
    ttl_profile_h: float = 20.0
    ttl_nearby_h: float = 20.0
    cache: CacheResource

    _clients: dict = PrivateAttr(default_factory=dict)

    @property
    def offline(self) -> bool:
        return not self.api_key

    def run(self, night: date, work):
        """Run `work(client)` (a coroutine function) on this run's loop with its client.

        Offline, the sample market drifts by night, so each night gets its own client and
        cache namespace; live, one client serves the whole run.
        """
        key = night if self.offline else "live"
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._on_loop(self._open_client(night))
        return self._on_loop(work(client))

    async def _open_client(self, night: date) -> SerperClient:
        config = SerperConfig(
            api_key=self.api_key or "sample-market",
            base_url=self.base_url,
            requests_per_second=self.requests_per_second,
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            ttl_s={
                "lookup": self.ttl_lookup_h * 3600,
                "profile": self.ttl_profile_h * 3600,
                "nearby": self.ttl_nearby_h * 3600,
            },
        )
        if self.offline:
            transport = SampleMarketTransport.bundled(as_of=night)
            config.base_url = "https://sample-market.invalid"
            # The sample market is the same for every run; no point pacing it like the real API.
            config.requests_per_second = 10_000
            client = SerperClient(
                config, self.cache.open(), transport=transport, cache_namespace=f"sample:{night}:"
            )
        else:
            # Live calls spend the account's rate, which every run shares through Redis.
            config.redis_url = self.cache.redis_url
            client = SerperClient(config, self.cache.open())
        return await client.__aenter__()

    def _release_clients(self) -> list:
        clients = list(self._clients.values())
        self._clients.clear()
        return clients


class LlmResource(_RunLoopResource):
    """An OpenAI-compatible endpoint, or the rule-based writer when none is configured."""

    enabled: bool = False
    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    timeout_s: float = 60.0
    concurrency: int = 8
    requests_per_second: float = 5.0
    input_price_per_mtok: float = 0.15
    output_price_per_mtok: float = 0.60
    redis_url: str | None = None  # set: the request rate is shared by every run

    _writer: LlmWriter | RuleWriter | None = PrivateAttr(default=None)

    def run(self, work):
        """Run `work(writer)` on this run's loop with its writer (created on first use)."""
        if self._writer is None:
            self._writer = self._on_loop(self._open_writer())
        return self._on_loop(work(self._writer))

    async def _open_writer(self) -> LlmWriter | RuleWriter:
        if not self.enabled:
            return RuleWriter()
        return LlmWriter(
            LlmConfig(
                model=self.model,
                api_key=self.api_key,
                base_url=self.base_url,
                timeout_s=self.timeout_s,
                concurrency=self.concurrency,
                requests_per_second=self.requests_per_second,
                input_price_per_mtok=self.input_price_per_mtok,
                output_price_per_mtok=self.output_price_per_mtok,
                redis_url=self.redis_url,
            )
        )

    def _release_clients(self) -> list:
        writer, self._writer = self._writer, None
        return [writer] if writer is not None else []


class ReportFilesResource(dg.ConfigurableResource):
    """Where each night's reports are also written as Markdown files; empty: not written."""

    folder_path: str | None = None

    def folder(self) -> Path | None:
        return Path(self.folder_path) if self.folder_path else None


def _secret(name: str, value: str | None):
    """Bind a secret by its variable's name when it came from there, so the UI never shows it."""
    if value and os.environ.get(name, "").strip() == value:
        return dg.EnvVar(name)
    return value


def build_resources(settings: Settings) -> dict:
    """The resources for `Definitions`, bound from settings in one place."""
    from resources.dagster_requests import AlertsResource, RequestStoreResource
    from resources.warehouse import WarehouseResource

    cache = CacheResource(redis_url=settings.redis_url, sqlite_path=str(settings.cache_path))
    return {
        "serper": SerperResource(
            api_key=_secret("SERPER_API_KEY", settings.serper_api_key),
            base_url=settings.serper_base_url,
            requests_per_second=settings.serper_requests_per_second,
            concurrency=settings.serper_concurrency,
            timeout_s=settings.serper_timeout_s,
            max_retries=settings.serper_max_retries,
            nearby_results=settings.nearby_results,
            competitor_count=settings.competitor_count,
            ttl_lookup_h=settings.cache_ttl_lookup_h,
            ttl_profile_h=settings.cache_ttl_profile_h,
            ttl_nearby_h=settings.cache_ttl_nearby_h,
            cache=cache,
        ),
        "llm": LlmResource(
            enabled=settings.llm_enabled,
            api_key=_secret("OPENAI_API_KEY", settings.openai_api_key),
            base_url=settings.openai_base_url,
            model=settings.llm_model,
            timeout_s=settings.llm_timeout_s,
            concurrency=settings.llm_concurrency,
            requests_per_second=settings.llm_requests_per_second,
            input_price_per_mtok=settings.llm_input_price_per_mtok,
            output_price_per_mtok=settings.llm_output_price_per_mtok,
            redis_url=settings.redis_url,
        ),
        "warehouse": WarehouseResource(url=settings.warehouse_url),
        "report_files": ReportFilesResource(folder_path=str(settings.reports_dir)),
        "request_store": RequestStoreResource(url=settings.request_store_url),
        "alerting": AlertsResource(
            # A webhook URL often carries its receiver's token, so it is bound like a secret.
            webhook_url=_secret("ALERT_WEBHOOK_URL", settings.alert_webhook_url),
            rating_step=settings.alert_rating_step,
        ),
    }
