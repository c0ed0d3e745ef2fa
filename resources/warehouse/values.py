"""Checking and converting values for either backend, and the SQL text helpers they share."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import numbers
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd

from resources.warehouse_schema import (
    BIGINT,
    BOOLEAN,
    DATE,
    DOUBLE,
    INTEGER,
    JSON,
    TEXT,
    TIMESTAMP,
    Table,
)

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
