"""Compare two architectures: what changed, by how much, and which resolved value caused it.

Both sides are architecture records (architecture.json's content; see `operands`), so a
spec and a generated folder compare alike. The comparison walks the records in their own
key order and reports every differing leaf as a `Change` with a dotted path
(`stages[3].repeats`, `multipliers.depth`, `rules.repeats`). Provenance (specc version,
spec file and hash, the selector) is not compared: two selectors that build the same
network are the same; annotations derived from other fields (stage labels, FLOPs, feature
endpoints, the nearest preset) are left out as noise.

When both sides come from the same baseline (same spec hash, or at least the same spec
name), each resolved difference is traced to the values it comes from: the depth
multiplier and the repeats rule to repeats, the width multiplier and the channel rules to
channels, the resolution to output sizes (see `_CAUSES`). Layers are compared by IR node
name. Nothing here prints; `specc.tools.render` does.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from specc.tools.operands import Operand, selector_of

# Top-level keys of the record that describe the network (provenance keys are not here).
COMPARED = (
    "name",
    "class_name",
    "num_classes",
    "multipliers",
    "resolution",
    "dropout",
    "drop_path",
    "defaults",
    "rules",
    "stem",
    "stages",
    "head",
    "totals",
)
_DERIVED = re.compile(r"^(totals\.flops|stages\[\d+\]\.(label|index))$")
LAYER_FIELDS = (
    "op",
    "inputs",
    "in_shape",
    "out_shape",
    "kernel",
    "stride",
    "groups",
    "params",
    "macs",
    "activations",
)

# Which differing values can explain a differing effect (regex on the effect's path ->
# path prefixes of its causes). "selector" and "spec" are pseudo-causes: the selectors
# differ; the spec's own values differ (an edit or a --set override).
_CAUSES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (
        re.compile(r"^stages\[\d+\]\.repeats$|^totals\.blocks$"),
        ("multipliers.depth", "rules.repeats"),
    ),
    (
        re.compile(r"^stages\[\d+\]\.out_channels$"),
        ("multipliers.width", "rules.channels"),
    ),
    (re.compile(r"^stem\.out_channels$"), ("multipliers.width", "rules.channels", "rules.stem")),
    (re.compile(r"^head\.out_channels$"), ("multipliers.width", "rules.channels", "rules.head")),
    (re.compile(r"^resolution$"), ("multipliers.resolution", "rules.resolution")),
    (re.compile(r"^(stem|head|stages\[\d+\])\.output$"), ("resolution",)),
    (re.compile(r"^dropout$"), ("rules.dropout", "selector")),
    (re.compile(r"^drop_path$"), ("rules.drop_path", "selector")),
)


@dataclass(frozen=True)
class Change:
    """One differing value; `a` or `b` is None where that side lacks it."""

    path: str
    a: Any
    b: Any
    because: tuple[str, ...] = ()  # paths of the differing values it comes from

    @property
    def delta(self) -> float | None:
        if _number(self.a) and _number(self.b):
            result: float = self.b - self.a
            return result
        return None

    @property
    def relative(self) -> float | None:
        if self.delta is None or self.a == 0:
            return None
        return float(self.delta / abs(self.a))

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "a": self.a,
            "b": self.b,
            "delta": self.delta,
            "relative": self.relative,
            "because": list(self.because),
        }


@dataclass(frozen=True)
class LayerChange:
    name: str
    fields: dict[str, tuple[Any, Any]]


@dataclass(frozen=True)
class LayerDiff:
    """Layers by IR node name: only in B (added), only in A (removed), or different."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[LayerChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self, *, full: bool) -> dict[str, Any]:
        if not full:
            counts = (len(self.added), len(self.removed), len(self.changed))
            return dict(zip(("added", "removed", "changed"), counts, strict=True))
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": [
                {"name": c.name, "fields": {k: list(v) for k, v in c.fields.items()}}
                for c in self.changed
            ],
        }


@dataclass(frozen=True)
class Explanation:
    """A group of effects that come from the same differing values."""

    because: tuple[str, ...]
    effects: tuple[Change, ...]
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "because": list(self.because),
            "effects": [c.path for c in self.effects],
            "text": self.text,
        }


