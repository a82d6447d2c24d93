"""The one stage table (stem, each stage, head) that the terminal summary and report.md
both print, and the one shape formatter of every emitter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from specc.build.architecture import Architecture
from specc.ir.nodes import format_shape


def macs_text(value: float, scale: float | None = None) -> str:
    """A MAC or FLOP count readable at any size: 20.094 G, 1.306 M, 27.4 K (G from 0.1 G,
    so B0's 0.386 G reads as the papers print it; never "0.000 G"). `scale`: the value
    whose unit to use (a table column's total, so that its rows share one unit)."""
    scale = value if scale is None else scale
    if scale >= 1e8:
        return f"{value / 1e9:.3f} G"
    if scale >= 1e5:
        return f"{value / 1e6:.3f} M"
    return f"{value / 1e3:.1f} K"


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
    block = arch.resolved.stem_block if name == "stem" else None
    kind = block.kind if block is not None else "conv"  # a YAML kind as the stem (RepVGG)
    cells = (name, kind, str(kernel), str(stride), "", "", channels, str(len(layer.convs())))
    return StageRow(cells, arch.shape_of(name), counts.params, counts.macs)


def spatial(shape: Sequence[int]) -> str:
    """HxW of a (C, H, W) shape (the terminal table's output column); others whole."""
    return format_shape(shape[1:]) if len(shape) == 3 else format_shape(shape)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
