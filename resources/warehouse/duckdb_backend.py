"""The DuckDB backend: an embedded file, one short connection per operation."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from resources.warehouse.base import (
    _ACCEPTED_URLS,
    Warehouse,
    WarehouseError,
    _check_newer,
    _conflict_sql,
    _insert_sql,
)
from resources.warehouse.values import _numeric_to_python, _quietly, _utcnow
from resources.warehouse_schema import (
    BIGINT,
    BOOLEAN,
    DATE,
    DOUBLE,
    INTEGER,
    JSON,
    MIGRATIONS,
    MIGRATIONS_TABLE_SQL,
    TEXT,
    TIMESTAMP,
    Table,
    quote,
)

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# DuckDB

# DuckDB shares one database instance between the connections of a process, and two threads
# writing to it at once get transaction conflicts instead of waiting. Serialising a process's
# operations on one file turns that into the same queueing that other processes get from the
# file lock.
_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()

_DUCKDB_LOCK_MESSAGES = ("could not set lock", "conflicting lock")
# The retry delay reached after about 1.5 s of waiting, when the wait is worth saying.
_NOTICE_AFTER_DELAY = 0.8


def _file_lock(path: str) -> threading.Lock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path, threading.Lock())


_DUCKDB_CASTS = {
    TEXT: "VARCHAR",
    JSON: "VARCHAR",
    DOUBLE: "DOUBLE",
    BIGINT: "BIGINT",
    INTEGER: "INTEGER",
    DATE: "DATE",
    TIMESTAMP: "TIMESTAMP",
    BOOLEAN: "BOOLEAN",
}


def _frame_column(kind: str, values: Sequence[Any]) -> Any:
    # Explicit dtypes: left to itself pandas turns integers with gaps into floats (losing digits
    # above 2**53) and DuckDB guesses object columns' types from a sample of rows.
    if kind in (BIGINT, INTEGER):
        return pd.array(values, dtype="Int64")
    if kind == DOUBLE:
        return np.array(values, dtype="float64")
    if kind == DATE:
        return np.array(values, dtype="datetime64[s]")
    if kind == TIMESTAMP:
        return np.array(values, dtype="datetime64[us]")
    if kind == BOOLEAN:
        return pd.array(values, dtype="boolean")
    return pd.Series(values, dtype=object)


class _DuckDBWarehouse(Warehouse):
    kind = "duckdb"

    def __init__(self, url: str, *, lock_timeout_s: float = 120.0) -> None:
        super().__init__(url, lock_timeout_s=lock_timeout_s)
        rest = url.split("://", 1)[1]
        if not rest.startswith("/") or len(rest) < 2:
            raise WarehouseError(
                f"WAREHOUSE_URL {url!r} has no file path; use one of: {_ACCEPTED_URLS}"
            )
        raw = rest[1:]
        if raw in (":memory:", "") or "?" in raw:
            raise WarehouseError(
                f"WAREHOUSE_URL {url!r}: the DuckDB warehouse must be a file path without "
                "options (every operation reopens the database, so :memory: would forget "
                f"everything between calls); use one of: {_ACCEPTED_URLS}"
            )
        path = Path(raw).expanduser().resolve()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(
                f"WAREHOUSE_URL {url!r}: cannot create the folder {path.parent}: {exc}"
            ) from exc
        self.path = path

    @property
    def _where(self) -> str:
        return f"DuckDB warehouse {self.path}"

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        started = time.monotonic()
        lock = _file_lock(str(self.path))
        if not lock.acquire(timeout=max(self.lock_timeout_s, 0.001)):
            raise WarehouseError(
                f"{self._where}: another thread of this process kept it busy for more than "
                f"{self.lock_timeout_s:g} s; raise lock_timeout_s or look for a stuck operation."
            )
        try:
            con = self._open(deadline=started + self.lock_timeout_s)
            try:
                yield con
            finally:
                con.close()
        finally:
            lock.release()

    def _open(self, *, deadline: float) -> duckdb.DuckDBPyConnection:
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(self.path))
            except duckdb.Error as exc:
                message = str(exc)
                if not any(m in message.lower() for m in _DUCKDB_LOCK_MESSAGES):
                    raise WarehouseError(
                        f"{self._where} (WAREHOUSE_URL {self.url}) could not be opened: {message}"
                    ) from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WarehouseError(
                        f"{self._where} is locked by another process and stayed locked for "
                        f"{self.lock_timeout_s:g} s. DuckDB lets one process use a file at a "
                        "time: wait for the other run to finish or stop it (dagster dev, a "
                        "notebook, the duckdb CLI), then try again. "
                        f"DuckDB said: {message}"
                    ) from exc
                if delay == _NOTICE_AFTER_DELAY:
                    # A wait of a few seconds is normal; a longer one deserves a word.
                    logger.info("%s is busy in another process; waiting up to %.0f s",
                                self._where, remaining)  # fmt: skip
                # Jitter keeps several waiting processes from retrying in lockstep.
                time.sleep(min(remaining, delay * random.uniform(0.5, 1.5)))
                delay = min(delay * 2, 1.0)

    def _migrate(self) -> None:
        with self._connect() as con:
            try:
                con.execute(MIGRATIONS_TABLE_SQL)
                rows = con.execute('SELECT "version" FROM schema_migrations').fetchall()
                applied = {r[0] for r in rows}
            except duckdb.Error as exc:
                self._fail("migrate", None, exc, rolled_back=False)
            _check_newer(self.url, applied)
            for migration in MIGRATIONS:
                if migration.version in applied:
                    continue
                con.execute("BEGIN TRANSACTION")
                try:
                    for statement in migration.statements("duckdb"):
                        con.execute(statement)
                    con.execute(
                        'INSERT INTO schema_migrations ("version", "applied_at") VALUES (?, ?)',
                        (migration.version, _utcnow()),
                    )
                    con.execute("COMMIT")
                except duckdb.Error as exc:
                    _quietly(con.rollback)
                    self._fail(f"migration {migration.version}", None, exc, rolled_back=True)

    def _write(
        self,
        spec: Table,
        columns: list[str],
        values: list[tuple],
        *,
        op: str,
        delete: tuple[str, tuple] | None = None,
        lock_parts: tuple[str, ...] | None = None,
        conflict_key: list[str] | None = None,
    ) -> int:
        # lock_parts is not needed here: the file lock already makes writers take turns.
        frame = None
        if values:
            transposed = list(zip(*values, strict=True))
            frame = pd.DataFrame(
                {c: _frame_column(spec.types[c], transposed[i]) for i, c in enumerate(columns)}
            )
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                if delete is not None:
                    con.execute(*delete)
                if frame is not None:
                    con.register("_warehouse_incoming", frame)
                    select = ", ".join(
                        f"CAST({quote(c)} AS {_DUCKDB_CASTS[spec.types[c]]})" for c in columns
                    )
                    sql = _insert_sql(spec, columns) + (f"SELECT {select} FROM _warehouse_incoming")
                    if conflict_key:
                        sql += _conflict_sql(columns, conflict_key)
                    con.execute(sql)
                con.execute("COMMIT")
            except duckdb.Error as exc:
                _quietly(con.rollback)
                self._fail(op, spec.name, exc, rolled_back=True)
        return len(values)

    def _fetch(self, sql: str, params: Sequence) -> tuple[list[str], list[tuple]]:
        sql, args = self._check_params(sql, params, pyformat=False)
        with self._connect() as con:
            try:
                cursor = con.execute(sql, args)
                if cursor.description is None:
                    return [], []
                columns = [d[0] for d in cursor.description]
                decimals = [
                    i for i, d in enumerate(cursor.description) if str(d[1]).startswith("DECIMAL")
                ]
                rows = cursor.fetchall()
            except duckdb.Error as exc:
                self._fail("query", None, exc, rolled_back=False)
        return columns, _fix_decimals(rows, decimals)

    def _execute(self, sql: str, params: Sequence) -> None:
        sql, args = self._check_params(sql, params, pyformat=False)
        with self._connect() as con:
            try:
                con.execute(sql, args)
            except duckdb.Error as exc:
                self._fail("execute", None, exc, rolled_back=True)


def _fix_decimals(rows: list[tuple], positions: list[int]) -> list[tuple]:
    if not positions:
        return rows
    fixed = []
    for row in rows:
        items = list(row)
        for p in positions:
            items[p] = _numeric_to_python(items[p])
        fixed.append(tuple(items))
    return fixed
