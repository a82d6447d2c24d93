"""Edit scalar values of a spec file in place, keeping its comments and layout.

Used where specc writes a spec for the user (e.g. `specc search --write`): the value
nodes' text spans are found through PyYAML's composer and replaced; everything else in
the file stays byte for byte. A path that the file does not spell out is added by
re-dumping the data, which loses comments, so callers are told which happened. The file is
read as `specc.lang.source` reads specs (`1e-5` is a float), so a re-dump keeps its types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from specc.lang.source import Path, SpecLoader


def set_scalars(text: str, values: Mapping[Path, Any]) -> tuple[str, bool]:
    """`text` with each path's scalar replaced; returns (new text, comments kept)."""
    root = yaml.compose(text, Loader=SpecLoader)
    spans = []
    for path, value in values.items():
        node = _find(root, path)
        if not isinstance(node, yaml.ScalarNode):
            return _redump(text, values), False
        spans.append((node.start_mark.index, node.end_mark.index, _scalar(value)))
    for start, end, replacement in sorted(spans, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text, True


def _find(node: yaml.Node | None, path: Path) -> yaml.Node | None:
    for part in path:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            node = next((v for k, v in node.value if k.value == part), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            return None
    return node


def _scalar(value: Any) -> str:
    text: str = yaml.safe_dump(value, default_flow_style=True)
    return text.strip().removesuffix("...").strip()


def _redump(text: str, values: Mapping[Path, Any]) -> str:
    data = yaml.load(text, Loader=SpecLoader)
    for path, value in values.items():
        container = data
        for part in path[:-1]:
            container = (
                container.setdefault(part, {}) if isinstance(container, dict) else container[part]
            )
        container[path[-1]] = value
    dumped: str = yaml.safe_dump(data, sort_keys=False)
    return dumped
