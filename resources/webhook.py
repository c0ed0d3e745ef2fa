"""Posting alerts as JSON to the webhook in ALERT_WEBHOOK_URL, from the request store's outbox.

Every message is queued in the outbox before the first attempt, so a receiver that is down loses
nothing: each send makes a few quick attempts with backoff, and what still fails stays pending,
due again after a growing pause, until a later run or the delivery sensor gets it through.
Nothing here raises on a delivery failure; it logs and records it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from resources.request_store import RequestStore

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(5.0, connect=3.0)
QUICK_ATTEMPTS = 3
QUICK_BACKOFF_S = 0.5
# Pauses between rounds of attempts grow from 30 s to 5 minutes and stay there: a receiver that
# comes back gets the backlog within minutes, and one that never does costs a request per 5 min.
RETRY_FIRST_S = 30.0
RETRY_MAX_S = 300.0


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    attempts: int
    error: str | None = None
    # Connection refused or timed out: the next message would fare no better right now.
    receiver_down: bool = False


def post_json(
    client: httpx.Client,
    url: str,
    payload: dict,
    *,
    attempts: int = QUICK_ATTEMPTS,
    backoff_s: float = QUICK_BACKOFF_S,
    sleep: Callable[[float], None] = time.sleep,
) -> Attempt:
    """POST `payload`, retrying timeouts, connection errors, 429 and 5xx with backoff."""
    error, down = None, False
    for number in range(1, attempts + 1):
        try:
            response = client.post(url, json=payload, headers={"Idempotency-Key": payload["id"]})
        except httpx.HTTPError as exc:
            error, down = f"{type(exc).__name__}: {exc}".rstrip(": "), True
        else:
            if response.is_success:
                return Attempt(True, number)
            error, down = f"HTTP {response.status_code} from the webhook", False
            if response.status_code < 500 and response.status_code not in (408, 429):
                # The receiver refuses this message; asking again at once will not change that.
                return Attempt(False, number, error)
        if number < attempts:
            sleep(backoff_s * 2 ** (number - 1))
    return Attempt(False, attempts, error, receiver_down=down)


def retry_delay_s(attempts_so_far: int) -> float:
    """30 s after the first round of attempts, then 60, 120, 240 and 300 s from then on."""
    rounds = max((attempts_so_far - 1) // QUICK_ATTEMPTS, 0)
    return min(RETRY_FIRST_S * 2**rounds, RETRY_MAX_S)


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    left_for_later: bool = False


def deliver_due(
    store: RequestStore,
    url: str,
    *,
    budget_s: float = 20.0,
    client: httpx.Client | None = None,
    log: logging.Logger | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Send the outbox's due messages, oldest first, for at most about `budget_s` seconds."""
    log = log or logger
    report = DeliveryReport()
    deadline = time.monotonic() + budget_s
    own_client = client is None
    client = client or httpx.Client(timeout=TIMEOUT, headers={"User-Agent": "competitor-insights"})
    try:
        while time.monotonic() < deadline:
            claimed = store.claim_due(limit=1)
            if not claimed:
                return report
            item = claimed[0]
            result = post_json(client, url, item.payload, sleep=sleep)
            total = item.attempts + result.attempts
            delay = retry_delay_s(total)
            store.settle(item.id, attempts=result.attempts, error=result.error, retry_in_s=delay)
            if result.delivered:
                report.delivered += 1
                continue
            report.failed += 1
            log.warning(
                "webhook: %s %s not delivered after %d attempt(s) (%s); next try in %.0f s",
                item.kind, item.id, total, result.error, delay,
            )  # fmt: skip
            if result.receiver_down:
                report.left_for_later = True
                return report
        # Out of time: what is still due waits for the next run or sensor tick.
        report.left_for_later = True
        return report
    finally:
        if own_client:
            client.close()
