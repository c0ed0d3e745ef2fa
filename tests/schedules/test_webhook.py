"""Webhook delivery to a local receiver: retried, logged, never lost, never failing a night."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import dagster as dg
import pytest

from insights.tracking import make_business
from pipelines.definitions import build_definitions
from resources import request_store as store_module
from resources.dagster_requests import AlertsResource, RequestStoreResource
from resources.request_store import RequestStore
from resources.settings import Settings
from resources.warehouse import Warehouse
from resources.webhook import deliver_due, retry_delay_s
from schedules.alerts import alert_delivery_sensor, run_failure_alert_sensor
from tests.schedules.conftest import track_few
from tests.schedules.daemon import RequestRunner

PAYLOAD = {"type": "alert", "id": "a1", "message": "Rival A went from 4.5 to 4.2 (-0.3)"}


def no_wait(_seconds: float) -> None:
    pass


def later(monkeypatch, minutes: int) -> None:
    """Move the store's clock on, so messages due in a few minutes are due now."""
    moment = store_module.utc_now() + timedelta(minutes=minutes)
    monkeypatch.setattr(store_module, "utc_now", lambda: moment)


def test_a_receiver_failing_the_first_attempt_gets_the_message_on_the_second(store, receiver):
    receiver.script.append(500)
    store.enqueue("a1", "alert", PAYLOAD)
    sent = deliver_due(store, receiver.url, sleep=no_wait)
    assert (sent.delivered, sent.failed) == (1, 0)
    assert receiver.received == [PAYLOAD]
    assert receiver.headers[0]["Idempotency-Key"] == "a1"
    [item] = store.outbox()
    assert (item.status, item.attempts) == ("delivered", 2)


def test_a_receiver_that_is_down_leaves_the_message_pending_and_logged(
    store, receiver, caplog, monkeypatch
):
    receiver.down()
    store.enqueue("a1", "alert", PAYLOAD)
    with caplog.at_level(logging.WARNING, logger="resources.webhook"):
        sent = deliver_due(store, receiver.url, sleep=no_wait)
    assert (sent.delivered, sent.failed, sent.left_for_later) == (0, 1, True)
    [item] = store.outbox(pending_only=True)
    assert item.attempts == 3 and "ConnectError" in item.last_error
    assert "a1 not delivered after 3 attempt(s)" in caplog.text
    # Not due again at once: the receiver gets a pause.
    assert deliver_due(store, receiver.url, sleep=no_wait).delivered == 0

    receiver.up()
    later(monkeypatch, 1)
    assert deliver_due(store, receiver.url, sleep=no_wait).delivered == 1
    assert receiver.received == [PAYLOAD]


def test_retries_pause_longer_each_round_up_to_five_minutes():
    assert [retry_delay_s(n) for n in (1, 3, 6, 9, 12, 15, 60)] == [30, 30, 60, 120, 240, 300, 300]


def test_a_message_the_receiver_rejects_is_kept_but_not_hammered(store, receiver):
    receiver.script.append(400)
    store.enqueue("a1", "alert", PAYLOAD)
    deliver_due(store, receiver.url, sleep=no_wait)
    [item] = store.outbox(pending_only=True)
    assert item.attempts == 1 and item.last_error == "HTTP 400 from the webhook"


def _sensor_resources(store, url):
    return {
        "alerting": AlertsResource(webhook_url=url),
        "request_store": RequestStoreResource(url=store.url),
    }


def test_the_delivery_sensor_sends_what_is_due(store, receiver):
    store.enqueue("a1", "alert", PAYLOAD)
    with dg.build_sensor_context(resources=_sensor_resources(store, receiver.url)) as context:
        result = alert_delivery_sensor(context)
    assert "1 delivered" in result.skip_message
    assert receiver.received == [PAYLOAD]
    with dg.build_sensor_context(resources=_sensor_resources(store, None)) as context:
        assert "ALERT_WEBHOOK_URL" in alert_delivery_sensor(context).skip_message


def test_a_nights_alerts_survive_a_receiver_that_is_down_and_arrive_when_it_is_back(
    tmp_path, receiver, monkeypatch
):
    settings = Settings(data_dir=tmp_path, alert_webhook_url=receiver.url)
    track_few(settings)
    job = build_definitions(settings).resolve_job_def("nightly_refresh_job")
    assert job.execute_in_process(partition_key="2026-12-02").success
    receiver.down()
    result = job.execute_in_process(partition_key="2026-12-03")
    assert result.success  # a receiver that is down never fails the night
    [materialization] = result.asset_materializations_for_node("alerts")
    assert materialization.metadata["webhook_failed"].value >= 1

    warehouse = Warehouse.from_url(settings.warehouse_url)
    rows = warehouse.query("SELECT alert_id, webhook FROM alerts WHERE night = ?", ["2026-12-03"])
    assert rows and {r["webhook"] for r in rows} == {"queued"}
    store = RequestStore.from_url(settings.request_store_url)
    assert {r["alert_id"] for r in rows} <= {i.id for i in store.outbox(pending_only=True)}

    receiver.up()
    receiver.script.append(503)  # and it stumbles once more on the way back
    later(monkeypatch, 10)
    resources = _sensor_resources(store, receiver.url)
    with dg.build_sensor_context(resources=resources) as context:
        alert_delivery_sensor(context)
    delivered = {p["id"] for p in receiver.received}
    assert {r["alert_id"] for r in rows} <= delivered
    assert store.outbox(pending_only=True) == []


@pytest.fixture
def failing_request(tmp_path, serper_standin, dagster_home):
    """A comparison whose run fails: Serper refuses the key."""
    settings = Settings(
        serper_api_key="wrong-key",
        serper_base_url=serper_standin.url,
        serper_requests_per_second=5,
        data_dir=tmp_path,
    )
    daemon = RequestRunner(settings)
    bean = make_business("Bean Theory Coffee", None, "Austin")
    request = daemon.store.add(bean, date(2026, 12, 4))
    [run] = daemon.tick()
    assert not run.success
    return daemon.store, request, run


def test_a_failed_run_is_posted_and_its_request_marked_failed(failing_request, receiver):
    store, request, result = failing_request
    receiver.script.append(500)
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(result.run_id)
        [failure] = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert_sensor",
            dagster_event=failure.dagster_event,
            dagster_instance=instance,
            dagster_run=run,
            resources=_sensor_resources(store, receiver.url),
        ).for_run_failure()
        run_failure_alert_sensor(context)
    [posted] = receiver.received
    assert posted["type"] == "run_failure" and posted["run_id"] == result.run_id
    assert posted["request_id"] == request.id
    assert "SERPER_API_KEY" in posted["error"]
    stored = store.get(request.id)
    assert stored.status == "failed" and "SERPER_API_KEY" in stored.error
