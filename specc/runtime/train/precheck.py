"""What `specc train` checks before it imports torch: the config's path and contents, the
data folder, the files named by flags and the run folder. Each is a `UserError` (or a
located `SpecError`) at once, instead of after torch, torchvision and the model load.

Also the run's own flags: what a checkpoint records so that `--resume` continues the same
run, and the command line that continues it.
"""

from __future__ import annotations

import importlib.util
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from specc.build.folder import settle
from specc.diagnostics import UserError
from specc.runtime.train.config import TrainConfig, load_config
from specc.runtime.train.folders import check_image_folder
from specc.tools.arrays import is_npz, read_npz

# What a run writes into its folder; --overwrite removes these and nothing else.
RUN_FILES = ("last.pt", "best.pt", "metrics.jsonl", "metrics.csv", "ranks.json")
# Flags that change a run without changing train.yaml: a checkpoint records them.
RUN_FLAGS = ("epochs", "batch_size", "workers")


@dataclass
class TrainOptions:
    config: Path
    data: str | None = None  # an ImageFolder root, an .npz, "synthetic", or None: the config's
    epochs: int | None = None
    max_steps: int | None = None
    out: Path | None = None
    resume: str | None = None  # "last" (OUT/last.pt) or a checkpoint path
    compile: str | None = None  # a torch.compile backend ("inductor"), or None for eager
    batch_size: int | None = None
    workers: int | None = None
    synthetic_images: int = 1024  # per epoch, for --data synthetic
    settings: tuple[str, ...] = ()  # --set KEY=VALUE over train.yaml's keys
    initial_checkpoint: Path | None = None  # weights to start from (fine-tuning)
    checkpoint_every: int | None = None  # also write last.pt every N steps
    overwrite: bool = False  # replace the run already in --out
    log: str | None = None  # "tensorboard" to log there as well


@dataclass
class Checked:
    """What the checks found: the options (CONFIG resolved to a file), the config with the
    flags applied, the run folder and the earlier run's files that --overwrite replaces."""

    options: TrainOptions
    cfg: TrainConfig
    out: Path
    replaced: list[Path] = field(default_factory=list)


def precheck(options: TrainOptions) -> Checked:
    """Every check that needs no torch, cheapest first."""
    options = replace(options, config=config_path(options.config))
    settle(options.config.parent)  # train.yaml and model.py of one complete build
    cfg = load_config(options.config, flag_overrides(options), options.settings)
    out = run_folder(options)
    check_files(options, out)
    replaced = claim_run_folder(out, options)
    check_data(cfg, options)
    return Checked(options, cfg, out, replaced)


def config_path(path: Path) -> Path:
    """CONFIG, or the train.yaml of a generated folder given as CONFIG."""
    hint = "pass the train.yaml that `specc build` writes (generated/<name>-<selector>/train.yaml)"
    if path.is_dir():
        if (path / "train.yaml").is_file():
            return path / "train.yaml"
        raise UserError(f"{path}: a folder without train.yaml", hint=hint)
    if not path.is_file():
        what = "not a regular file" if path.exists() else "no such file"  # a FIFO, a device
        raise UserError(f"{path}: {what}", hint=hint)
    return path


def flag_overrides(options: TrainOptions) -> dict[str, Any]:
    """train.yaml keys the run's flags set (--epochs, --batch-size, --workers)."""
    return {key: getattr(options, key) for key in RUN_FLAGS if getattr(options, key) is not None}


def run_folder(options: TrainOptions) -> Path:
    """--out, or runs/<generated folder's name>/ in the working directory: outside the
    generated folder, which a rebuild owns."""
    if options.out is not None:
        return options.out
    return Path("runs") / options.config.resolve().parent.name


def claim_run_folder(out: Path, options: TrainOptions) -> list[Path]:
    """The files of an earlier run in `out` that this run replaces (with --overwrite; only
    the files a run writes, a user's notes stay), or UserError when `out` holds a run and
    neither --resume nor --overwrite was given. Deletes nothing itself."""
    present = [name for name in RUN_FILES if (out / name).exists()]
    if options.resume or not present:
        return []
    if not options.overwrite:
        raise UserError(
            f"{out} already holds a run ({', '.join(present)}): continue it with --resume, "
            "start another with --out DIR, or replace it with --overwrite"
        )
    return [out / name for name in present]


def resume_path(options: TrainOptions, out: Path) -> Path:
    return out / "last.pt" if options.resume == "last" else Path(str(options.resume))


def check_files(options: TrainOptions, out: Path) -> None:
    """The checkpoint to resume from and the initial weights exist; tensorboard is there."""
    if options.resume:
        path = resume_path(options, out)
        if not path.is_file():
            raise UserError(
                f"--resume: {path}: no such checkpoint, nothing to continue",
                hint="start the run without --resume, or name the checkpoint: --resume CKPT",
            )
    initial = options.initial_checkpoint
    if initial is not None and not initial.is_file():
        raise UserError(f"--initial-checkpoint {initial}: no such file")
    if options.log == "tensorboard" and importlib.util.find_spec("tensorboard") is None:
        raise UserError("--log tensorboard needs tensorboard: pip install tensorboard")


def check_data(cfg: TrainConfig, options: TrainOptions) -> None:
    """The data folder's layout, and that its classes are the model's outputs."""
    source = options.data or cfg.data_dir
    if source is None and options.resume:
        return  # the checkpoint may name it (read once torch is there)
    if source is None:
        raise UserError(
            "no data: pass --data DIR (ImageFolder), --data FILE.npz or --data synthetic"
        )
    if source == "synthetic":
        return
    if is_npz(source):
        read_npz(Path(source), num_classes=cfg.num_classes, channels=cfg.in_chans)
        return
    classes = check_image_folder(Path(source))
    if len(classes) != cfg.num_classes:
        raise UserError(
            f"{source} has {len(classes)} classes but the model has {cfg.num_classes} "
            f"outputs: rebuild it with --set num_classes={len(classes)}"
        )


def run_record(options: TrainOptions) -> dict[str, Any]:
    """The run's own flags, as a checkpoint keeps them: a resumed run reapplies them."""
    data = options.data
    if data is not None and data != "synthetic":
        data = str(Path(data).resolve())
    return {**flag_overrides(options), "settings": list(options.settings), "data": data}


def with_record(options: TrainOptions, record: dict[str, Any]) -> TrainOptions:
    """`options` with a checkpoint's recorded flags filled in where this command line gives
    none; `--set` keys given now win over recorded ones."""
    filled = {k: record[k] for k in RUN_FLAGS if getattr(options, k) is None and record.get(k)}
    given = (*record.get("settings", ()), *options.settings)
    by_key = {text.partition("=")[0].strip(): text for text in given}
    data = options.data or record.get("data")
    return replace(options, **filled, settings=tuple(by_key.values()), data=data)


def continue_command(options: TrainOptions, out: Path) -> str:
    """The command line that continues this run where its checkpoint left it."""
    words = ["specc", "train", str(options.config), "--out", str(out), "--resume"]
    if options.data:
        words += ["--data", options.data]
    for key in RUN_FLAGS:
        if getattr(options, key) is not None:
            words += [f"--{key.replace('_', '-')}", str(getattr(options, key))]
    for setting in options.settings:
        words += ["--set", setting]
    return shlex.join(words)
