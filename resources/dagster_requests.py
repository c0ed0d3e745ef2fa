"""Dagster resources for on-demand comparisons and alerts (bound in `build_resources`)."""

from __future__ import annotations

import dagster as dg

from resources.request_store import RequestStore


class RequestStoreResource(dg.ConfigurableResource):
    """The request store for sensors and runs; holds only its URL (sqlite:/// or postgresql://)."""

    url: str

    def open(self) -> RequestStore:
        return RequestStore.from_url(self.url)


class AlertsResource(dg.ConfigurableResource):
    """Alert thresholds and the webhook; with no URL, alerts are recorded but not posted."""

    webhook_url: str | None = None
    rating_step: float = 0.2
