"""Warehouse tables and the versioned migrations that create them.

The schema is declared once as data and rendered for each dialect, so DuckDB and PostgreSQL can
never drift apart; `resources.warehouse` also uses the declared types to check and convert values
before they reach either database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Logical column types. JSON is stored as TEXT: both backends then return exactly the string that
# was written, and nothing depends on DuckDB's JSON extension being loadable.
TEXT = "TEXT"
JSON = "JSON"
DOUBLE = "DOUBLE"
BIGINT = "BIGINT"
INTEGER = "INTEGER"
DATE = "DATE"
TIMESTAMP = "TIMESTAMP"
BOOLEAN = "BOOLEAN"

_SQL_TYPES = {
    "duckdb": {
        TEXT: "TEXT",
        JSON: "TEXT",
        DOUBLE: "DOUBLE",
        BIGINT: "BIGINT",
        INTEGER: "INTEGER",
        DATE: "DATE",
        TIMESTAMP: "TIMESTAMP",
        BOOLEAN: "BOOLEAN",
    },
    "postgres": {
        TEXT: "TEXT",
        JSON: "TEXT",
        DOUBLE: "DOUBLE PRECISION",
        BIGINT: "BIGINT",
        INTEGER: "INTEGER",
        DATE: "DATE",
        TIMESTAMP: "TIMESTAMP",
        BOOLEAN: "BOOLEAN",
    },
}


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def types(self) -> dict[str, str]:
        return dict(self.columns)


def _table(name: str, spec: str, primary_key: tuple[str, ...]) -> Table:
    # A compact "name TYPE" list keeps the declarations readable next to the design document.
    columns = []
    for line in spec.strip().splitlines():
        col, typ = line.split()
        columns.append((col, typ))
    table = Table(name, tuple(columns), primary_key)
    missing = set(primary_key) - set(table.column_names)
    if missing:
        raise ValueError(f"{name}: primary key names unknown columns {sorted(missing)}")
    return table


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        _table(
            "tracked_businesses",
            """
            business_id TEXT
            name TEXT
            website TEXT
            domain TEXT
            location TEXT
            gl TEXT
            hl TEXT
            place_id TEXT
            cid TEXT
            source TEXT
            active BOOLEAN
            created_at TIMESTAMP
            updated_at TIMESTAMP
            """,
            ("business_id",),
        ),
        _table(
            "business_snapshots",
            """
            night DATE
            business_id TEXT
            status TEXT
            error TEXT
            place_id TEXT
            cid TEXT
            fid TEXT
            title TEXT
            address TEXT
            latitude DOUBLE
            longitude DOUBLE
            rating DOUBLE
            review_count BIGINT
            price_level TEXT
            category TEXT
            categories JSON
            website TEXT
            phone TEXT
            description TEXT
            opening_hours JSON
            thumbnail_url TEXT
            source TEXT
            run_id TEXT
            fetched_at TIMESTAMP
            """,
            ("night", "business_id"),
        ),
        _table(
            "competitor_sets",
            """
            night DATE
            business_id TEXT
            rank INTEGER
            place_id TEXT
            cid TEXT
            title TEXT
            address TEXT
            latitude DOUBLE
            longitude DOUBLE
            rating DOUBLE
            review_count BIGINT
            price_level TEXT
            category TEXT
            categories JSON
            website TEXT
            phone TEXT
            description TEXT
            opening_hours JSON
            distance_km DOUBLE
            score DOUBLE
            reasons JSON
            source TEXT
            run_id TEXT
            """,
            ("night", "business_id", "place_id"),
        ),
        _table(
            "comparison_metrics",
            """
            night DATE
            business_id TEXT
            place_id TEXT
            status TEXT
            rating DOUBLE
            review_count BIGINT
            adjusted_rating DOUBLE
            set_size INTEGER
            set_mean_rating DOUBLE
            set_median_review_count DOUBLE
            rank_in_set INTEGER
            ranked_count INTEGER
            percentile DOUBLE
            nearest_competitor_km DOUBLE
            mean_competitor_km DOUBLE
            completeness DOUBLE
            completeness_present JSON
            completeness_observable JSON
            previous_night DATE
            rating_change DOUBLE
            new_reviews BIGINT
            reviews_removed BIGINT
            implied_new_rating DOUBLE
            metrics_json JSON
            source TEXT
            run_id TEXT
            """,
            ("night", "business_id"),
        ),
        _table(
            "reports",
            """
            night DATE
            business_id TEXT
            status TEXT
            inputs_hash TEXT
            writer TEXT
            model TEXT
            prompt_version TEXT
            report_json JSON
            markdown TEXT
            input_tokens BIGINT
            output_tokens BIGINT
            cost_usd DOUBLE
            fallback_reason TEXT
            reused BOOLEAN
            source TEXT
            run_id TEXT
            created_at TIMESTAMP
            """,
            ("night", "business_id"),
        ),
        _table(
            "api_usage",
            """
            night DATE
            run_id TEXT
            stage TEXT
            service TEXT
            calls BIGINT
            cache_hits BIGINT
            credits DOUBLE
            errors BIGINT
            rate_limited BIGINT
            input_tokens BIGINT
            output_tokens BIGINT
            cost_usd DOUBLE
            recorded_at TIMESTAMP
            """,
            ("night", "run_id", "stage", "service"),
        ),
        _table(
            # Why a business has no row in a stage's own table tonight (not found, no category,
            # the API failed for it): failures are data, kept per night and stage.
            "stage_failures",
            """
            night DATE
            business_id TEXT
            stage TEXT
            error TEXT
            run_id TEXT
            """,
            ("night", "business_id", "stage"),
        ),
        _table(
            "warehouse_meta",
            """
            key TEXT
            value TEXT
            """,
            ("key",),
        ),
        _table(
            # Material changes found after a night (migration 2). The id is derived from night,
            # business, kind and subject, so running a night again never records one twice;
            # webhook delivery is tracked in the request store's outbox, which the daemon's
            # sensors can update without waiting on DuckDB's file lock.
            "alerts",
            """
            alert_id TEXT
            night DATE
            business_id TEXT
            kind TEXT
            subject TEXT
            message TEXT
            details JSON
            webhook TEXT
            source TEXT
            run_id TEXT
            created_at TIMESTAMP
            """,
            ("alert_id",),
        ),
    ]
}

TABLE_COLUMNS: dict[str, list[str]] = {name: t.column_names for name, t in TABLES.items()}
JSON_COLUMNS: dict[str, list[str]] = {
    name: [c for c, typ in t.columns if typ == JSON] for name, t in TABLES.items()
}
PRIMARY_KEYS: dict[str, list[str]] = {name: list(t.primary_key) for name, t in TABLES.items()}

# (table, columns) pairs; named so a later migration can drop or replace one by name.
_INDEXES_V1 = [
    ("business_snapshots_business_night", "business_snapshots", ("business_id", "night")),
    ("reports_business_night", "reports", ("business_id", "night")),
    ("reports_inputs_hash", "reports", ("inputs_hash",)),
]


def quote(identifier: str) -> str:
    # Every generated statement quotes identifiers: `rank`, `key` and `value` are keywords or
    # function names in one dialect or the other.
    return '"' + identifier.replace('"', '""') + '"'


def create_table_sql(table: Table, dialect: str) -> str:
    types = _SQL_TYPES[dialect]
    cols = [f"{quote(c)} {types[t]}" for c, t in table.columns]
    cols.append("PRIMARY KEY (" + ", ".join(quote(c) for c in table.primary_key) + ")")
    return f"CREATE TABLE {quote(table.name)} (\n    " + ",\n    ".join(cols) + "\n)"


# The tables migration 1 created; later tables come with their own migration.
_TABLES_V1 = (
    "tracked_businesses", "business_snapshots", "competitor_sets", "comparison_metrics",
    "reports", "api_usage", "stage_failures", "warehouse_meta",
)  # fmt: skip


def _migration_1(dialect: str) -> list[str]:
    statements = [create_table_sql(TABLES[name], dialect) for name in _TABLES_V1]
    for index, table, cols in _INDEXES_V1:
        statements.append(
            f"CREATE INDEX {quote(index)} ON {quote(table)} ("
            + ", ".join(quote(c) for c in cols)
            + ")"
        )
    return statements


def _migration_2(dialect: str) -> list[str]:
    return [
        create_table_sql(TABLES["alerts"], dialect),
        f"CREATE INDEX {quote('alerts_night')} ON {quote('alerts')} ({quote('night')})",
    ]


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: Callable[[str], list[str]]


# Append only: a migration that has shipped is never edited, because databases that already
# applied it will not run it again. Change the schema by adding version N+1 here and, where a
# table's columns change, updating TABLES so that it describes the schema after the newest one.
MIGRATIONS: list[Migration] = [
    Migration(1, "initial tables", _migration_1),
    Migration(2, "alerts", _migration_2),
]

MIGRATIONS_TABLE_SQL = (
    'CREATE TABLE IF NOT EXISTS "schema_migrations" '
    '("version" INTEGER PRIMARY KEY, "applied_at" TIMESTAMP NOT NULL)'
)
