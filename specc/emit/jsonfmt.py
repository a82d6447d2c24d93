"""Stable, diff-friendly JSON: nested objects indented, short lists and flat objects inline.

`architecture.json` is committed and reviewed; one line per layer and one line per shape
keep its diffs readable (json.dumps(indent=2) puts every number on its own line).
"""

from __future__ import annotations

import json
from typing import Any

INLINE_WIDTH = 120


def dumps(value: Any, indent: int = 0, *, item: bool = False) -> str:
    """JSON text of `value`; flat items of a list (layers, stages) always take one line."""
    compact = json.dumps(value, separators=(", ", ": "))
    if not isinstance(value, dict | list):
        return compact
    if _is_flat(value) and (item or len(compact) + indent <= INLINE_WIDTH):
        return compact
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {dumps(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if not value:
        return "[]"
    items = [f"{inner}{dumps(v, indent + 2, item=True)}" for v in value]
    return "[\n" + ",\n".join(items) + f"\n{pad}]"


def _is_flat(value: dict[str, Any] | list[Any]) -> bool:
    """No container inside other than lists of scalars and small flat objects."""
    children = value.values() if isinstance(value, dict) else value
    for child in children:
        if isinstance(child, dict):
            if any(isinstance(v, dict | list) for v in child.values()):
                return False
        elif isinstance(child, list) and any(isinstance(v, dict | list) for v in child):
            return False
    return True
