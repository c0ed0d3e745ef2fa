"""What every stage of a night needs to know, and the warehouse reads they share."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    """A naive UTC timestamp: both warehouses store TIMESTAMP without a zone."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Night:
    """One night's work: which night, which run, which businesses, where rows go."""

    night: date
    run_id: str
    source: str  # "sample" or "live": every row says where its data came from
    warehouse: Any  # resources.warehouse.Warehouse
    business_ids: list[str] | None = None  # None: every active tracked business
    log: Any = field(default=logger)
    _active: list[str] | None = field(default=None, init=False, repr=False)

    def scope(self) -> list[str]:
        """This night's businesses: the run's own list, or every active tracked business.

        A whole-night run names its businesses too, rather than taking the whole night, so that
        it never deletes the rows an on-demand comparison of an untracked business is writing
        into the same night at the same time. Read once, so a stage's reads and writes agree.
        """
        if self.business_ids is not None:
            return self.business_ids
        if self._active is None:
            rows = self.warehouse.query(
                "SELECT business_id FROM tracked_businesses WHERE active ORDER BY business_id"
            )
            self._active = [r["business_id"] for r in rows]
        return self._active

    def where_businesses(self, column: str = "business_id") -> tuple[str, list]:
        """An SQL condition (and its parameters) limiting a query to this night's businesses."""
        ids = self.scope()
        if not ids:
            return "FALSE", []
        return f"{column} IN ({', '.join('?' for _ in ids)})", list(ids)

    def replace(self, table: str, rows: list[dict]) -> int:
        """Tonight's rows of `table` for these businesses, replacing any written before."""
        return self.warehouse.replace(
            table, rows, match={"night": self.night}, business_ids=self.scope()
        )

    def rows(self, table: str, extra_where: str = "TRUE", params: tuple = ()) -> list[dict]:
        condition, ids = self.where_businesses()
        return self.warehouse.query(
            f"SELECT * FROM {table} WHERE night = ? AND {condition} AND {extra_where}",
            [self.night, *ids, *params],
        )

    def record_usage(self, stage: str, service: str, **figures: Any) -> None:
        row = {
            "night": self.night,
            "run_id": self.run_id,
            "stage": stage,
            "service": service,
            "recorded_at": utc_now(),
        }
        columns = ("calls", "cache_hits", "credits", "errors", "rate_limited")
        row.update({k: figures.get(k, 0) for k in columns})
        row.update({k: figures.get(k, 0) for k in ("input_tokens", "output_tokens", "cost_usd")})
        self.warehouse.replace(
            "api_usage",
            [row],
            match={"night": self.night, "run_id": self.run_id, "stage": stage, "service": service},
        )

    def metered(self, stage: str, service: str, run, work):
        """Run `work(client)` through `run`, recording the client's spend for this stage.

        Spend is recorded even when the stage fails: credits used before a fatal error (no
        credits left, a bad key halfway) were still paid for.
        """
        spent = []

        async def measured(client):
            before = client.usage.copy()
            try:
                return await work(client)
            finally:
                spent.append(client.usage.since(before))

        try:
            result = run(measured)
        except BaseException:
            if spent:
                try:
                    self.record_usage(stage, service, **spent[0].as_dict())
                except Exception as error:  # the original failure matters more
                    self.log.warning("could not record %s spend: %s", stage, error)
            raise
        self.record_usage(stage, service, **spent[0].as_dict())
        return result, spent[0]

    def record_failures(self, stage: str, failures: dict[str, str]) -> None:
        rows = [
            {"night": self.night, "business_id": business_id, "stage": stage, "error": error,
             "run_id": self.run_id}
            for business_id, error in failures.items()
        ]  # fmt: skip
        self.warehouse.replace(
            "stage_failures",
            rows,
            match={"night": self.night, "stage": stage},
            business_ids=self.scope(),
        )


def spend_figures(service: str, usage: Any) -> dict[str, Any]:
    """Spend figures named after their service, so they never add up with business counts."""
    return {f"{service}_{key}": value for key, value in usage.as_dict().items()}


@dataclass
class StageSummary:
    """What a stage reports back: counts and spend for metadata, a preview for people."""

    counts: dict[str, int]
    usage: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    preview: str = ""
