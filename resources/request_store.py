"""Comparison requests and the webhook outbox: the small state kept out of the warehouse.

The sensors that read it run in the Dagster daemon, which must never wait on DuckDB's
one-writer file lock. So this store is an SQLite file in WAL mode (readers never block, writers
wait milliseconds) or, beside a PostgreSQL warehouse, two tables in that database.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg2
import psycopg2.extras

from insights.tracking import TrackedBusiness

# Easy to read aloud and to type: no 0/o, 1/l/i, and nothing a shell or a URL treats specially.
_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
ID_LENGTH = 10
FINAL_STATUSES = ("done", "failed")

_COMMON_COLUMNS = """
    id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, night TEXT NOT NULL,
    name TEXT, website TEXT, location TEXT, gl TEXT, hl TEXT, business_id TEXT NOT NULL,
    status TEXT NOT NULL, run_id TEXT, error TEXT, finished_at TEXT"""
_OUTBOX_COLUMNS = """
    id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL, last_error TEXT, next_attempt_at TEXT NOT NULL,
    claimed_until TEXT, delivered_at TEXT"""


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _stamp(moment: datetime) -> str:
    # One fixed width, so that text comparison in SQL orders timestamps correctly.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def new_request_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))


@dataclass(frozen=True)
class Request:
    id: str
    seq: int
    created_at: datetime
    night: date
    name: str | None
    website: str | None
    location: str | None
    gl: str | None
    hl: str | None
    business_id: str
    status: str  # queued, done or failed; a run in progress is read from Dagster
    run_id: str | None
    error: str | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: dict) -> Request:
        values = {f.name: row[f.name] for f in fields(cls)}
        values["created_at"] = _moment(row["created_at"])
        values["finished_at"] = _moment(row["finished_at"])
        values["night"] = date.fromisoformat(row["night"])
        return cls(**values)

    @property
    def business(self) -> TrackedBusiness:
        return TrackedBusiness(
            self.business_id, self.name, self.website, self.location, self.gl, self.hl
        )


@dataclass(frozen=True)
class OutboxItem:
    id: str
    kind: str
    payload: dict
    status: str  # pending or delivered
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, row: dict) -> OutboxItem:
        return cls(
            row["id"], row["kind"], json.loads(row["payload"]), row["status"], row["attempts"],
            row["last_error"], _moment(row["next_attempt_at"]), _moment(row["delivered_at"]),
        )  # fmt: skip


class RequestStore:
    """Open with `RequestStore.from_url("sqlite:///path")` or a PostgreSQL URL."""

    # Two senders claiming at once must not both take a message; SQLite's IMMEDIATE
    # transactions already take turns, PostgreSQL needs row locks.
    _skip_locked = ""

    def __init__(self, url: str) -> None:
        self.url = url

    @staticmethod
    def from_url(url: str) -> RequestStore:
        if url.startswith("sqlite:///"):
            return _SqliteStore(url)
        if url.split("://", 1)[0] in ("postgresql", "postgres", "postgresql+psycopg2"):
            return _PostgresStore(url)
        raise ValueError(f"not a request store URL: {url.split('://', 1)[0]}://...")

    # ---- comparison requests ----------------------------------------------------------------

    def add(self, business: TrackedBusiness, night: date) -> Request:
        row = {
            "id": new_request_id(), "created_at": _stamp(utc_now()), "night": night.isoformat(),
            "name": business.name, "website": business.website, "location": business.location,
            "gl": business.gl, "hl": business.hl, "business_id": business.business_id,
            "status": "queued", "run_id": None, "error": None, "finished_at": None,
        }  # fmt: skip
        marks = ", ".join("?" for _ in row)
        with self._transaction(write=True, serial=True) as cur:
            cur.execute(
                f"INSERT INTO comparison_requests ({', '.join(row)}) VALUES ({marks})",
                list(row.values()),
            )
            cur.execute("SELECT * FROM comparison_requests WHERE id = ?", [row["id"]])
            return Request.from_row(cur.fetchall()[0])

    def get(self, request_id: str) -> Request | None:
        rows = self._query("SELECT * FROM comparison_requests WHERE id = ?", [request_id])
        return Request.from_row(rows[0]) if rows else None

    def after(self, seq: int, limit: int = 100) -> list[Request]:
        """Requests made after the one numbered `seq`, oldest first."""
        rows = self._query(
            "SELECT * FROM comparison_requests WHERE seq > ? ORDER BY seq LIMIT ?", [seq, limit]
        )
        return [Request.from_row(r) for r in rows]

    def finish(self, request_id: str, status: str, *, run_id: str, error: str | None) -> None:
        """Record a request's outcome. A report once stored stays done: a later failure of the
        same run (a step after the report) does not turn it into failed."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"a request finishes as one of {FINAL_STATUSES}, not {status!r}")
        keep_done = "AND status <> 'done'" if status == "failed" else ""
        with self._transaction(write=True) as cur:
            cur.execute(
                "UPDATE comparison_requests SET status = ?, run_id = ?, error = ?, "
                f"finished_at = ? WHERE id = ? {keep_done}",
                [status, run_id, error, _stamp(utc_now()), request_id],
            )

    # ---- webhook outbox ---------------------------------------------------------------------

    def enqueue(self, message_id: str, kind: str, payload: dict) -> bool:
        """Add a message to deliver; False when one with this id was already queued."""
        now = _stamp(utc_now())
        with self._transaction(write=True) as cur:
            cur.execute(
                "INSERT INTO webhook_outbox (id, created_at, kind, payload, status, attempts, "
                "next_attempt_at) VALUES (?, ?, ?, ?, 'pending', 0, ?) ON CONFLICT (id) DO NOTHING",
                [message_id, now, kind, json.dumps(payload, default=str, sort_keys=True), now],
            )
            return cur.rowcount == 1

    def claim_due(self, limit: int = 50, lease_s: float = 120.0) -> list[OutboxItem]:
        """Pending messages whose next attempt is due, leased so no other process sends them
        at the same time; a lease left by a crashed sender runs out after `lease_s`."""
        now = utc_now()
        with self._transaction(write=True) as cur:
            cur.execute(
                "SELECT * FROM webhook_outbox WHERE status = 'pending' AND next_attempt_at <= ? "
                "AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY seq LIMIT ?"
                + self._skip_locked,
                [_stamp(now), _stamp(now), limit],
            )
            rows = cur.fetchall()
            for row in rows:
                cur.execute(
                    "UPDATE webhook_outbox SET claimed_until = ? WHERE id = ?",
                    [_stamp(now + timedelta(seconds=lease_s)), row["id"]],
                )
        return [OutboxItem.from_row(r) for r in rows]

    def settle(self, item_id: str, *, attempts: int, error: str | None, retry_in_s: float) -> None:
        """Record a delivery attempt: delivered when `error` is None, else due again later."""
        now = utc_now()
        with self._transaction(write=True) as cur:
            cur.execute(
                "UPDATE webhook_outbox SET attempts = attempts + ?, claimed_until = NULL, "
                "status = ?, last_error = ?, delivered_at = ?, next_attempt_at = ? WHERE id = ?",
                [
                    attempts,
                    "pending" if error else "delivered",
                    error,
                    None if error else _stamp(now),
                    _stamp(now + timedelta(seconds=retry_in_s if error else 0)),
                    item_id,
                ],
            )

    def outbox(self, *, pending_only: bool = False, limit: int = 200) -> list[OutboxItem]:
        where = "WHERE status = 'pending'" if pending_only else ""
        sql = f"SELECT * FROM webhook_outbox {where} ORDER BY seq DESC LIMIT ?"
        rows = self._query(sql, [limit])
        return [OutboxItem.from_row(r) for r in rows]

    # ---- backend ----------------------------------------------------------------------------

    def _query(self, sql: str, params: list) -> list[dict]:
        with self._transaction(write=False) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    @contextmanager
    def _transaction(self, *, write: bool, serial: bool = False) -> Iterator:
        raise NotImplementedError


