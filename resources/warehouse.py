"""The warehouse: one API over an embedded DuckDB file or a PostgreSQL database.

`Warehouse` knows nothing about Dagster, so the CLI, tests and notebooks can use it directly;
`WarehouseResource` at the bottom is the thin wrapper that assets ask for.

URLs (the value of WAREHOUSE_URL):

* ``duckdb:///data/warehouse.duckdb``: a path relative to the working directory (three slashes,
  as in SQLAlchemy); ``duckdb:////abs/path/warehouse.duckdb`` is absolute (four slashes).
  Missing parent folders are created.
* ``postgresql://user@host:5432/db`` (``postgres://`` and ``postgresql+psycopg2://`` too). Any
  libpq parameter may go in the query string, for example ``?options=-csearch_path%3Dmyschema``
  (the schema must already exist). The extra parameter ``?schema=NAME`` puts every table in
  schema NAME instead, and ``migrate()`` creates that schema if it is missing.

Values written are checked against the declared column types before anything reaches the
database, so both backends accept and refuse the same rows:

* TEXT takes ``str``; an ``int`` is written as its decimal digits (ids such as Google cids can be
  longer than 64 bits).
* JSON columns take ``str`` as already-serialised JSON; anything else goes through ``json.dumps``
  (``ensure_ascii=False, sort_keys=True``; dates become ISO strings). Reads return the text.
* BIGINT/INTEGER take integers (and floats with no fraction, as pandas makes of int columns with
  gaps); DOUBLE takes real numbers; BOOLEAN takes ``bool``.
* DATE takes ``date``, a ``datetime`` at midnight, or ``"YYYY-MM-DD"`` (Dagster partition keys).
* TIMESTAMP takes ``datetime`` or an ISO string; aware values are converted to UTC and stored
  without an offset, so every TIMESTAMP in the warehouse is naive UTC.
* ``None``, ``NaN``, ``pd.NA`` and ``pd.NaT`` are all written as NULL.

Queries use ``?`` placeholders on both backends; numeric (DECIMAL) results come back as ``int``
when they have no fractional digits and as ``float`` otherwise, since PostgreSQL and DuckDB
disagree on when an expression is DECIMAL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import numbers
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import psycopg2
import psycopg2.errors
import psycopg2.extras
from pydantic import Field

from .warehouse_schema import (
    BIGINT,
    BOOLEAN,
    DATE,
    DOUBLE,
    INTEGER,
    JSON,
    MIGRATIONS,
    MIGRATIONS_TABLE_SQL,
    PRIMARY_KEYS,
    TABLE_COLUMNS,
    TABLES,
    TEXT,
    TIMESTAMP,
    Table,
    quote,
)

logger = logging.getLogger(__name__)

__all__ = [
    "MixedSourceError",
    "PRIMARY_KEYS",
    "SOURCES",
    "TABLE_COLUMNS",
    "Warehouse",
    "WarehouseError",
    "WarehouseResource",
]

SOURCES = ("sample", "live")

_ACCEPTED_URLS = (
    "duckdb:///relative/path.duckdb, duckdb:////absolute/path.duckdb, "
    "postgresql://user@host:5432/dbname (also postgres:// or postgresql+psycopg2://)"
)


class WarehouseError(Exception):
    """A warehouse operation failed; the message names what and says what to do."""


class MixedSourceError(WarehouseError):
    """The warehouse already holds data from the other source (sample versus live)."""


# --------------------------------------------------------------------------------------------
# Value conversion


class _BadValue(Exception):
    pass


_INT_RANGES = {BIGINT: (-(2**63), 2**63 - 1), INTEGER: (-(2**31), 2**31 - 1)}


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        return str(int(value))
    raise _BadValue(f"expected text, got {type(value).__name__}")


def _to_json(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise _BadValue(f"cannot serialise as JSON: {exc}") from exc


def _int_converter(kind: str) -> Callable[[Any], int]:
    low, high = _INT_RANGES[kind]

    def convert(value: Any) -> int:
        if isinstance(value, bool | np.bool_):
            raise _BadValue(f"expected an integer, got {value!r}")
        if isinstance(value, numbers.Integral):
            number = int(value)
        elif isinstance(value, float | Decimal) and value == int(value):
            number = int(value)
        else:
            raise _BadValue(f"expected an integer, got {type(value).__name__} {value!r}")
        if not low <= number <= high:
            raise _BadValue(f"{number} does not fit in {kind}")
        return number

    return convert


def _to_double(value: Any) -> float | None:
    if isinstance(value, bool | np.bool_):
        raise _BadValue(f"expected a number, got {value!r}")
    if isinstance(value, numbers.Real | Decimal):
        number = float(value)
        # NaN is NULL in DuckDB's pandas scan; making it NULL everywhere keeps backends equal.
        return None if math.isnan(number) else number
    raise _BadValue(f"expected a number, got {type(value).__name__} {value!r}")


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        if value.time() != datetime.min.time() or value.tzinfo is not None:
            raise _BadValue(f"expected a date, got the datetime {value!r}")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _BadValue(f"expected a date as YYYY-MM-DD, got {value!r}") from None
    raise _BadValue(f"expected a date, got {type(value).__name__} {value!r}")


def _to_timestamp(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _BadValue(f"expected an ISO timestamp, got {value!r}") from None
    if not isinstance(value, datetime):
        raise _BadValue(f"expected a datetime, got {type(value).__name__} {value!r}")
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise _BadValue(f"expected True or False, got {type(value).__name__} {value!r}")


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    TEXT: _to_text,
    JSON: _to_json,
    BIGINT: _int_converter(BIGINT),
    INTEGER: _int_converter(INTEGER),
    DOUBLE: _to_double,
    DATE: _to_date,
    TIMESTAMP: _to_timestamp,
    BOOLEAN: _to_bool,
}


def _convert(table: Table, column: str, value: Any) -> Any:
    if _is_null(value):
        return None
    return _CONVERTERS[table.types[column]](value)


def _numeric_to_python(value: Any) -> Any:
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0:
            return int(value)
        return float(value)
    return value


# --------------------------------------------------------------------------------------------
# SQL helpers

# Literals, quoted identifiers and comments are matched whole so a `?` or `%` inside them is not
# taken for a placeholder.
_SQL_TOKENS = re.compile(
    r"""
      '(?:[^']|'')*'
    | "(?:[^"]|"")*"
    | --[^\n]*
    | /\*.*?\*/
    | \$(?P<tag>(?:[A-Za-z_]\w*)?)\$.*?\$(?P=tag)\$
    | \?
    | %
    """,
    re.S | re.X,
)


def _translate_placeholders(sql: str, *, pyformat: bool) -> tuple[str, int]:
    """Count `?` placeholders and, for psycopg2, rewrite them as %s and escape literal %."""
    count = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal count
        token = match.group(0)
        if token == "?":
            count += 1
            return "%s" if pyformat else token
        # psycopg2 always formats the query (even with an empty tuple), so every % doubles.
        return token.replace("%", "%%") if pyformat else token

    return _SQL_TOKENS.sub(swap, sql), count


def _lock_key(*parts: str) -> int:
    # Advisory lock keys must be the same in every process, so Python's salted hash() won't do.
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _redact(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    except ValueError:
        return "<unparseable URL>"


def _quietly(undo: Callable[[], Any]) -> None:
    # A rollback after a failure must not hide that failure; closing the connection undoes the
    # transaction anyway if the rollback itself cannot run.
    with contextlib.suppress(Exception):
        undo()


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# --------------------------------------------------------------------------------------------
# The warehouse


class Warehouse:
    """Tables of nightly snapshots, competitor sets, metrics and reports.

    Every method opens its own connection and closes it before returning: DuckDB lets only one
    process hold a file read-write, so a connection kept between calls would lock out the CLI,
    the webserver and every other run for as long as this object lives.
    """

    kind: str = ""

    def __init__(self, url: str, *, lock_timeout_s: float = 120.0) -> None:
        self.url = url
        self.lock_timeout_s = float(lock_timeout_s)

    @classmethod
    def from_url(cls, url: str, *, lock_timeout_s: float = 120.0) -> Warehouse:
        text = (url or "").strip() if isinstance(url, str) else ""
        if not text:
            raise WarehouseError(f"WAREHOUSE_URL is empty; set it to one of: {_ACCEPTED_URLS}")
        scheme = text.split("://", 1)[0].lower() if "://" in text else ""
        if scheme == "duckdb":
            return _DuckDBWarehouse(text, lock_timeout_s=lock_timeout_s)
        if scheme in ("postgresql", "postgres", "postgresql+psycopg2"):
            return _PostgresWarehouse(text, lock_timeout_s=lock_timeout_s)
        raise WarehouseError(
            f"WAREHOUSE_URL {_redact(text)!r} is not a warehouse URL; use one of: {_ACCEPTED_URLS}"
        )

    def __repr__(self) -> str:
        return f"<Warehouse {self.kind} {_redact(self.url)}>"

    @property
    def _where(self) -> str:
        return f"warehouse {_redact(self.url)}"

    # ---- public API ------------------------------------------------------------------------

    def migrate(self) -> None:
        """Apply every migration this database has not seen yet; a no-op when up to date."""
        self._migrate()

    def replace(
        self,
        table: str,
        rows: list[dict],
        *,
        match: dict,
        business_ids: list[str] | None = None,
    ) -> int:
        """Delete the slice named by `match` (and `business_ids`) and insert `rows`, atomically.

        Rows may leave out the match columns (they are filled in from `match`); a row that names
        a different value, or a business_id outside `business_ids`, is refused, because a row
        written outside the deleted slice would survive the next replace of that slice and break
        the promise that re-running a night never duplicates anything.
        """
        spec = self._table(table)
        if not match and business_ids is None:
            raise WarehouseError(
                f"replace() into {table} needs match={{column: value}} naming the slice to "
                "replace (for example match={'night': night}); it refuses to empty a whole table."
            )
        match_values: dict[str, Any] = {}
        for column, value in match.items():
            self._check_columns(spec, [column], "match")
            try:
                match_values[column] = _convert(spec, column, value)
            except _BadValue as exc:
                raise WarehouseError(f"replace() into {table}: match {column}: {exc}") from None
        ids: list[str] | None = None
        if business_ids is not None:
            self._check_columns(spec, ["business_id"], "business_ids filter")
            try:
                ids = [_to_text(b) for b in business_ids]
            except _BadValue as exc:
                raise WarehouseError(f"replace() into {table}: business_ids: {exc}") from None

        columns, values = self._prepare(spec, rows, fill=match_values)
        self._check_slice(spec, columns, values, match_values, ids)

        clauses, params = [], []
        for column, value in match_values.items():
            if value is None:
                clauses.append(f"{quote(column)} IS NULL")
            else:
                clauses.append(f"{quote(column)} = ?")
                params.append(value)
        delete_sql: str | None = None
        if ids != []:
            if ids:
                clauses.append(f"{quote('business_id')} IN ({', '.join('?' for _ in ids)})")
                params.extend(ids)
            delete_sql = f"DELETE FROM {quote(table)} WHERE " + " AND ".join(clauses)
        lock = json.dumps({k: str(v) for k, v in match_values.items()}, sort_keys=True)
        return self._write(
            spec,
            columns,
            values,
            op="replace",
            delete=(delete_sql, tuple(params)) if delete_sql else None,
            lock_parts=("replace", table, lock),
        )

    def append(self, table: str, rows: list[dict]) -> int:
        """Insert `rows`; all or none of them are written."""
        spec = self._table(table)
        columns, values = self._prepare(spec, rows)
        return self._write(spec, columns, values, op="append")

    def upsert(self, table: str, rows: list[dict], *, key: list[str]) -> int:
        """Insert rows, or update the stored row with the same `key`; returns rows written.

        Only the columns that appear in `rows` are updated, so a caller can refresh `updated_at`
        without clearing `created_at`. When a batch repeats a key, the last row wins: both
        databases refuse to update one row twice in a statement.
        """
        spec = self._table(table)
        if sorted(key) != sorted(spec.primary_key):
            raise WarehouseError(
                f"upsert() into {table} must use its primary key {list(spec.primary_key)} as "
                f"key, not {list(key)}: ON CONFLICT needs a unique constraint on exactly those."
            )
        columns, values = self._prepare(spec, rows)
        missing = [k for k in key if k not in columns]
        if values and missing:
            raise WarehouseError(f"upsert() into {table}: rows lack key column(s) {missing}")
        positions = [columns.index(k) for k in key] if values else []
        latest: dict[tuple, tuple] = {}
        for row in values:
            latest[tuple(row[p] for p in positions)] = row
        return self._write(
            spec, columns, list(latest.values()), op="upsert", conflict_key=list(key)
        )

    def query(self, sql: str, params: Sequence = ()) -> list[dict]:
        columns, rows = self._fetch(sql, params)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def query_df(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        # Built from the same Python values as query() so both backends give the same frame.
        columns, rows = self._fetch(sql, params)
        return pd.DataFrame.from_records(rows, columns=columns)

    def execute(self, sql: str, params: Sequence = ()) -> None:
        self._execute(sql, params)

    def claim_source(self, source: str) -> None:
        """Record that this warehouse holds `source` data, or refuse if it holds the other kind.

        Sample data mixed into live history would poison every trend and comparison, and nothing
        downstream could tell the rows apart, so the first claim sticks for good.
        """
        if source not in SOURCES:
            raise WarehouseError(f"claim_source() takes one of {SOURCES}, not {source!r}")
        # ON CONFLICT DO NOTHING makes the first claim atomic even when two runs start at once.
        self._execute(
            f"INSERT INTO {quote('warehouse_meta')} ({quote('key')}, {quote('value')}) "
            f"VALUES (?, ?) ON CONFLICT ({quote('key')}) DO NOTHING",
            ("source", source),
        )
        stored = self.source()
        if stored != source:
            raise MixedSourceError(
                f"The warehouse at WAREHOUSE_URL {_redact(self.url)} holds {stored} data, and "
                f"this run would add {source} data. Sample and live data must never share a "
                f"warehouse: point WAREHOUSE_URL at another database for {source} runs."
            )

    def source(self) -> str | None:
        rows = self.query(
            f"SELECT {quote('value')} FROM {quote('warehouse_meta')} WHERE {quote('key')} = ?",
            ("source",),
        )
        return rows[0]["value"] if rows else None

    # ---- shared helpers --------------------------------------------------------------------

    def _table(self, table: str) -> Table:
        spec = TABLES.get(table)
        if spec is None:
            raise WarehouseError(
                f"{table!r} is not a warehouse table; the tables are {sorted(TABLES)}"
            )
        return spec

    @staticmethod
    def _check_columns(spec: Table, names: Sequence[str], what: str) -> None:
        unknown = [n for n in names if n not in spec.types]
        if unknown:
            raise WarehouseError(
                f"{what} for table {spec.name} names unknown column(s) {unknown}; "
                f"its columns are {spec.column_names}"
            )

    def _prepare(
        self, spec: Table, rows: list[dict], *, fill: Mapping[str, Any] | None = None
    ) -> tuple[list[str], list[tuple]]:
        """Check and convert rows; returns the columns written and one tuple per row."""
        if isinstance(rows, Mapping) or not isinstance(rows, Sequence):
            raise WarehouseError(
                f"rows for table {spec.name} must be a list of dicts, got {type(rows).__name__}"
            )
        fill = fill or {}
        allowed = spec.types.keys()
        present: set[str] = set(fill)
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise WarehouseError(
                    f"row {index} for table {spec.name} is a {type(row).__name__}, not a dict"
                )
            if not row.keys() <= allowed:
                unknown = sorted(set(row) - set(allowed))
                raise WarehouseError(
                    f"row {index} for table {spec.name} has unknown column(s) {unknown}; its "
                    f"columns are {spec.column_names}. Nothing was written."
                )
            present.update(row)
        # Columns absent from every row are left out of the statement: NULL on insert, and
        # untouched by an upsert's update.
        columns = [c for c in spec.column_names if c in present]
        converters = [(c, _CONVERTERS[spec.types[c]], fill.get(c)) for c in columns]
        values = []
        for index, row in enumerate(rows):
            out = []
            for column, convert, default in converters:
                value = row.get(column, default) if column in fill else row.get(column)
                try:
                    out.append(None if _is_null(value) else convert(value))
                except _BadValue as exc:
                    raise WarehouseError(
                        f"row {index} for table {spec.name}, column {column}: {exc}. "
                        "Nothing was written."
                    ) from None
            values.append(tuple(out))
        return columns, values

    @staticmethod
    def _check_slice(
        spec: Table,
        columns: list[str],
        values: list[tuple],
        match: Mapping[str, Any],
        ids: list[str] | None,
    ) -> None:
        checks = [(columns.index(c), c, v) for c, v in match.items()]
        check_ids = ids is not None
        id_pos = columns.index("business_id") if "business_id" in columns else None
        allowed_ids = set(ids or ())
        for index, row in enumerate(values):
            for pos, column, expected in checks:
                if row[pos] != expected:
                    raise WarehouseError(
                        f"row {index} for table {spec.name} has {column}={row[pos]!r} but "
                        f"replace() was asked to replace {column}={expected!r}; a replace only "
                        "writes inside the slice it deletes. Nothing was written."
                    )
            row_id = row[id_pos] if id_pos is not None else None
            if check_ids and row_id not in allowed_ids:
                raise WarehouseError(
                    f"row {index} for table {spec.name} has business_id={row_id!r}, which "
                    "is not among the business_ids being replaced. Nothing was written."
                )

    def _fail(self, op: str, table: str | None, exc: Exception, *, rolled_back: bool) -> NoReturn:
        text = str(exc).strip()
        detail = text.splitlines()[0].rstrip(".") if text else type(exc).__name__
        target = f" on table {table}" if table else ""
        hint = ""
        if _is_missing_table(exc):
            hint = " The table does not exist: run migrate() (competitor-insights migrate) first."
        done = " The transaction was rolled back; stored data is unchanged." if rolled_back else ""
        raise WarehouseError(f"{self._where}: {op}{target} failed: {detail}.{done}{hint}") from exc

    # ---- backend hooks ---------------------------------------------------------------------

    def _migrate(self) -> None:
        raise NotImplementedError

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
        raise NotImplementedError

    def _fetch(self, sql: str, params: Sequence) -> tuple[list[str], list[tuple]]:
        raise NotImplementedError

    def _execute(self, sql: str, params: Sequence) -> None:
        raise NotImplementedError

    def _check_params(self, sql: str, params: Sequence, *, pyformat: bool) -> tuple[str, tuple]:
        if isinstance(params, str | bytes | Mapping) or not isinstance(params, Sequence):
            raise WarehouseError(
                f"query parameters must be a list or tuple (for `?` placeholders), "
                f"got {type(params).__name__}"
            )
        translated, count = _translate_placeholders(sql, pyformat=pyformat)
        if count != len(params):
            raise WarehouseError(
                f"the SQL has {count} `?` placeholder(s) but {len(params)} parameter(s) were "
                f"given: {sql.strip()[:200]!r}"
            )
        return translated, tuple(params)


def _insert_sql(spec: Table, columns: list[str]) -> str:
    """The INSERT head shared by both backends; the caller appends the row source."""
    return f"INSERT INTO {quote(spec.name)} ({', '.join(quote(c) for c in columns)}) "


def _conflict_sql(columns: list[str], conflict_key: list[str]) -> str:
    updates = [c for c in columns if c not in conflict_key]
    target = ", ".join(quote(c) for c in conflict_key)
    if not updates:
        return f" ON CONFLICT ({target}) DO NOTHING"
    sets = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in updates)
    return f" ON CONFLICT ({target}) DO UPDATE SET {sets}"


def _is_missing_table(exc: BaseException) -> bool:
    if isinstance(exc, psycopg2.errors.UndefinedTable):
        return True
    return isinstance(exc, duckdb.CatalogException) and "does not exist" in str(exc)


def _check_newer(url: str, applied: set[int]) -> None:
    newest = max(m.version for m in MIGRATIONS)
    ahead = sorted(v for v in applied if v > newest)
    if ahead:
        raise WarehouseError(
            f"warehouse {_redact(url)} has schema version(s) {ahead} from a newer "
            f"competitor-insights (this one knows up to {newest}); upgrade it before using "
            "this database."
        )


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


# --------------------------------------------------------------------------------------------
# PostgreSQL

_PG_NUMERIC_OID = 1700
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class _PostgresWarehouse(Warehouse):
    kind = "postgres"

    def __init__(self, url: str, *, lock_timeout_s: float = 120.0) -> None:
        super().__init__(url, lock_timeout_s=lock_timeout_s)
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = None
        kwargs: dict[str, Any] = {}
        names = {k for k, _ in query}
        if "schema" in names:
            schema = next(v for k, v in query if k == "schema")
            if not _SCHEMA_NAME.match(schema):
                raise WarehouseError(
                    f"WAREHOUSE_URL {_redact(url)!r}: schema={schema!r} must be a plain "
                    "identifier (letters, digits and _)"
                )
            options = " ".join(v for k, v in query if k == "options")
            # kwargs override the DSN, so any options from the URL are merged in, not dropped.
            kwargs["options"] = f"{options} -csearch_path={schema}".strip()
            query = [(k, v) for k, v in query if k not in ("schema", "options")]
        if "connect_timeout" not in names:
            kwargs["connect_timeout"] = 10
        if "application_name" not in names:
            kwargs["application_name"] = "competitor-insights"
        # libpq understands postgresql:// and postgres://, not SQLAlchemy's driver suffix.
        self._dsn = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(query)))
        self._connect_kwargs = kwargs
        self.schema = schema

    def _open(self) -> Any:
        try:
            return psycopg2.connect(self._dsn, **self._connect_kwargs)
        except psycopg2.Error as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise WarehouseError(
                f"cannot connect to the PostgreSQL warehouse at WAREHOUSE_URL "
                f"{_redact(self.url)}: {detail}. Check that the server is running and that the "
                "URL's host, port, user and database are right."
            ) from exc

    @contextmanager
    def _transaction(self, op: str, table: str | None) -> Iterator[Any]:
        conn = self._open()
        try:
            with conn.cursor() as cur:
                yield cur
            conn.commit()
        except psycopg2.errors.LockNotAvailable as exc:
            _quietly(conn.rollback)
            raise WarehouseError(
                f"{self._where}: {op}{f' on table {table}' if table else ''} waited more than "
                f"{self.lock_timeout_s:g} s for another writer of the same rows and gave up; "
                "nothing was changed. Retry once the other run finishes, or raise lock_timeout_s."
            ) from exc
        except psycopg2.Error as exc:
            _quietly(conn.rollback)
            self._fail(op, table, exc, rolled_back=op != "query")
        except BaseException:
            _quietly(conn.rollback)
            raise
        finally:
            conn.close()

    def _set_lock_timeout(self, cur: Any, *, local: bool = True) -> None:
        millis = max(int(self.lock_timeout_s * 1000), 1)
        cur.execute(f"SET {'LOCAL ' if local else ''}lock_timeout = {millis}")

    def _migrate(self) -> None:
        conn = self._open()
        try:
            with conn.cursor() as cur:
                self._set_lock_timeout(cur, local=False)
                # A session lock (freed at the latest when the connection closes) lets every
                # migration below commit on its own while a second migrator still waits.
                cur.execute("SELECT pg_advisory_lock(%s)", (_lock_key("migrate"),))
                if self.schema:
                    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self.schema)}")
                cur.execute(MIGRATIONS_TABLE_SQL)
                conn.commit()
                cur.execute('SELECT "version" FROM schema_migrations')
                applied = {r[0] for r in cur.fetchall()}
                conn.commit()
                _check_newer(self.url, applied)
                for migration in MIGRATIONS:
                    if migration.version in applied:
                        continue
                    for statement in migration.statements("postgres"):
                        cur.execute(statement)
                    cur.execute(
                        'INSERT INTO schema_migrations ("version", "applied_at") VALUES (%s, %s)',
                        (migration.version, _utcnow()),
                    )
                    conn.commit()
        except psycopg2.Error as exc:
            _quietly(conn.rollback)
            self._fail("migrate", None, exc, rolled_back=True)
        finally:
            conn.close()

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
        with self._transaction(op, spec.name) as cur:
            self._set_lock_timeout(cur)
            if lock_parts is not None:
                # Two replaces of one slice under READ COMMITTED would both delete the old rows
                # and then both insert: a duplicate-key error, or duplicates in a table without
                # a key. A transaction-level advisory lock on table+slice makes the second wait
                # and then see (and delete) the first one's rows. Chosen over SERIALIZABLE
                # because it needs no retry loop and never aborts writers of other slices on a
                # predicate-lock false positive. The schema is part of the key so isolated
                # schemas in one database never wait for each other.
                key = _lock_key(*lock_parts, self.schema or "")
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
            if delete is not None:
                sql, params = delete
                cur.execute(_translate_placeholders(sql, pyformat=True)[0], params)
            if values:
                sql = _insert_sql(spec, columns) + "VALUES %s"
                if conflict_key:
                    sql += _conflict_sql(columns, conflict_key)
                psycopg2.extras.execute_values(cur, sql, values, page_size=1000)
        return len(values)

    def _fetch(self, sql: str, params: Sequence) -> tuple[list[str], list[tuple]]:
        sql, args = self._check_params(sql, params, pyformat=True)
        with self._transaction("query", None) as cur:
            cur.execute(sql, args)
            if cur.description is None:
                return [], []
            columns = [d.name for d in cur.description]
            decimals = [i for i, d in enumerate(cur.description) if d.type_code == _PG_NUMERIC_OID]
            rows = cur.fetchall()
        return columns, _fix_decimals(rows, decimals)

    def _execute(self, sql: str, params: Sequence) -> None:
        sql, args = self._check_params(sql, params, pyformat=True)
        with self._transaction("execute", None) as cur:
            cur.execute(sql, args)


# --------------------------------------------------------------------------------------------
# Dagster


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse as a Dagster resource; `open()` returns a plain `Warehouse`.

    It holds only the URL: the Warehouse opens a connection per operation, so there is nothing
    to set up or tear down around a run.
    """

    url: str = Field(
        description=(
            "Where the warehouse lives: duckdb:///relative/path.duckdb, "
            "duckdb:////absolute/path.duckdb or postgresql://user@host:5432/dbname "
            "(?schema=NAME selects a schema). Usually set from the WAREHOUSE_URL variable."
        )
    )

    def open(self) -> Warehouse:
        """The warehouse, its tables created or brought up to date (idempotent and cheap)."""
        warehouse = Warehouse.from_url(self.url)
        warehouse.migrate()
        return warehouse
