"""A valid example instance of a JSON schema, as a structured-output model would produce."""

from __future__ import annotations

import re
from typing import Any

# Recursive schemas (a tree of sections) would otherwise never end.
_MAX_DEPTH = 12
_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[_\-\s]+")


def example_for(schema: Any, root: Any = None, name: str = "value", depth: int = 0) -> Any:
    """Walk `schema` and build a value that validates against it."""
    root = schema if root is None else root
    if depth > _MAX_DEPTH or schema is False:
        return None
    if schema is True or not isinstance(schema, dict):
        return _sentence(name)
    if "$ref" in schema:
        return example_for(_resolve(root, schema["$ref"]), root, name, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            # Optional fields are "X or null" in strict schemas: a model fills in the X.
            real = [b for b in branches if not _is_null(b)] or branches
            return example_for(real[0], root, name, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict = {}
        for part in schema["allOf"]:
            part = (
                _resolve(root, part["$ref"]) if isinstance(part, dict) and "$ref" in part else part
            )
            if isinstance(part, dict):
                merged.update(part)
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return example_for({**merged, **rest}, root, name, depth + 1)

    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"

    if kind == "object":
        props = schema.get("properties") or {}
        return {key: example_for(sub, root, key, depth + 1) for key, sub in props.items()}
    if kind == "array":
        count = _clamp(2, schema.get("minItems"), schema.get("maxItems"))
        items = schema.get("items", {})
        prefix = schema.get("prefixItems") or []
        out = []
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else items
            out.append(example_for(sub, root, f"{_singular(name)} {i + 1}", depth + 1))
        return out
    if kind == "integer":
        return int(_clamp(1, _lower(schema), _upper(schema)))
    if kind == "number":
        return _clamp(1, _lower(schema), _upper(schema))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, name)


def _resolve(root: Any, ref: str) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#"):
        return {}
    node = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return {}
        node = node[part]
    return node


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _clamp(value: float, low: Any, high: Any) -> float:
    if isinstance(low, int | float) and value < low:
        value = low
    if isinstance(high, int | float) and value > high:
        value = high
    return value


def _lower(schema: dict) -> float | None:
    if isinstance(schema.get("minimum"), int | float):
        return schema["minimum"]
    if isinstance(schema.get("exclusiveMinimum"), int | float):
        return schema["exclusiveMinimum"] + 1
    return None


def _upper(schema: dict) -> float | None:
    if isinstance(schema.get("maximum"), int | float):
        return schema["maximum"]
    if isinstance(schema.get("exclusiveMaximum"), int | float):
        return schema["exclusiveMaximum"] - 1
    return None


def _words(name: str) -> str:
    return " ".join(w for w in _WORD_BREAK.split(name) if w).lower() or "value"


def _singular(name: str) -> str:
    words = _words(name)
    if words.endswith("ies"):
        return words[:-3] + "y"
    return words[:-1] if words.endswith("s") and not words.endswith("ss") else words


def _sentence(name: str) -> str:
    words = _words(name)
    return f"{words[:1].upper()}{words[1:]} written by the local stand-in model."


def _string(schema: dict, name: str) -> str:
    fmt = schema.get("format")
    lowered = _words(name)
    if fmt == "date-time":
        text = "2026-01-01T08:00:00Z"
    elif fmt == "date":
        text = "2026-01-01"
    elif fmt == "email":
        text = "owner@example.com"
    elif fmt == "uuid":
        text = "00000000-0000-4000-8000-000000000000"
    elif fmt in ("uri", "url") or lowered.split()[-1] in ("url", "website", "link", "uri"):
        text = "https://example.com/"
    else:
        text = _sentence(name)
    max_len = schema.get("maxLength")
    min_len = schema.get("minLength")
    if isinstance(max_len, int) and len(text) > max_len:
        text = text[:max_len]
    if isinstance(min_len, int) and len(text) < min_len:
        text = text + "." * (min_len - len(text))
    return text
