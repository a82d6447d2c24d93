"""Read a train.yaml: the recipe plus what the build recorded (model file, input size, identity).

Validated like a spec, with located messages, because users edit these files. `--set
KEY=VALUE` overrides a flat key of the file; the value is read as YAML (`hflip=0`,
`scale=[0.5,1]`, `aa=null`) and an unknown key gets a did-you-mean hint.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from specc.diagnostics import Diagnostic, Location, SpecError, UserError, did_you_mean, dotted
from specc.lang.source import check_size, parse_scalar, parse_yaml, read_regular
from specc.lang.training import Training
from specc.lang.types import ClassName, Rate, StrictModel

# Keys that change how a run goes but not what it computes: a checkpoint stays valid.
RUN_ONLY = {"epochs", "workers", "pin_mem", "data_dir", "log_interval", "best_by"}
# Input channels an image file decodes to (PIL modes L, RGB, RGBA).
IMAGE_CHANNELS = (1, 3, 4)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BuildIdentity(StrictModel):
    name: str
    sha256: str
    selector: str


class Built(StrictModel):
    """What model.py was built with, to tell a user's edit of train.yaml from the build."""

    num_classes: Annotated[int, Field(ge=1)]
    in_chans: Annotated[int, Field(ge=1)]
    img_size: Annotated[int, Field(ge=1, le=8192)]  # specc's resolution limit
    drop: Rate
    drop_path: Rate


class TrainConfig(Training):
    model: str = "model.py"
    model_class: ClassName
    num_classes: Annotated[int, Field(ge=1)]
    in_chans: Annotated[int, Field(ge=1)] = 3
    img_size: Annotated[int, Field(ge=1, le=8192)]  # specc's resolution limit
    drop: Rate = 0.0
    drop_path: Rate = 0.0
    spec: BuildIdentity
    built: Built | None = None  # absent in files written before specc recorded it
    # Which weights' eval top-1 picks best.pt: null = the EMA weights' when the run keeps
    # them (model_ema; they score far above the raw weights on short or small runs).
    best_by: Literal["raw", "ema"] | None = None

    def best_weights(self) -> str:
        """'ema' or 'raw': the weights whose eval top-1 picks best.pt."""
        if self.best_by is not None:
            return self.best_by if self.model_ema or self.best_by == "raw" else "raw"
        return "ema" if self.model_ema else "raw"

    def normalisation(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) per channel: the file's, else ImageNet's for 3 channels, else 0.5."""
        default = (
            (IMAGENET_MEAN, IMAGENET_STD)
            if self.in_chans == 3
            else ((0.5,) * self.in_chans, (0.5,) * self.in_chans)
        )
        mean = tuple(self.mean) if self.mean is not None else default[0]
        std = tuple(self.std) if self.std is not None else default[1]
        return mean, std

    def recipe(self) -> dict[str, Any]:
        """The keys a checkpoint must agree with to be resumed under this config."""
        return {k: v for k, v in self.model_dump(mode="json").items() if k not in RUN_ONLY}


def parse_settings(settings: Iterable[str]) -> dict[str, tuple[Any, str]]:
    """`KEY=VALUE` strings -> {key: (value read as YAML, the original text)}; a malformed
    one or an unknown key raises SpecError naming the flag (with a did-you-mean hint)."""
    known = set(TrainConfig.model_fields)
    parsed: dict[str, tuple[Any, str]] = {}
    problems = []
    for text in settings:
        key, sep, raw = text.partition("=")
        key = key.strip()
        where = Location(f"--set {text}")
        if not sep or not key:
            problems.append(Diagnostic("expected KEY=VALUE", where))
            continue
        if key not in known:
            problems.append(Diagnostic(f"unknown key '{key}'", where, "", did_you_mean(key, known)))
            continue
        try:  # read as the spec's --set values are (1e-9 is a number)
            parsed[key] = (parse_scalar(raw), text)
        except ValueError:
            problems.append(Diagnostic(f"cannot read the value {raw!r}", where))
    if problems:
        raise SpecError(problems)
    return parsed


def load_config(
    path: str | Path, overrides: dict[str, Any] | None = None, settings: Iterable[str] = ()
) -> TrainConfig:
    """The validated config of `path`, with flag `overrides` and `--set` `settings` applied.

    Raises SpecError with every problem, located in the file or at the flag."""
    file = str(path)
    try:
        raw = read_regular(path)  # a FIFO or a device never blocks the run
        check_size(len(raw), file)
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([Diagnostic(f"cannot read the config: {exc}", Location(file))]) from None
    except OSError as exc:
        raise SpecError(
            [Diagnostic(f"cannot read the config: {exc.strerror}", Location(file))]
        ) from None
    source = parse_yaml(text, file)
    if not isinstance(source.data, dict):
        raise SpecError([Diagnostic("the top level must be a mapping", source.locate(()))])
    _refuse_spec(source.data, file)
    set_values = parse_settings(settings)
    for key, (_, flag) in set_values.items():
        source.overridden[(key,)] = flag
    data = {**source.data, **(overrides or {}), **{k: v for k, (v, _) in set_values.items()}}
    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path_ = tuple(error["loc"])
            message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            if error["type"] == "extra_forbidden":
                hint = did_you_mean(str(path_[-1]), TrainConfig.model_fields)
            else:
                hint = None
            problems.append(Diagnostic(message, source.locate(path_), dotted(path_), hint))
        raise SpecError(problems) from None
    problems = [
        Diagnostic(
            f"{len(value)} values for {config.in_chans} input channels (in_chans): "
            "give one per channel",
            source.locate((key,)),
            key,
        )
        for key, value in (("mean", config.mean), ("std", config.std))
        if value is not None and len(value) != config.in_chans
    ]
    if problems:
        raise SpecError(problems)
    return config


def _refuse_spec(data: dict[str, Any], file: str) -> None:
    """A spec given where its built train.yaml is meant: say so, and how to get the latter,
    instead of a did-you-mean for every key of the spec."""
    if "stages" not in data or "model_class" in data:
        return
    name = data.get("name")
    folder = f"generated/{name}-phi0" if isinstance(name, str) else "generated/<name>-phi0"
    raise UserError(
        f"{file} is a spec, not a training config",
        hint=f"build it (specc build {file}), then pass {folder}/train.yaml "
        "(or that folder itself)",
    )
