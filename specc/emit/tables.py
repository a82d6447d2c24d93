"""The one stage table (stem, each stage, head) that the terminal summary and report.md
both print, and the one shape formatter of every emitter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from specc.build.architecture import Architecture
from specc.ir.nodes import format_shape

STAGE_HEADERS = ("stage", "block", "kernel", "stride", "expand", "SE", "channels", "repeats")


@dataclass(frozen=True)
class StageRow:
    """One row: the text cells of `STAGE_HEADERS`, then the output shape and counts, which
    each table formats its own way."""

    cells: tuple[str, ...]
    output: tuple[int, ...]
    params: int
    macs: int


def stage_table(arch: Architecture) -> list[StageRow]:
    """The stem (and its pool), every stage, the head."""
    r = arch.resolved
    rows = [_layer_row(arch, "stem", r.stem.kernel, r.stem.stride)]
    for row in arch.stage_rows():
        cells = (
            str(row["index"]),
            row["block"],
            str(row["kernel"]),
            str(row["stride"]),
            _number(row["expand"]),
            _number(row["se"]),
            f"{row['in_channels']} → {row['out_channels']}",
            str(row["repeats"]),
        )
        rows.append(StageRow(cells, tuple(row["output"]), row["params"], row["macs"]))
    if r.head is not None:
        rows.append(_layer_row(arch, "head", r.head.kernel, r.head.stride))
    return rows


def _layer_row(arch: Architecture, name: str, kernel: int, stride: int) -> StageRow:
    layer = arch.resolved.stem if name == "stem" else arch.resolved.head
    assert layer is not None
    counts = arch.analysis.by_part[name]
    channels = f"{layer.in_channels} → {layer.out_channels}"
    cells = (name, "conv", str(kernel), str(stride), "", "", channels, str(len(layer.convs())))
    return StageRow(cells, arch.shape_of(name), counts.params, counts.macs)


def spatial(shape: Sequence[int]) -> str:
    """HxW of a (C, H, W) shape (the terminal table's output column); others whole."""
    return format_shape(shape[1:]) if len(shape) == 3 else format_shape(shape)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
