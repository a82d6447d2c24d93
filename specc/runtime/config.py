"""Read a train.yaml: the recipe plus what the build recorded (model file, input size, identity).

Validated like a spec, with located messages, because users edit these files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError

from specc.diagnostics import Diagnostic, Location, SpecError, dotted
from specc.spec.source import parse_yaml
from specc.spec.training import Training
from specc.spec.types import ClassName, Rate, StrictModel

# Keys that change how a run goes but not what it computes: a checkpoint stays valid.
RUN_ONLY = {"epochs", "workers", "pin_mem", "data_dir", "log_interval"}


class BuildIdentity(StrictModel):
    name: str
    sha256: str
    selector: str


class TrainConfig(Training):
    model: str = "model.py"
    model_class: ClassName
    num_classes: Annotated[int, Field(ge=1)]
    in_chans: Annotated[int, Field(ge=1)] = 3
    img_size: Annotated[int, Field(ge=1)]
    drop: Rate = 0.0
    drop_path: Rate = 0.0
    spec: BuildIdentity

    def recipe_hash(self) -> str:
        """What a checkpoint must agree with to be resumed under this config."""
        fields = {k: v for k, v in self.model_dump(mode="json").items() if k not in RUN_ONLY}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(
            [Diagnostic(f"cannot read the config: {exc.strerror}", Location(file))]
        ) from None
    source = parse_yaml(text, file)
    if not isinstance(source.data, dict):
        raise SpecError([Diagnostic("the top level must be a mapping", source.locate(()))])
    data = {**source.data, **(overrides or {})}
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path_ = tuple(error["loc"])
            message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(Diagnostic(message, source.locate(path_), dotted(path_)))
        raise SpecError(problems) from None