@dataclass(frozen=True)
class Diff:
    a: Operand
    b: Operand
    changes: list[Change]
    layers: LayerDiff
    baseline: str | None  # why the two count as the same baseline; None: they do not
    explanations: list[Explanation]

    @property
    def same(self) -> bool:
        return not self.changes and self.layers.empty

    def unified(self) -> list[str]:
        """Unified diff lines of the two model.py sources (empty when they are equal)."""
        return unified(self.a, self.b)

    def change(self, path: str) -> Change | None:
        return next((c for c in self.changes if c.path == path), None)

    def to_dict(self, *, layers: bool = False) -> dict[str, Any]:
        """The structured form `--json` prints; `layers` lists every layer change."""
        return {
            "a": _identity(self.a),
            "b": _identity(self.b),
            "same": self.same,
            "baseline": self.baseline,
            "changes": [c.to_dict() for c in self.changes],
            "explanations": [e.to_dict() for e in self.explanations],
            "layers": self.layers.to_dict(full=layers),
        }


def diff(a: Operand, b: Operand) -> Diff:
    """Compare two operands (see `specc.tools.operands.open_operand`)."""
    changes = list(_compare_records(a.record, b.record))
    baseline = same_baseline(a.record, b.record)
    explanations: list[Explanation] = []
    if baseline is not None:
        changes, explanations = _explain(a.record, b.record, changes)
    return Diff(a, b, changes, diff_layers(a.record, b.record), baseline, explanations)