class _Cursor:
    """`?` placeholders and rows as dicts on both backends."""

    def __init__(self, raw, pyformat: bool) -> None:
        self._raw, self._pyformat = raw, pyformat

    def execute(self, sql: str, params: list | tuple = ()) -> None:
        self._raw.execute(sql.replace("?", "%s") if self._pyformat else sql, params)

    def fetchall(self) -> list[dict]:
        return [dict(row) for row in self._raw.fetchall()]

    @property
    def rowcount(self) -> int:
        return self._raw.rowcount


class _SqliteStore(RequestStore):
    _ready: set[str] = set()
    _ready_guard = threading.Lock()

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = Path(url.removeprefix("sqlite:///")).expanduser()
        if not self.path.is_absolute():
            self.path = self.path.resolve()

    def _connect(self) -> sqlite3.Connection:
        # autocommit mode (isolation_level=None): transactions are begun explicitly below.
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        return con

    def _setup(self) -> None:
        with self._ready_guard:
            if str(self.path) in self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = self._connect()
            try:
                # WAL: the sensor's reads never wait for a writer, nor a writer for them.
                con.execute("PRAGMA journal_mode=WAL")
                con.execute(
                    "CREATE TABLE IF NOT EXISTS comparison_requests "
                    f"(seq INTEGER PRIMARY KEY AUTOINCREMENT, {_COMMON_COLUMNS})"
                )
                con.execute(
                    "CREATE TABLE IF NOT EXISTS webhook_outbox "
                    f"(seq INTEGER PRIMARY KEY AUTOINCREMENT, {_OUTBOX_COLUMNS})"
                )
            finally:
                con.close()
            self._ready.add(str(self.path))

    @contextmanager
    def _transaction(self, *, write: bool, serial: bool = False) -> Iterator[_Cursor]:
        self._setup()
        con = self._connect()
        try:
            # IMMEDIATE takes the write lock up front, so a new request's seq is assigned and
            # committed in one turn: a reader can never see seq N+1 before seq N.
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield _Cursor(con.cursor(), pyformat=False)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()


