"""Serves the bundled sample market through httpx, so offline runs use the real Serper client.

The client, its parser, retries and cache all run as they would against serper.dev; only the
bytes come from the sample market instead of the network.
"""

from __future__ import annotations

import json
from datetime import date

import httpx

from standins.market import SampleMarket


class SampleMarketTransport(httpx.AsyncBaseTransport):
    def __init__(self, market: SampleMarket):
        self.market = market

    @classmethod
    def bundled(cls, as_of: date | None = None) -> SampleMarketTransport:
        return cls(SampleMarket.load_bundled(as_of=as_of))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(await request.aread() or b"{}")
        status, payload = self.market.answer(request.url.path, body)
        return httpx.Response(status, json=payload, request=request)
