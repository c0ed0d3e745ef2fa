"""What to do when a helper service (Redis, the cache file) stops answering in the middle of a run.

The cache and the shared rate limit are helpers, never dependencies: the first failure warns,
the caller carries on without the helper, and the helper is tried again after a cool-down, so a
Redis restarted during a long night is picked up again instead of being ignored until the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

DEFAULT_COOLDOWN_S = 30.0


class Outage:
    """Whether a helper may be used now; one warning per outage, one line when it comes back."""

    def __init__(
        self,
        what: str,
        fallback: str,
        *,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
        log: logging.Logger = logger,
    ):
        self.what = what
        self.fallback = fallback
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._log = log
        self._retry_at: float | None = None  # None: healthy
        self.outages = 0

    @property
    def down(self) -> bool:
        return self._retry_at is not None

    def usable(self) -> bool:
        """True while healthy, and again once the cool-down after a failure has passed."""
        return self._retry_at is None or self._clock() >= self._retry_at

    def failed(self, action: str, error: BaseException) -> None:
        if self._retry_at is None:
            self.outages += 1
            self._log.warning(
                "%s unavailable (%s failed: %s); %s, trying it again every %g s",
                self.what,
                action,
                error,
                self.fallback,
                self.cooldown_s,
            )
        # Set on every failure, so a failed retry waits a whole cool-down before the next one.
        self._retry_at = self._clock() + self.cooldown_s

    def succeeded(self) -> None:
        if self._retry_at is not None:
            self._retry_at = None
            self._log.info("%s is available again", self.what)
