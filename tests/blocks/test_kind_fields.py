"""Every combination of a block kind's fields that validates builds a module that runs.

A kind's plan decides, its emitter writes the constructor call and its template defines the
class: the three must agree for every combination of the kind's fields, also ones no shipped
spec uses (issue 22: `mbconv` with `expand: 1, expand_splits: 2` built, then the model
failed on load with an unexpected keyword). The random property test (tests/test_property.py)
draws such combinations by chance; this test enumerates them, deterministically.

For each built-in kind, each stage field gets a few representative values read from the
kind's JSON Schema (so a new field or kind joins with no edit here), the network around the
stage gets its own switches (padding, norm, a MixConv elsewhere in the network, the stage's
width against its input). A covering set of rows, where every combination of the values of
any three factors appears in some row (a few dozen rows instead of the full product's
10^5; the issue-22 fault needed three), is compiled and emitted (specc checks each call
against its class), and a two-way covering set is also instantiated and run. A row the
spec language refuses is not a case, nor one the compiler refuses with a location in the
spec; every combination that some valid row can hold is covered by a valid row.
Deterministic: no random draw.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

import specc
from specc.blocks.registry import KINDS
from specc.lang.load import loads

torch = pytest.importorskip("torch")

Factor = tuple[str, list[Any]]
Row = dict[str, Any]

# Fields of every stage that the network's shape, not the kind, is about.
COMMON = {"block", "channels", "repeats", "scale_depth", "depth_group"}
SE_VALUES = [
    None,
    0.25,
    {"ratio": 0.5, "base": "expanded", "rounding": "round", "activation": "relu"},
    {"ratio": 0.25, "gate": "hard_sigmoid"},
]
# The network around the stage: its template switches and the stage's width.
CONTEXT: list[Factor] = [
    ("ctx.padding", ["symmetric", "same"]),
    ("ctx.norm", ["batchnorm", "layernorm"]),
    ("ctx.mixconv_elsewhere", [False, True]),
    ("ctx.channels", [8, 16]),  # the stage's input is 8 wide
]


def field_values(name: str, node: dict[str, Any], mixed: bool) -> list[Any]:
    """A few values of one stage field, from its JSON Schema node."""
    if name == "se":
        return SE_VALUES
    if name == "kernel":
        return [3, [3, 5]] if mixed else [1, 3]
    variants = node.get("anyOf")
    if variants:
        values = [v for variant in variants for v in field_values(name, variant, mixed)[:2]]
        return list(dict.fromkeys(values))
    if "const" in node:
        return [node["const"]]
    if "enum" in node:
        return list(node["enum"])
    kind = node.get("type")
    if kind == "boolean":
        return [False, True]
    if kind == "null":
        return [None]
    if kind == "integer":
        low = node.get("minimum", 1)
        return [low + 1, low] if "maximum" in node and node["maximum"] > 100 else [low, low + 1]
    if kind == "number":
        low, high = node.get("minimum", node.get("exclusiveMinimum", 0.0)), node.get("maximum")
        if "exclusiveMinimum" in node:
            return [(low + high) / 2 if high is not None else low + 0.5]
        return [low, min(high, low + 1.5) if high is not None else low + 1.5]
    return []


def _default_first(values: list[Any], node: dict[str, Any]) -> list[Any]:
    """The field's default first (a row starts from the defaults)."""
    default = node.get("default", values[0] if values else None)
    return [default, *(v for v in values if v != default)]


def stage_factors(kind: str) -> list[Factor]:
    schema = KINDS[kind].schema
    properties = schema.model_json_schema()["properties"]
    mixed = bool(getattr(schema, "mixed_kernels", False))
    factors = [
        (name, _default_first(field_values(name, node, mixed), node))
        for name, node in properties.items()
        if name not in COMMON
    ]
    return [(name, values) for name, values in factors if len(values) > 1] + CONTEXT


def spec_text(kind: str, row: Row) -> str:
    stage = {"block": kind, "channels": row["ctx.channels"], "repeats": 2}
    stage |= {k: v for k, v in row.items() if not k.startswith("ctx.") and v is not None}
    stages = [stage]
    if row["ctx.mixconv_elsewhere"]:
        stages.append({"block": "dsconv", "kernel": [3, 5], "channels": 8})
    spec = {
        "format": 1,
        "name": "combo",
        "input": {"channels": 3, "resolution": 16},
        "num_classes": 3,
        "defaults": {
            "activation": "silu",
            "padding": row["ctx.padding"],
            "norm": {"kind": row["ctx.norm"]},
        },
        "stem": {"kernel": 3, "stride": 1, "channels": 8},
        "stages": stages,
        "head": {"kernel": 1, "channels": 16},
        "scaling": {"drop_path": 0.1},
    }
    return json.dumps(spec)  # JSON is YAML


