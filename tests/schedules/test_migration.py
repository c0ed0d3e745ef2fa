"""A warehouse made by the first release gains the alerts table, and keeps its data."""

from datetime import UTC, datetime

import duckdb

from resources.warehouse import Warehouse
from resources.warehouse_schema import MIGRATIONS, MIGRATIONS_TABLE_SQL


def test_a_version_1_warehouse_is_migrated_to_the_alerts_table(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(MIGRATIONS_TABLE_SQL)
    for statement in MIGRATIONS[0].statements("duckdb"):
        con.execute(statement)
    con.execute("INSERT INTO schema_migrations VALUES (1, ?)", [datetime.now(UTC)])
    con.execute("INSERT INTO warehouse_meta VALUES ('source', 'sample')")
    con.close()

    warehouse = Warehouse.from_url(f"duckdb:///{path}")
    warehouse.migrate()
    versions = warehouse.query("SELECT version FROM schema_migrations ORDER BY version")
    assert [v["version"] for v in versions] == [1, 2]
    assert warehouse.query("SELECT count(*) AS n FROM alerts") == [{"n": 0}]
    assert warehouse.source() == "sample"
