"""Report backend: the build summary, as a JSON-ready dict and as a terminal table.

The terminal output uses rich (plain text when stdout is not a terminal, NO_COLOR
respected by rich itself). FLOPs are printed beside MACs and labelled: the paper's
"FLOPs" are multiply-adds, FLOPs here are 2 x MACs.
"""

from __future__ import annotations

from typing import Any, Literal

from specc.build.architecture import Architecture
from specc.emit.tables import STAGE_HEADERS, macs_text, spatial, stage_table
from specc.lang.sizes import format_bytes

SUMMARY_KEYS = (
    "name",
    "class_name",
    "spec",
    "selector",
    "multipliers",
    "resolution",
    "input",
    "num_classes",
    "dropout",
    "drop_path",
    "rules",
    "stem",
    "stages",
    "head",
    "features",
    "totals",
    "train_memory",
    "nearest_preset",
)


def summary(arch: Architecture, outputs: list[str]) -> dict[str, Any]:
    """What `--json` prints: architecture.json without the per-layer list, plus outputs."""
    full = arch.to_dict(layers=False)
    result = {key: full[key] for key in SUMMARY_KEYS}
    result["params"] = arch.params
    result["macs"] = arch.macs
    result["flops"] = 2 * arch.macs
    result["outputs"] = outputs
    return result


def _count(value: int) -> str:
    return f"{value:,}"


def _giga(value: int) -> str:
    return macs_text(value)


def memory_lines(arch: Architecture, budget: int | None = None) -> list[str]:
    """The predicted training memory of train.yaml's recipe, each line within 80 columns:
    per image, at the recipe's batch, with gradient checkpointing; with `budget` (bytes),
    the largest batch that fits it."""
    step = arch.step_memory()
    training = arch.resolved.training
    batch = arch.train_batch
    precision = {"float32": "fp32", "bfloat16": "bf16 autocast", "float16": "fp16 autocast"}
    recipe = [precision[step.setting.precision], str(training.get("opt", "rmsproptf"))]
    if training.get("model_ema", True):
        recipe.append("EMA")
    if step.setting.grad_checkpointing:
        recipe.append("checkpointed")
    other = arch.step_memory(grad_checkpointing=not step.setting.grad_checkpointing)
    plain, checkpointed = (other, step) if step.setting.grad_checkpointing else (step, other)
    lines = [
        f"  training memory, predicted ({', '.join(recipe)}):",
        f"    {format_bytes(step.per_image)} per image (saved activations "
        f"{format_bytes(step.saved.per_image)}), {format_bytes(step.fixed)} fixed",
        f"    batch {batch} (train.yaml): peak {format_bytes(step.peak(batch))}",
        f"    grad checkpointing: {format_bytes(checkpointed.per_image)} per image, batch "
        f"{batch} {format_bytes(checkpointed.peak(batch))}, "
        f"+{arch.checkpoint_cost():.0%} compute",
    ]
    if plain is not step:
        lines[-1] = (
            f"    without checkpointing: {format_bytes(plain.per_image)} per image, batch "
            f"{batch} {format_bytes(plain.peak(batch))}"
        )
    if budget is not None:
        fits = step.max_batch(budget)
        lines.append(
            f"    largest batch in {format_bytes(budget)}: {fits}"
            + (f" (peak {format_bytes(step.peak(fits))})" if fits else " (not even 1 image)")
        )
    return lines


def print_summary(arch: Architecture, outputs: list[str], budget: int | None = None) -> None:
    from rich import box
    from rich.table import Table

    from specc.emit.terminal import console as make_console
    from specc.emit.terminal import print_table, wrap

    # The terminal's width, COLUMNS, or 80 in a pipe; lines fold, tables fit (print_table).
    console = make_console()

    def say(text: str) -> None:
        console.print(wrap(text, console.width))

    r = arch.resolved
    m = r.multipliers
    coeff = r.rules["coefficients"]
    console.print(f"[bold]{r.class_name}[/bold], {r.selector.describe()} ({r.file})")
    if r.selector.is_preset:
        say(f"  multipliers: depth {m.depth:g}, width {m.width:g} (preset {r.selector.preset})")
    else:
        phi = r.selector.phi_text
        say(
            f"  multipliers: depth {m.depth:.4f} ({coeff['depth']:g}^{phi}), "
            f"width {m.width:.4f} ({coeff['width']:g}^{phi}), "
            f"resolution {m.resolution:.4f} ({coeff['resolution']:g}^{phi})"
        )
    say(
        f"  input {r.in_channels}x{r.resolution}x{r.resolution}, {r.num_classes} classes, "
        f"dropout {r.dropout:g}, drop-path {r.drop_path:g}"
    )

    # Collapsed padding keeps the B0-family table within 80 columns; print_table never cuts it.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in (*STAGE_HEADERS, "output"):
        justify: Literal["left", "right"] = "left" if column in ("stage", "block") else "right"
        table.add_column(column, justify=justify, no_wrap=True)
    for row in stage_table(arch):
        table.add_row(*row.cells, spatial(row.output))
    print_table(console, table)

    say(
        f"  params {_count(arch.params)}   MACs {_giga(arch.macs)}   "
        f'FLOPs {_giga(2 * arch.macs)} (= 2 x MACs; the paper\'s "FLOPs" are MACs)'
    )
    for line in memory_lines(arch, budget):
        console.print(line, soft_wrap=False, overflow="fold")
    near = arch.nearest_preset
    if near is not None:
        say(
            f"  nearest preset: {near.name} (depth {near.depth:g}, width {near.width:g}, "
            f"resolution {near.resolution}): {_count(near.params)} params, {_giga(near.macs)} MACs"
        )
    for path in outputs:
        say(f"  wrote {path}")
