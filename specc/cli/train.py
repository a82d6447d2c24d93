"""`specc train` (and `python -m specc.train`, what torchrun launches): a thin shell over
`specc.runtime.train.trainer`. Imports torch only when the command runs."""

from __future__ import annotations

from pathlib import Path

import click

from specc.cli.common import reports_errors
from specc.diagnostics import UserError


@click.command("train")
@click.argument("config", type=click.Path(path_type=Path))
@click.option(
    "--data",
    metavar="DIR|FILE.npz|synthetic",
    help="ImageFolder root (train/ and val/), an npz of arrays, or synthetic; default the "
    "config's data_dir",
)
@click.option("--epochs", type=click.IntRange(1), help="override the config's epochs")
@click.option("--max-steps", type=click.IntRange(1), help="stop after this many optimiser steps")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="run folder for metrics and checkpoints (default runs/<CONFIG's folder name>)",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="override a key of train.yaml (repeatable), e.g. --set hflip=0 --set sched=cosine",
)
@click.option(
    "--initial-checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="start from these weights (specc, torchvision or timm; a classifier of another "
    "size stays fresh)",
)
@click.option(
    "--checkpoint-every",
    type=click.IntRange(1),
    metavar="N",
    help="also write last.pt every N steps",
)
@click.option("--overwrite", is_flag=True, help="replace the run already in the run folder")
@click.option("--log", type=click.Choice(["tensorboard"]), help="also log the metrics there")
@click.option(
    "--resume",
    is_flag=False,
    flag_value="last",
    default=None,
    metavar="[CKPT]",
    help="continue from OUT/last.pt, or from CKPT",
)
@click.option(
    "--compile",
    "use_compile",
    is_flag=False,
    flag_value="inductor",
    default=None,
    metavar="[BACKEND]",
    help="torch.compile the model (backend inductor unless named)",
)
@click.option("--batch-size", type=click.IntRange(1), help="images per process")
@click.option("--workers", type=click.IntRange(0), help="data loading processes per rank")
@click.option(
    "--synthetic-images",
    type=click.IntRange(1, 10**8),
    default=1024,
    show_default=True,
    help="images per epoch with --data synthetic",
)
@reports_errors
def train(
    config: Path,
    data: str | None,
    epochs: int | None,
    max_steps: int | None,
    out: Path | None,
    resume: str | None,
    use_compile: str | None,
    batch_size: int | None,
    workers: int | None,
    synthetic_images: int,
    settings: tuple[str, ...],
    initial_checkpoint: Path | None,
    checkpoint_every: int | None,
    overwrite: bool,
    log: str | None,
) -> None:
    """Train the model of a generated folder with its train.yaml (CONFIG; the folder itself
    also names its train.yaml).

    Needs torch and torchvision (pip install 'specc[train]'). SIGINT or SIGTERM finishes
    the current step, writes OUT/last.pt and exits 130 or 143; --resume continues."""
    from specc.runtime.train.precheck import TrainOptions, continue_command, precheck

    options = TrainOptions(
        config,
        data,
        epochs,
        max_steps,
        out,
        resume,
        use_compile,
        batch_size,
        workers,
        synthetic_images,
        settings,
        initial_checkpoint,
        checkpoint_every,
        overwrite,
        log,
    )
    checked = precheck(options)  # paths, arguments, data, run folder: before torch loads
    require_training_packages()
    from specc.runtime.train.trainer import train as run

    state = run(options, checked)
    if state.stopped:
        command = continue_command(checked.options, checked.out)
        click.echo(f"stopped at epoch {state.epoch} step {state.step}; continue with: {command}")
    else:
        click.echo(f"trained to epoch {state.epoch}, step {state.step}; best {state.best:.4f}")


def require_training_packages() -> None:
    """Exit 1 with the install line when torch or torchvision is missing."""
    import importlib.util

    missing = [name for name in ("torch", "torchvision") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            "specc train needs torch and torchvision: pip install 'specc[train]' "
            f"(missing: {', '.join(missing)})"
        )
