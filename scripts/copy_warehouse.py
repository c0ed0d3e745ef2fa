"""Copy every table of one warehouse into another: the move from the embedded DuckDB file to
PostgreSQL, history included.

    .venv/bin/python scripts/copy_warehouse.py duckdb:///data/warehouse.duckdb \\
        postgresql://insights:PASSWORD@127.0.0.1:5432/insights

The target's tables are created (or brought up to date) first. Rows are written by primary key,
so a second copy updates instead of duplicating, and the copy can be repeated until the moment
of the switch. A target holding the other kind of data (sample versus live) is refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resources.warehouse import (  # noqa: E402 - the path above makes the checkout importable
    PRIMARY_KEYS,
    TABLE_COLUMNS,
    Warehouse,
    WarehouseError,
)

BATCH = 5000


def copy(source: Warehouse, target: Warehouse, *, log=print) -> dict[str, int]:
    # Both at this version's schema, as the product itself would leave them on opening.
    source.migrate()
    target.migrate()
    kind = source.source()
    if kind is None:
        raise WarehouseError(f"{source!r} holds no data yet (no source recorded); nothing to copy")
    target.claim_source(kind)
    copied = {}
    for table, key in PRIMARY_KEYS.items():
        if table == "warehouse_meta":
            continue  # claim_source wrote it, and refused a mix
        order = ", ".join(key)
        total, offset = 0, 0
        while True:
            rows = source.query(
                f"SELECT * FROM {table} ORDER BY {order} LIMIT ? OFFSET ?", [BATCH, offset]
            )
            if not rows:
                break
            columns = TABLE_COLUMNS[table]
            target.upsert(table, [{c: r.get(c) for c in columns} for r in rows], key=key)
            total += len(rows)
            offset += len(rows)
        copied[table] = total
        log(f"{table}: {total} rows")
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="WAREHOUSE_URL to copy from, e.g. duckdb:///data/...")
    parser.add_argument("target", help="WAREHOUSE_URL to copy into, e.g. postgresql://...")
    args = parser.parse_args(argv)
    try:
        copy(Warehouse.from_url(args.source), Warehouse.from_url(args.target))
    except WarehouseError as error:
        print(f"copy_warehouse: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
