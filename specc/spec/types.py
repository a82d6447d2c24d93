"""Constrained field types shared by the spec schema and the block kinds.

Only pydantic and the standard library; every constraint carries a message a user can act
on, because these messages are what `specc validate` prints.
"""

from __future__ import annotations

import keyword
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Activation = Literal["relu", "relu6", "silu", "hardswish", "gelu"]
Padding = Literal["symmetric", "same"]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
PRESET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{0,31}$")


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys are errors and values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _odd_kernel(value: int) -> int:
    if value % 2 == 0:
        raise ValueError(f"kernel must be odd so that padding is symmetric, got {value}")
    return value


def _safe_name(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ValueError(
            f"{value!r} is not a safe name: use lowercase letters, digits and underscores, "
            "starting with a letter (at most 64 characters)"
        )
    return value


def _class_name(value: str) -> str:
    if not value.isidentifier() or keyword.iskeyword(value) or not value[0].isupper():
        raise ValueError(f"{value!r} is not a valid class name (a CamelCase Python identifier)")
    if not value.isascii():
        raise ValueError(f"{value!r} must be ASCII")
    return value


Kernel = Annotated[int, Field(ge=1, le=31), AfterValidator(_odd_kernel)]
# A mixed conv (MixConv): the channels split over these kernel sizes, e.g. [3, 5, 7].
MixedKernel = Annotated[list[Kernel], Field(min_length=2, max_length=8)]
Groups = Annotated[int, Field(ge=1, le=65536)]
Stride = Literal[1, 2]
Channels = Annotated[int, Field(ge=1, le=1_000_000)]
Repeats = Annotated[int, Field(ge=1, le=10_000)]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
SafeName = Annotated[str, AfterValidator(_safe_name)]
ClassName = Annotated[str, AfterValidator(_class_name)]
