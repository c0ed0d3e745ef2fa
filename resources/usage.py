"""Spend counters that API clients add up as they work."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Self


@dataclass
class Counters:
    """Numeric fields declared by subclasses; a stage measures its share with `since`."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def copy(self) -> Self:
        return replace(self)

    def since(self, earlier: Self) -> Self:
        """What was spent after `earlier` was copied: one stage's share of a shared client."""
        return type(self)(**{f.name: getattr(self, f.name) - getattr(earlier, f.name)
                             for f in fields(self)})  # fmt: skip