def same_baseline(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    if a["spec"]["sha256"] == b["spec"]["sha256"]:
        return f"same spec, sha256 {a['spec']['sha256'][:12]}"
    if a["name"] == b["name"]:
        return f"same spec name {a['name']!r}; its contents or overrides differ"
    return None


def unified(a: Operand, b: Operand) -> list[str]:
    """Unified diff lines of the two model.py sources (empty when they are equal)."""
    return list(
        difflib.unified_diff(
            a.model_source().splitlines(keepends=True),
            b.model_source().splitlines(keepends=True),
            fromfile=f"a: {a.text} (model.py)",
            tofile=f"b: {b.text} (model.py)",
        )
    )


def diff_layers(a: dict[str, Any], b: dict[str, Any]) -> LayerDiff:
    rows_a = {row["name"]: row for row in a["layers"]}
    rows_b = {row["name"]: row for row in b["layers"]}
    result = LayerDiff(
        added=[name for name in rows_b if name not in rows_a],
        removed=[name for name in rows_a if name not in rows_b],
    )
    for name, row in rows_a.items():
        other = rows_b.get(name)
        if other is None:
            continue
        fields = {f: (row[f], other[f]) for f in LAYER_FIELDS if row[f] != other[f]}
        if fields:
            result.changed.append(LayerChange(name, fields))
    return result


def _compare_records(a: dict[str, Any], b: dict[str, Any]) -> Iterator[Change]:
    for key in COMPARED:
        for change in _compare(a.get(key), b.get(key), key):
            if not _DERIVED.match(change.path):
                yield change


def _compare(a: Any, b: Any, path: str) -> Iterator[Change]:
    """Differing leaves; lists of scalars (shapes) are leaves, lists of objects are not."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            yield from _compare(a.get(key), b.get(key), f"{path}.{key}")
    elif _records(a) and _records(b):
        for index in range(max(len(a), len(b))):
            left = a[index] if index < len(a) else None
            right = b[index] if index < len(b) else None
            yield from _compare(left, right, f"{path}[{index}]")
    elif a != b:
        yield Change(path, a, b)


def _records(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _identity(operand: Operand) -> dict[str, Any]:
    record = operand.record
    return {
        "operand": operand.text,
        "kind": operand.kind,
        "name": record["name"],
        "title": operand.title,
        "selector": record["selector"],
        "spec": record["spec"],
    }


# --- tracing differences to their causes ---------------------------------------------


def _explain(
    a: dict[str, Any], b: dict[str, Any], changes: list[Change]
) -> tuple[list[Change], list[Explanation]]:
    """Attach causes to the effects in `changes` and group the effects by cause."""
    differing = {c.path for c in changes}
    if selector_of(a) != selector_of(b):
        differing.add("selector")
    traced: list[Change] = []
    groups: dict[tuple[str, ...], list[Change]] = {}
    for change in changes:
        because = _because(change, differing)
        if because:
            change = Change(change.path, change.a, change.b, because)
            groups.setdefault(because, []).append(change)
        traced.append(change)
    order = [c.path for c in changes] + ["selector", "spec"]
    explanations = [
        Explanation(because, tuple(effects), _sentence(a, b, because, effects))
        for because, effects in sorted(groups.items(), key=lambda g: order.index(g[0][0]))
    ]
    return traced, explanations


def _because(change: Change, differing: set[str]) -> tuple[str, ...]:
    """The differing values `change` depends on; ("spec",) when none of them differs."""
    if change.path.endswith(".output") and change.a and change.b and change.a[1:] == change.b[1:]:
        return ()  # the same spatial size: only the channels differ, traced on their own
    for pattern, candidates in _CAUSES:
        if pattern.match(change.path):
            found = tuple(
                cause
                for cause in sorted(differing)
                if any(cause == c or cause.startswith(c + ".") for c in candidates)
            )
            return found or ("spec",)
    return ()


def _sentence(
    a: dict[str, Any], b: dict[str, Any], because: tuple[str, ...], effects: list[Change]
) -> str:
    causes = " and ".join(_describe_cause(a, b, cause) for cause in because)
    parts: list[str] = []
    if any(c.path.endswith(".repeats") for c in effects):
        parts.append(f"repeats {_repeats(a)} vs {_repeats(b)}")
    parts += [
        f"{_label(c.path)} {_text(c.a)} vs {_text(c.b)}"
        for c in effects
        if not c.path.endswith(".repeats")
    ]
    return f"{causes} → {', '.join(parts)}"


def _describe_cause(a: dict[str, Any], b: dict[str, Any], cause: str) -> str:
    if cause == "selector":
        return f"the selector ({selector_of(a).describe()} vs {selector_of(b).describe()})"
    if cause == "spec":
        return "the spec's own values" + _overrides(a, b)
    if cause.startswith("multipliers."):
        which = cause.removeprefix("multipliers.")
        return f"{which} multiplier {_multiplier(a, which)} vs {_multiplier(b, which)}"
    return f"{_label(cause)} {_text(value_at(a, cause))} vs {_text(value_at(b, cause))}"


def _multiplier(record: dict[str, Any], which: str) -> str:
    """`2.986 (1.2^6)` for phi builds, `2.6 (preset b6)` for presets."""
    value = record["multipliers"][which]
    selector = selector_of(record)
    if selector.preset is not None:
        return f"{value:.4g} (preset {selector.preset})"
    coefficient = record["rules"]["coefficients"][which]
    return f"{value:.4g} ({coefficient:g}^{selector.phi_text})"


def _overrides(a: dict[str, Any], b: dict[str, Any]) -> str:
    left, right = a["spec"]["overrides"], b["spec"]["overrides"]
    if left == right:
        return ""
    return f" (--set: {', '.join(left) or 'none'} vs {', '.join(right) or 'none'})"


def _repeats(record: dict[str, Any]) -> str:
    return " ".join(str(stage["repeats"]) for stage in record["stages"])


def _label(path: str) -> str:
    """stages[6].out_channels -> stage 6 channels; totals.blocks -> blocks."""
    if path.startswith("rules."):
        return "scaling." + path.removeprefix("rules.")  # as the spec spells it
    path = re.sub(r"^stages\[(\d+)\]", r"stage \1", path)
    path = path.removeprefix("totals.").replace(".out_channels", " channels")
    return path.replace(".output", " output").replace(".", " ")


def _text(value: Any) -> str:
    if isinstance(value, list) and len(value) == 3 and all(_number(v) for v in value):
        return f"{value[1]}x{value[2]}"  # a feature map: its spatial size
    if isinstance(value, float):
        return f"{value:.4g}"
    return "none" if value is None else str(value)


def value_at(record: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of plain keys (`totals.params`); None if absent."""
    value: Any = record
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value
