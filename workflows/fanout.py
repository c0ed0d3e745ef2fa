"""Running one coroutine per business concurrently, with progress and a clean stop.

Per-business trouble is each coroutine's to record; an exception that escapes one (a fatal
configuration error) cancels the rest and is raised as itself, not as an exception group.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def fan_out(
    items: Sequence[T],
    work: Callable[[T], Awaitable[R]],
    *,
    log: logging.Logger | None = None,
    label: str = "items",
    progress_every_s: float = 5.0,
) -> list[R]:
    results: list[R | None] = [None] * len(items)
    done = 0
    last_report = time.monotonic()

    async def one(index: int, item: T) -> None:
        nonlocal done, last_report
        results[index] = await work(item)
        done += 1
        now = time.monotonic()
        if log is not None and (now - last_report >= progress_every_s or done == len(items)):
            last_report = now
            log.info("%s: %d of %d done", label, done, len(items))

    try:
        async with asyncio.TaskGroup() as group:
            for index, item in enumerate(items):
                group.create_task(one(index, item))
    except* Exception as failures:
        raise failures.exceptions[0] from None
    return results  # type: ignore[return-value]
