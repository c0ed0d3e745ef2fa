"""The warehouse as a Dagster resource."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from resources.warehouse.base import Warehouse

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
