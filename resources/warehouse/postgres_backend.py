"""The PostgreSQL backend: several writers at once, serialised per night by advisory locks."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg2
import psycopg2.errors
import psycopg2.extras

from resources.warehouse.base import (
    Warehouse,
    WarehouseError,
    _check_newer,
    _conflict_sql,
    _insert_sql,
)
from resources.warehouse.duckdb_backend import _fix_decimals
from resources.warehouse.values import (
    _lock_key,
    _quietly,
    _redact,
    _translate_placeholders,
    _utcnow,
)
from resources.warehouse_schema import (
    MIGRATIONS,
    MIGRATIONS_TABLE_SQL,
    Table,
    quote,
)

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
