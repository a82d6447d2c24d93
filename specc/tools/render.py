"""Terminal rendering of diffs and sweeps with rich.

Off a terminal rich prints plain text, and under NO_COLOR it prints no colours, so a
change is always marked in the text itself (`9 → 8`), never by colour alone. Tables are
never wrapped into a pipe's default 80 columns: a diff read in CI keeps one row per stage.
This module formats; what differs is decided in `specc.tools.diff`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from specc.emit.tables import macs_text
from specc.emit.terminal import console, print_table, wrap
from specc.ir.nodes import format_shape
from specc.tools.diff import Change, Diff, value_at
from specc.tools.sweep import SweepPoint

CHANGED = "bold yellow"
# (header, field of a stage row): the side-by-side stage table.
STAGE_COLUMNS = (
    ("block", "block"),
    ("kernel", "kernel"),
    ("stride", "stride"),
    ("expand", "expand"),
    ("SE", "se"),
    ("channels", "out_channels"),
    ("repeats", "repeats"),
    ("output", "output"),
    ("params", "params"),
)
# (label, record path, format): the totals and multipliers compared below the table.
DELTAS = (
    ("params", "totals.params", "count"),
    ("MACs", "totals.macs", "giga"),
    ("resolution", "resolution", "count"),
    ("blocks", "totals.blocks", "count"),
    ("layers", "totals.layers", "count"),
    ("activations", "totals.activations", "count"),
    ("depth multiplier", "multipliers.depth", "real"),
    ("width multiplier", "multipliers.width", "real"),
    ("resolution multiplier", "multipliers.resolution", "real"),
    ("dropout", "dropout", "real"),
    ("drop-path", "drop_path", "real"),
)
# Changes the tables above already show, or that follow from what they show (a stage's
# input channels are the previous stage's output; per-part MACs add up to the total).
_SHOWN = re.compile(
    r"^(stem|head|stages\[\d+\])(\.(block|kernel|stride|expand|se|out_channels|repeats|output"
    r"|params|macs))?$|^(head|stages\[\d+\])\.in_channels$"
)


def print_diff(diff: Diff, *, layers: bool = False, out: Console | None = None) -> None:
    out = out or console()
    for side, operand in (("A", diff.a), ("B", diff.b)):
        about = f"{operand.title}; {_spec(operand.record)}"
        out.print(escape(wrap(f"{side}: {operand.text}  ({about})", out.width)))
    if diff.same:
        out.print("no differences: the two build the same network")
        return
    stages = _stage_table(diff)
    print_table(out, stages, drop=_unchanged(stages))
    print_table(out, _delta_table(diff))
    delta_paths = {path for _, path, _ in DELTAS}
    others = [c for c in diff.changes if not _SHOWN.match(c.path) and c.path not in delta_paths]
    if others:
        out.print("other differences:")
        for change in others:
            text = f"{change.path}: {_plain(change.a)} → {_plain(change.b)}"
            out.print(escape(wrap(f"  {text}", out.width)), style=CHANGED)
    _print_explanations(diff, out)
    _print_layers(diff, layers, out)


def _spec(record: dict[str, Any]) -> str:
    spec = record["spec"]
    overrides = f", --set {' '.join(spec['overrides'])}" if spec["overrides"] else ""
    return f"{spec['file']} sha256 {spec['sha256'][:12]}{overrides}"


def _stage_table(diff: Diff) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("stage", no_wrap=True)
    for header, _ in STAGE_COLUMNS:
        table.add_column(header, justify="left" if header == "block" else "right", no_wrap=True)
    a, b = diff.a.record, diff.b.record
    rows = [("stem", _conv_row(a["stem"]), _conv_row(b["stem"]))]
    for index in range(max(len(a["stages"]), len(b["stages"]))):
        rows.append((str(index), _at(a["stages"], index), _at(b["stages"], index)))
    if a["head"] is not None or b["head"] is not None:
        rows.append(("head", _conv_row(a["head"]), _conv_row(b["head"])))
    for name, left, right in rows:
        cells = [_cell(_field(left, key), _field(right, key)) for _, key in STAGE_COLUMNS]
        table.add_row(name, *cells)
    return table


def _unchanged(table: Table) -> list[str]:
    """The stage table's columns without an `A → B` cell, least needed first; then the
    output shapes (their change is the resolution's, in the table below)."""
    order = ("SE", "expand", "stride", "kernel", "block", "repeats", "channels")
    changed = {str(c.header) for c in table.columns if any("→" in str(x) for x in c.cells)}
    return [header for header in order if header not in changed] + ["output"]


def _conv_row(layer: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if layer is None else {**layer, "block": "conv", "repeats": 1}


def _at(rows: Sequence[dict[str, Any]], index: int) -> dict[str, Any] | None:
    return rows[index] if index < len(rows) else None


def _field(row: dict[str, Any] | None, key: str) -> str | None:
    """A cell's text; None when the row is absent on that side."""
    if row is None:
        return None
    value = row.get(key)
    if value is None:
        return ""
    if key == "output":
        return "x".join(map(str, value[1:]))  # the spatial size; channels have a column
    if key == "params":
        return f"{value:,}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cell(left: str | None, right: str | None) -> str:
    if left == right:
        return escape(left or "")
    return f"[{CHANGED}]{escape(left or '—')} → {escape(right or '—')}[/]"


def _delta_table(diff: Diff) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("", "A", "B", "change"):
        table.add_column(header, justify="left" if not header else "right", no_wrap=True)
    for label, path, kind in DELTAS:
        change = diff.change(path)
        if change is None:
            value = _format(value_at(diff.a.record, path), kind)
            table.add_row(label, value, value, "")
        else:
            a, b = _format(change.a, kind), _format(change.b, kind)
            table.add_row(label, a, b, _delta(change, kind), style=CHANGED)
    return table


def _format(value: Any, kind: str) -> str:
    if not isinstance(value, int | float):
        return str(value)
    if kind == "giga":
        return macs_text(value)
    return f"{value:.4g}" if kind == "real" else f"{value:,}"


def _delta(change: Change, kind: str) -> str:
    if change.delta is None:
        return "changed"
    sign = "+" if change.delta >= 0 else "−"
    text = sign + _format(abs(change.delta), kind)
    if change.relative is not None:
        text += f" ({change.relative:+.2%})".replace("-", "−")
    return text


def _print_explanations(diff: Diff, out: Console) -> None:
    if diff.baseline is None:
        names = f"{diff.a.record['name']!r} vs {diff.b.record['name']!r}"
        out.print(f"different specs ({escape(names)}): differences are not traced to causes")
        return
    if diff.explanations:
        out.print(f"where the differences come from ({escape(diff.baseline)}):")
        for explanation in diff.explanations:
            out.print(escape(wrap(f"  {explanation.text}", out.width)))


def _print_layers(diff: Diff, full: bool, out: Console) -> None:
    layers = diff.layers
    counts = f"{len(layers.added)} added, {len(layers.removed)} removed, "
    counts += f"{len(layers.changed)} changed"
    if layers.empty:
        out.print("layers: no differences")
        return
    if not full:
        out.print(f"layers: {counts} (--layers lists them)")
        return
    rows_a = {row["name"]: row for row in diff.a.record["layers"]}
    rows_b = {row["name"]: row for row in diff.b.record["layers"]}
    entries = [("-", rows_a[name], "red") for name in layers.removed]
    entries += [("+", rows_b[name], "green") for name in layers.added]
    changed = {c.name: c for c in layers.changed}
    entries += [("~", rows_a[c.name], CHANGED) for c in layers.changed]
    groups: dict[str, list[str]] = {}
    for mark, row, style in sorted(entries, key=lambda e: _scope_order(e[1]["scope"])):
        if mark == "~":
            fields = changed[row["name"]].fields.items()
            what = ", ".join(f"{k} {_plain(a)} → {_plain(b)}" for k, (a, b) in fields)
        else:
            what = _shape(row["out_shape"])
        line = f"  [{style}]{mark} {escape(row['name'])}[/] ({row['op']}): {escape(what)}"
        groups.setdefault(_scope_name(row["scope"]), []).append(line)
    out.print(f"layers: {counts}")
    for scope, lines in groups.items():
        out.print(f"{scope}:")
        for line in lines:
            out.print(line)


def _scope_order(scope: dict[str, Any]) -> tuple[int, int]:
    """stem, the stages in order, then head and classifier (a stable sort keeps the rest)."""
    parts = ("input", "stem", "stage", "head", "classifier")
    part = parts.index(scope["part"]) if scope["part"] in parts else len(parts)
    return part, scope["stage"] if scope["stage"] is not None else -1


def _scope_name(scope: dict[str, Any]) -> str:
    return f"stage {scope['stage']}" if scope["stage"] is not None else str(scope["part"])


def _plain(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return _shape(value)
    if isinstance(value, list):
        return "(" + ", ".join(map(str, value)) + ")"  # a layer's inputs
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _shape(shape: list[int] | None) -> str:
    return "none" if shape is None else format_shape(shape)


def print_sweep(points: Sequence[SweepPoint], out: Console | None = None) -> None:
    out = out or console()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    headers = ("point", "φ", "depth", "width", "res. mult", "resolution", "blocks", "params")
    for header in (*headers, "MACs"):
        table.add_column(header, justify="left" if header == "point" else "right", no_wrap=True)
    for p in points:
        phi = f"{p.phi:g}" if p.phi is not None else _approx(p.equivalent_phi)
        table.add_row(
            p.point,
            phi,
            f"{p.depth:.4g}",
            f"{p.width:.4g}",
            f"{p.resolution_multiplier:.4g}",
            str(p.resolution),
            str(p.blocks),
            f"{p.params:,}",
            macs_text(p.macs),
        )
    print_table(out, table, drop=("blocks", "res. mult", "depth", "width"))
    if any(p.phi is None for p in points):
        out.print("presets: φ ≈ the compound φ nearest to the preset's multipliers (log scale)")


def _approx(value: float | None) -> str:
    return "" if value is None else f"≈{value:.2f}"
