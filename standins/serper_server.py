"""A local HTTP stand-in for Serper's `/maps` and `/places`, with Serper's failure modes.

    python -m standins.serper_server --port 0 --latency 0.3 --rps 50

prints `SERPER_BASE_URL=http://127.0.0.1:PORT` and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import deque
from datetime import date
from http import HTTPStatus
from urllib.parse import urlsplit

from standins._http import HANG_S, BackgroundServer, StandinHandler, parse_json
from standins.market import SampleMarket

# Scripted faults a test can queue; a bare status code answers that status with a Serper-like
# body.
NAMED_FAULTS = frozenset({"timeout", "truncated", "disconnect"})
_API_PATHS = ("/maps", "/places")

# Cloudflare answers a dead origin with an HTML page, not JSON: a client must not assume every
# error body parses.
_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_MESSAGES = {
    400: "Bad request.",
    403: "Unauthorized.",
    429: "Too many requests, please slow down.",
    500: "Internal server error.",
    503: "Service temporarily unavailable.",
    504: "Gateway timeout.",
}


def _check_fault(fault: str) -> str:
    if fault in NAMED_FAULTS or (fault.isdigit() and 400 <= int(fault) <= 599):
        return fault
    raise ValueError(
        f"Unknown Serper fault {fault!r}: use an HTTP status (e.g. '500', '429') or one of "
        f"{sorted(NAMED_FAULTS)}."
    )


class _SerperHandler(StandinHandler):
    def do_POST(self) -> None:
        raw = self.read_body()
        path = urlsplit(self.path).path.rstrip("/") or "/"
        if path == "/_script":
            ok, payload = parse_json(raw)
            faults = payload.get("faults") if ok and isinstance(payload, dict) else None
            if not isinstance(faults, list):
                self.send_json(400, {"message": 'Expected {"faults": [...]}.', "statusCode": 400})
                return
            try:
                self.owner.script([str(f) for f in faults])
            except ValueError as exc:
                self.send_json(400, {"message": str(exc), "statusCode": 400})
                return
            self.send_json(200, {"queued": len(faults)})
            return
        self.owner._serve(self, path, raw)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/_stats":
            self.send_json(200, self.owner.stats)
        elif path in _API_PATHS:
            self.send_json(405, {"message": "Use POST with a JSON body.", "statusCode": 405})
        else:
            self.send_json(404, {"message": "Not found.", "statusCode": 404})


class SerperStandin(BackgroundServer):
    """Serves a SampleMarket over HTTP like Serper, with configurable latency, limits and faults.

    Without a market it serves the bundled sample as observed today, so a long-running stand-in
    shows nightly drift like the real service.
    """

    handler_class = _SerperHandler

    def __init__(
        self,
        market: SampleMarket | None = None,
        *,
        api_key: str | None = None,
        latency_s: float = 0.0,
        rps_limit: float | None = None,
        error_rate: float = 0.0,
        truncate_rate: float = 0.0,
        credits_left: int | None = None,
        seed: int = 0,
        port: int = 0,
        verbose: bool = False,
    ):
        super().__init__(port=port, verbose=verbose)
        self.market = market if market is not None else SampleMarket.load_bundled(date.today)
        self.api_key = api_key
        self.latency_s = latency_s
        self.rps_limit = rps_limit
        self.error_rate = error_rate
        self.truncate_rate = truncate_rate
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._script: deque[str] = deque()
        self._arrivals: deque[float] = deque()
        self._admitted: deque[float] = deque()
        self._credits_left = credits_left
        self._counters = {
            "requests": 0,
            "ok": 0,
            "rate_limited": 0,
            "credits_exhausted": 0,
            "faults_injected": 0,
            "credits_billed": 0,
            "max_rps_seen": 0,
        }
        self._by_status: dict[str, int] = {}

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def stats(self) -> dict:
        """A snapshot of the counters; `by_status` is keyed by the status as a string."""
        with self._lock:
            return {
                **self._counters,
                "by_status": dict(self._by_status),
                "credits_left": self._credits_left,
            }

    def script(self, faults: list[str]) -> None:
        """Queue faults for the next requests, in order: '500', '429', 'timeout', 'truncated',
        'disconnect' or any 4xx/5xx status."""
        checked = [_check_fault(str(f)) for f in faults]
        with self._lock:
            self._script.extend(checked)

    # ----------------------------------------------------------------- request flow

    def _serve(self, handler: StandinHandler, path: str, raw: bytes) -> None:
        now = time.monotonic()
        with self._lock:
            self._counters["requests"] += 1
            self._arrivals.append(now)
            while self._arrivals and self._arrivals[0] <= now - 1.0:
                self._arrivals.popleft()
            self._counters["max_rps_seen"] = max(
                self._counters["max_rps_seen"], len(self._arrivals)
            )

        if self.api_key is not None and handler.headers.get("X-API-KEY") != self.api_key:
            self._reply(handler, 403, {"message": "Unauthorized.", "statusCode": 403})
            return

        with self._lock:
            fault = self._script.popleft() if self._script else None
            refusal = None
            if fault is None:
                refusal = self._refusal(now)
                if refusal is not None:
                    self._counters[refusal] += 1
                else:
                    fault = self._random_fault()
            if fault is not None:
                self._counters["faults_injected"] += 1
        if refusal is not None:
            # Serper sends no Retry-After, neither for speed nor for spent credits.
            message = _MESSAGES[429] if refusal == "rate_limited" else "Not enough credits."
            self._reply(handler, 429, {"message": message, "statusCode": 429})
            return

        if not self.pause(self.latency_s):
            handler.drop()
            return
        if fault is not None and fault != "truncated":
            self._inject(handler, fault)
            return

        ok, body = parse_json(raw)
        if not ok:
            status, answer = 400, {"message": "The body is not valid JSON.", "statusCode": 400}
        else:
            status, answer = self.market.answer(path, body if body is not None else {})
        if fault == "truncated":
            data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
            # Half a body with a matching Content-Length: the connection stays usable and only
            # the JSON decoder notices. Not billed, like any call that did not deliver.
            self._count(200)
            handler.send_bytes(200, data[: len(data) // 2], "application/json; charset=utf-8")
            return
        credits = answer.get("credits", 0) if status == 200 else 0
        with self._lock:
            if status == 200:
                self._counters["ok"] += 1
                self._counters["credits_billed"] += credits
                if self._credits_left is not None:
                    self._credits_left = max(0, self._credits_left - credits)
        self._reply(handler, status, answer)

    def _refusal(self, now: float) -> str | None:
        """Why this request is turned away with a 429, if it is (called under the lock)."""
        if self.rps_limit is not None:
            while self._admitted and self._admitted[0] <= now - 1.0:
                self._admitted.popleft()
            if len(self._admitted) >= self.rps_limit:
                return "rate_limited"
            self._admitted.append(now)
        if self._credits_left is not None and self._credits_left <= 0:
            return "credits_exhausted"
        return None

    def _random_fault(self) -> str | None:
        # One draw per request keeps a seeded run reproducible whatever the rates are.
        draw = self._rng.random()
        if draw < self.error_rate:
            return self._rng.choice(("500", "502", "503"))
        if draw < self.error_rate + self.truncate_rate:
            return "truncated"
        return None

    def _inject(self, handler: StandinHandler, fault: str) -> None:
        if fault == "disconnect":
            self._count(None)
            handler.drop()
            return
        if fault == "timeout":
            if self.pause(HANG_S):
                self._reply(handler, 504, {"message": _MESSAGES[504], "statusCode": 504})
            else:
                self._count(None)
                handler.drop()
            return
        status = int(fault)
        if status == 502:
            self._count(502)
            handler.send_bytes(502, _BAD_GATEWAY_HTML, "text/html")
            return
        message = _MESSAGES.get(status) or _phrase(status)
        self._reply(handler, status, {"message": message, "statusCode": status})

    def _reply(self, handler: StandinHandler, status: int, payload: dict) -> None:
        self._count(status)
        handler.send_json(status, payload)

    def _count(self, status: int | None) -> None:
        # A dropped connection has no status; it shows as "dropped" so totals still add up.
        key = str(status) if status is not None else "dropped"
        with self._lock:
            self._by_status[key] = self._by_status.get(key, 0) + 1


def _phrase(status: int) -> str:
    try:
        return f"{HTTPStatus(status).phrase}."
    except ValueError:
        return "Error."


def main(argv: list[str] | None = None) -> None:
    from standins._http import serve_until_signalled

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--rps", type=float, default=None, help="requests per second allowed")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share answered 5xx")
    parser.add_argument("--truncate-rate", type=float, default=0.0, help="share cut in half")
    parser.add_argument("--credits", type=int, default=None, help="credits before 429s")
    parser.add_argument("--synthetic", type=int, default=None, metavar="N", help="N businesses")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random faults")
    parser.add_argument("--api-key", default=None, help="require this X-API-KEY")
    parser.add_argument("--as-of", default="today", help="YYYY-MM-DD, 'today' or 'none'")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    as_of = _parse_as_of(args.as_of)
    if args.synthetic is not None:
        market = SampleMarket.synthetic(args.synthetic, as_of=as_of)
    else:
        market = SampleMarket.load_bundled(as_of=as_of)
    server = SerperStandin(
        market,
        api_key=args.api_key,
        latency_s=args.latency,
        rps_limit=args.rps,
        error_rate=args.error_rate,
        truncate_rate=args.truncate_rate,
        credits_left=args.credits,
        seed=args.seed,
        port=args.port,
        verbose=args.verbose,
    )
    serve_until_signalled(server, lambda: f"SERPER_BASE_URL={server.url}")


def _parse_as_of(text: str):
    if text == "today":
        return date.today
    if text.lower() == "none":
        return None
    return date.fromisoformat(text)


if __name__ == "__main__":
    main()
