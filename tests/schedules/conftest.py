"""Fixtures for the schedule, sensor, request and alert tests: a request store, a webhook
receiver on loopback, and settings on the bundled sample market."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from resources.request_store import RequestStore
from resources.settings import Settings
from resources.warehouse import Warehouse
from tests.pipeline.conftest import live_settings, warehouse_setting  # noqa: F401 - fixtures
from workflows.tracking import import_csv_text


@pytest.fixture
def settings(tmp_path):
    """Offline: the bundled sample market, a DuckDB file and the request store in tmp_path."""
    return Settings(data_dir=tmp_path)


# Three of the sample market's businesses whose competitors change from night to night; a
# night of three runs in about a second, a third of the whole sample's time.
FEW_BUSINESSES = """name,website,location,gl,hl
Bean Theory Coffee,https://beantheory.coffee/,"Austin, Texas, United States",us,en
Shibuya Roast Lab,,"Shibuya, Tokyo, Japan",jp,en
Smile Dental,https://www.smiledentalqueenwest.ca/,"Toronto, Ontario, Canada",ca,en
"""


def track_few(settings: Settings) -> Warehouse:
    warehouse = Warehouse.from_url(settings.warehouse_url)
    warehouse.migrate()
    assert import_csv_text(warehouse, FEW_BUSINESSES, settings.data_source).added == 3
    return warehouse


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    """A Dagster instance folder of the test's own, as DAGSTER_HOME."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def store(settings):
    return RequestStore.from_url(settings.request_store_url)


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers with scripted statuses (then 200) and can
    be taken down and brought back on the same port."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.headers: list[dict] = []
        self.script: deque[int] = deque()
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server dispatches to
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status = receiver.script.popleft() if receiver.script else 200
                    if status == 200:
                        receiver.received.append(json.loads(body))
                        receiver.headers.append(dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def receiver():
    hook = Receiver()
    yield hook
    hook.down()
