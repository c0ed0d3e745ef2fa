"""The backend-neutral `Warehouse`: its API, checks and errors; backends fill in the I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import duckdb
import pandas as pd
import psycopg2
import psycopg2.errors
import psycopg2.extras

from resources.warehouse.values import (
    _CONVERTERS,
    _BadValue,
    _convert,
    _is_null,
    _redact,
    _to_text,
    _translate_placeholders,
)
from resources.warehouse_schema import (
    MIGRATIONS,
    TABLES,
    Table,
    quote,
)

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
        # The backends build on this class, so they are imported when first asked for.
        from resources.warehouse.duckdb_backend import _DuckDBWarehouse
        from resources.warehouse.postgres_backend import _PostgresWarehouse

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
