"""The request store on SQLite and on PostgreSQL: requests in order, outcomes, the outbox."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from insights.tracking import make_business
from resources import request_store as module
from resources.request_store import ID_LENGTH, RequestStore
from tests.postgres import fresh_schema

NIGHT = date(2026, 12, 4)
BEAN = make_business("Bean Theory Coffee", "https://beantheory.coffee/", "Austin", "us", "en")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request, tmp_path):
    if request.param == "sqlite":
        yield RequestStore.from_url(f"sqlite:///{tmp_path / 'requests.sqlite'}")
        return
    with fresh_schema("requests_test") as url:
        yield RequestStore.from_url(url)


def test_a_request_keeps_the_business_and_gets_a_short_url_safe_id(any_store):
    request = any_store.add(BEAN, NIGHT)
    assert len(request.id) == ID_LENGTH and request.id.isalnum()
    stored = any_store.get(request.id)
    assert stored == request
    assert (stored.status, stored.night, stored.business_id) == ("queued", NIGHT, BEAN.business_id)
    assert stored.business.website == "https://beantheory.coffee/"
    assert any_store.get("nosuchid00") is None


def test_requests_made_at_once_are_numbered_in_the_order_they_become_visible(any_store):
    gaps: list[list[int]] = []
    stop = threading.Event()

    def reader() -> None:
        # Whatever a reader sees must be a prefix of the final order: never 5 before 4.
        while not stop.is_set():
            seqs = [r.seq for r in any_store.after(0, limit=1000)]
            if seqs != list(range(1, len(seqs) + 1)):
                gaps.append(seqs)

    watcher = threading.Thread(target=reader)
    watcher.start()
    writers = [
        threading.Thread(target=lambda: [any_store.add(BEAN, NIGHT) for _ in range(10)])
        for _ in range(4)
    ]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    watcher.join()
    assert gaps == []
    assert len(any_store.after(0, limit=1000)) == 40
    assert [r.seq for r in any_store.after(38)] == [39, 40]


def test_a_stored_report_stays_done_when_the_run_fails_afterwards(any_store):
    request = any_store.add(BEAN, NIGHT)
    any_store.finish(request.id, "done", run_id="run-1", error=None)
    any_store.finish(request.id, "failed", run_id="run-1", error="a later step failed")
    stored = any_store.get(request.id)
    assert (stored.status, stored.error, stored.run_id) == ("done", None, "run-1")
    assert stored.finished_at is not None


def test_an_outbox_message_is_queued_once_claimed_once_and_retried_when_due(any_store, monkeypatch):
    assert any_store.enqueue("alert-1", "alert", {"id": "alert-1", "n": 1})
    assert not any_store.enqueue("alert-1", "alert", {"id": "alert-1", "n": 2})
    [claimed] = any_store.claim_due()
    assert claimed.payload == {"id": "alert-1", "n": 1}
    # Leased: a second sender does not get it while the first is busy with it.
    assert any_store.claim_due() == []
    any_store.settle("alert-1", attempts=3, error="HTTP 500 from the webhook", retry_in_s=60)
    assert any_store.claim_due() == []
    [pending] = any_store.outbox(pending_only=True)
    assert (pending.attempts, pending.last_error) == (3, "HTTP 500 from the webhook")

    later = module.utc_now() + module.timedelta(seconds=61)
    monkeypatch.setattr(module, "utc_now", lambda: later)
    [again] = any_store.claim_due()
    any_store.settle(again.id, attempts=1, error=None, retry_in_s=0)
    [done] = any_store.outbox()
    assert (done.status, done.attempts, done.last_error) == ("delivered", 4, None)
    assert any_store.outbox(pending_only=True) == []
