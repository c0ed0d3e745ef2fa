"""The warehouse: one API over an embedded DuckDB file or a PostgreSQL database.

`Warehouse` knows nothing about Dagster, so the CLI, tests and notebooks can use it directly;
`WarehouseResource` (in `resource.py`) is the thin wrapper that assets ask for. The backends
live in `duckdb_backend.py` and `postgres_backend.py`, value checks in `values.py`.

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

from resources.warehouse.base import SOURCES, MixedSourceError, Warehouse, WarehouseError
from resources.warehouse.resource import WarehouseResource
from resources.warehouse_schema import PRIMARY_KEYS, TABLE_COLUMNS

__all__ = [
    "MixedSourceError",
    "PRIMARY_KEYS",
    "SOURCES",
    "TABLE_COLUMNS",
    "Warehouse",
    "WarehouseError",
    "WarehouseResource",
]