def validates(kind: str, row: Row) -> bool:
    try:
        loads(spec_text(kind, row), f"{kind}.yaml")
    except specc.SpecError:
        return False
    return True


def covering_rows(kind: str, factors: list[Factor], strength: int) -> list[Row]:
    """Rows, each a valid spec, that hold every combination of `strength` factor values some
    valid row holds (greedy: seed a row with an uncovered combination, the defaults around
    it; then give each other factor the value that covers most new combinations while the
    spec still validates; a combination that does not validate among defaults is given up)."""
    names = [name for name, _ in factors]
    values = dict(factors)
    uncovered = {
        frozenset(zip(group, indices, strict=True))
        for group in itertools.combinations(names, strength)
        for indices in itertools.product(*(range(len(values[n])) for n in group))
    }
    rows: list[Row] = []
    while uncovered:
        seed = min(uncovered, key=sorted)
        choice = {name: 0 for name in names} | dict(seed)
        if not validates(kind, _row(choice, values)):
            uncovered.discard(seed)
            continue
        for name in (n for n in names if n not in dict(seed)):
            gains = {
                i: _gain(choice, name, i, uncovered, strength) for i in range(len(values[name]))
            }
            for index in sorted(gains, key=lambda i: -gains[i]):
                if gains[index] == 0 or validates(kind, _row(choice | {name: index}, values)):
                    choice[name] = index if gains[index] else choice[name]
                    break
        rows.append(_row(choice, values))
        uncovered -= _combinations(choice, strength)
    return rows


def _row(choice: dict[str, int], values: dict[str, list[Any]]) -> Row:
    return {name: values[name][i] for name, i in choice.items()}


def _gain(choice: dict[str, int], name: str, index: int, uncovered: set, strength: int) -> int:
    others = [(n, i) for n, i in choice.items() if n != name]
    return sum(
        frozenset({(name, index), *group}) in uncovered
        for group in itertools.combinations(others, strength - 1)
    )


def _combinations(choice: dict[str, int], strength: int) -> set:
    return {frozenset(group) for group in itertools.combinations(choice.items(), strength)}


def compiled(kind: str, rows: list[Row], failures: list[str]) -> list[tuple[str, Any]]:
    """(spec text, Architecture) of each row the compiler accepts; a refusal not located in
    the spec (specc's own check that each call fits its class) is a failure."""
    built = []
    for row in rows:
        text = spec_text(kind, row)
        try:
            arch = specc.compile(loads(text, f"{kind}.yaml"))
            specc.emit_pytorch(arch)
        except specc.SpecError as error:
            if not all(d.location.file == f"{kind}.yaml" for d in error.diagnostics):
                failures.append(f"{text}\n  -> {error}")
            continue
        built.append((text, arch))
    return built


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_valid_field_combination_emits_calls_its_class_takes(kind: str) -> None:
    """Three-way coverage, compile and emit only (no torch): fast enough for many rows."""
    failures: list[str] = []
    built = compiled(kind, covering_rows(kind, stage_factors(kind), 3), failures)
    assert len(built) >= 8, f"{kind}: too few valid combinations to mean anything"
    assert not failures, f"{len(failures)} combinations fail:\n" + "\n".join(failures)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_valid_field_combination_runs(kind: str) -> None:
    """Two-way coverage: the module instantiates, runs and has the IR's parameter count."""
    failures: list[str] = []
    built = compiled(kind, covering_rows(kind, stage_factors(kind), 2), failures)
    assert len(built) >= 4, f"{kind}: too few valid combinations to mean anything"
    for text, arch in built:
        try:
            model = specc.instantiate(arch).eval()
            out = model(torch.randn(2, 3, 16, 16))
            assert tuple(out.shape) == (2, 3)
            assert sum(p.numel() for p in model.parameters()) == arch.params
        except Exception as error:  # every failing row is reported together
            failures.append(f"{text}\n  -> {type(error).__name__}: {error}")
    assert not failures, f"{len(failures)} combinations fail:\n" + "\n".join(failures)
