"""Cache keys that are the same in every process: a SHA-256 of the canonical request.

Python's `hash()` is salted per process, so it would make every run miss the cache.
"""

from __future__ import annotations

import hashlib
import json

KEY_PREFIX = "ci:v1"


def request_key(kind: str, request: dict) -> str:
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{KEY_PREFIX}:{kind}:{digest}"
