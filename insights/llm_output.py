"""Reading JSON out of what an LLM actually returns.

Providers that claim structured output still wrap it: code fences (older Ollama), a
`<think>` block first (Perplexity's reasoning models), citations after it. We strip the
wrapping and decode the first complete JSON value, never cutting at the last brace, which a
citation or a second value would fool.
"""

from __future__ import annotations

import json
import re
from typing import Any

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


class NoJsonFound(ValueError):
    """The text holds no decodable JSON object."""


def extract_json(text: str | None) -> Any:
    if not text:
        raise NoJsonFound("the answer was empty")
    cleaned = _THINK.sub("", text)
    # An unclosed think block (a truncated reasoning model) hides everything after it.
    if "<think>" in cleaned.lower():
        cleaned = cleaned[: cleaned.lower().index("<think>")]
    fenced = _FENCE.search(cleaned)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(cleaned)
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for start in (m.start() for m in re.finditer(r"[{\[]", candidate)):
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    raise NoJsonFound(f"no JSON object in an answer of {len(text)} characters")
