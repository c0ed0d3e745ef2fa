"""PostgreSQL for tests: the server named by TEST_POSTGRES_URL, a fresh schema or database each.

Every schema or database made here is dropped when its `with` block ends, so tests never see
each other's tables and the shared server is left as it was found.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg2

from tests.conftest import skip_or_fail

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


@functools.cache
def _problem() -> str | None:
    try:
        psycopg2.connect(PG_URL, connect_timeout=3).close()
    except psycopg2.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def require_postgres() -> None:
    problem = _problem()
    if problem is not None:
        skip_or_fail(
            f"PostgreSQL at TEST_POSTGRES_URL={PG_URL} does not answer ({problem}). Start it "
            "with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
            "(as root), or point TEST_POSTGRES_URL at a server you can use."
        )


def _admin(sql: str) -> None:
    conn = psycopg2.connect(PG_URL)
    try:
        # CREATE/DROP DATABASE refuse to run inside a transaction.
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def drop_schema(schema: str) -> None:
    _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def fresh_schema(prefix: str = "wh_test") -> Iterator[str]:
    """A warehouse URL whose tables live in a new schema (`?schema=`), dropped afterwards."""
    require_postgres()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        yield with_query(PG_URL, schema=schema)
    finally:
        drop_schema(schema)


@contextmanager
def fresh_database(prefix: str = "ci_test") -> Iterator[str]:
    """The URL of a new, empty database on the test server, dropped afterwards."""
    require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}", query=""))
    finally:
        # FORCE ends sessions a stopped process may have left behind (PostgreSQL 13+).
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def dagster_storage_env(url: str) -> dict[str, str]:
    """The variables deploy/dagster.yaml reads to put Dagster's storage in database `url`."""
    parts = urlsplit(url)
    return {
        "DAGSTER_POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "DAGSTER_POSTGRES_PORT": str(parts.port or 5432),
        "DAGSTER_POSTGRES_USER": parts.username or "postgres",
        "DAGSTER_POSTGRES_PASSWORD": parts.password or "",
        "DAGSTER_POSTGRES_DB": parts.path.lstrip("/"),
    }