class _PostgresStore(RequestStore):
    _skip_locked = " FOR UPDATE SKIP LOCKED"
    _ready: set[str] = set()
    _ready_guard = threading.Lock()
    # Any fixed number: advisory locks are keyed by integers shared by every client.
    _SERIAL_LOCK = 0x636F6D7072657173

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.schema = dict(query).get("schema")
        rest = urlencode([(k, v) for k, v in query if k != "schema"])
        self._dsn = urlunsplit(parts._replace(scheme="postgresql", query=rest))

    def _connect(self):
        con = psycopg2.connect(self._dsn, connect_timeout=10)
        if self.schema:
            with con.cursor() as cur:
                cur.execute(f'SET search_path TO "{self.schema}"')
        return con

    def _setup(self) -> None:
        with self._ready_guard:
            if self.url in self._ready:
                return
            con = psycopg2.connect(self._dsn, connect_timeout=10)
            try:
                with con.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (self._SERIAL_LOCK + 1,))
                    if self.schema:
                        cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                        cur.execute(f'SET LOCAL search_path TO "{self.schema}"')
                    for table, columns in (
                        ("comparison_requests", _COMMON_COLUMNS),
                        ("webhook_outbox", _OUTBOX_COLUMNS),
                    ):
                        cur.execute(
                            f"CREATE TABLE IF NOT EXISTS {table} "
                            f"(seq BIGSERIAL PRIMARY KEY, {columns})"
                        )
                con.commit()
            finally:
                con.close()
            self._ready.add(self.url)

    @contextmanager
    def _transaction(self, *, write: bool, serial: bool = False) -> Iterator[_Cursor]:
        self._setup()
        con = self._connect()
        try:
            with con.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                if serial:
                    # Sequence numbers are handed out before commit, so two inserts could
                    # become visible out of order and a cursor past the later one would skip
                    # the earlier. Taking turns makes commit order equal seq order.
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (self._SERIAL_LOCK,))
                yield _Cursor(cur, pyformat=True)
            con.commit()
        except BaseException:
            con.rollback()
            raise
        finally:
            con.close()
