"""Plumbing shared by the HTTP stand-ins: a threaded HTTP/1.1 server on loopback only."""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"
# Longer than any sane client timeout, so a "timeout" fault is seen as one; stop() cuts it short.
HANG_S = 30.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 refuses connections when a benchmark opens thirty at once.
    request_queue_size = 128
    # A fixed --port can be bound again at once after a restart (sockets in TIME_WAIT).
    allow_reuse_address = True
    owner: BackgroundServer

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that give up (a timeout test, a cancelled benchmark) reset their connection;
        # that is expected traffic, not a server bug worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError) and not self.owner.verbose:
            return
        super().handle_error(request, client_address)


class StandinHandler(BaseHTTPRequestHandler):
    """Request handler with keep-alive, JSON helpers and connection tracking."""

    protocol_version = "HTTP/1.1"
    server_version = "standin/1"
    sys_version = ""
    # An idle keep-alive connection is closed after this long, like a real front end would.
    timeout = 75
    server: _Server

    @property
    def owner(self) -> Any:
        return self.server.owner

    def setup(self) -> None:
        super().setup()
        self.owner._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.owner._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        if self.owner.verbose:
            super().log_message(format, *args)

    def read_body(self) -> bytes:
        """The request body; always read in full so the next request on the connection parses."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers end with an empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(
        self, status: int, payload: object, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_bytes(status, data, "application/json; charset=utf-8", headers)

    def drop(self) -> None:
        """Close the connection without answering, as a crashed upstream would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def parse_json(raw: bytes) -> tuple[bool, object]:
    try:
        return True, json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False, None


class BackgroundServer:
    """Runs a handler class on 127.0.0.1 in a background thread; a context manager."""

    handler_class: type[StandinHandler] = StandinHandler

    def __init__(self, *, port: int = 0, verbose: bool = False):
        self.verbose = verbose
        self._wanted_port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        # Set on stop: wakes handlers that sleep for latency or a "timeout" fault.
        self._closing = threading.Event()
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("The stand-in is not running: call start() or use it in `with`.")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> BackgroundServer:
        if self._httpd is not None:
            return self
        self._closing.clear()
        httpd = _Server((LOOPBACK, self._wanted_port), self.handler_class)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._closing.set()
        httpd.shutdown()
        # Handler threads wait on idle keep-alive sockets; shutting the sockets ends them now
        # instead of at their idle timeout, and clients see a closed connection, not a hang.
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def pause(self, seconds: float) -> bool:
        """Sleep unless the server stops meanwhile; True when the full time passed."""
        if seconds <= 0:
            return not self._closing.is_set()
        return not self._closing.wait(seconds)

    def _track(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.discard(conn)


def serve_until_signalled(server: BackgroundServer, announce: Callable[[], str]) -> None:
    """Start, print one `NAME=URL` line for scripts to read, serve until SIGTERM or SIGINT."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server.start()
    try:
        print(announce(), flush=True)
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        sys.stdout.flush()
