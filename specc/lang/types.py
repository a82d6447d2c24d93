"""Constrained field types shared by the spec schema and the block kinds.

Only pydantic and the standard library; every constraint carries a message a user can act
on, because these messages are what `specc validate` prints.
"""

from __future__ import annotations

import keyword
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
)

Activation = Literal["relu", "relu6", "silu", "hardswish", "gelu", "leaky_relu"]
Padding = Literal["symmetric", "same"]

# Names become file names, folder names and Python identifiers: always matched against the
# whole string (`fullmatch`; a `$` would also match before a trailing newline).
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
PRESET_PATTERN = re.compile(r"[a-z0-9][a-z0-9_]{0,31}")
CLASS_NAME_PATTERN = re.compile(r"[A-Z][A-Za-z0-9_]{0,63}")


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys are errors, values are immutable, and types are
    strict: a boolean or a string is never read as a number (`kernel: true`, `channels: "8"`),
    a number never as a string; an integer is still accepted where a float is expected.

    A field's description (`specc schema`) is its `Field(description=...)` or the docstring
    written under it."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True
    )


def _no_bool(value: Any) -> Any:
    # A Literal of integers compares by equality, and True == 1: refuse booleans first.
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {str(value).lower()} (a boolean)")
    return value


def is_safe_name(value: str) -> bool:
    """Whether `value` may name a spec (and so a folder and a module)."""
    return NAME_PATTERN.fullmatch(value) is not None


def is_preset_name(value: str) -> bool:
    """Whether `value` may name a preset (and so a folder suffix)."""
    return PRESET_PATTERN.fullmatch(value) is not None


def _odd_kernel(value: int) -> int:
    if value % 2 == 0:
        raise ValueError(f"kernel must be odd so that padding is symmetric, got {value}")
    return value


def _safe_name(value: str) -> str:
    if not is_safe_name(value):
        raise ValueError(
            f"{value!r} is not a safe name: use lowercase letters, digits and underscores, "
            "starting with a letter (at most 64 characters)"
        )
    return value


def check_class_name(value: str, what: str = "") -> str:
    """`value` if it can name the generated class; ValueError naming the rule otherwise."""
    if not CLASS_NAME_PATTERN.fullmatch(value) or keyword.iskeyword(value):
        subject = f"{what} {value!r}, which is" if what else f"{value!r} is"
        raise ValueError(
            f"{subject} not a valid class name: an ASCII CamelCase Python identifier that is "
            "not a Python keyword (a capital letter, then letters, digits and underscores; "
            "at most 64 characters)"
        )
    return value


Kernel = Annotated[int, Field(ge=1, le=31), AfterValidator(_odd_kernel)]
# A mixed conv (MixConv): the channels split over these kernel sizes, e.g. [3, 5, 7].
MixedKernel = Annotated[list[Kernel], Field(min_length=2, max_length=8)]


def _kernel_or_mixed(value: object) -> int | list[int]:
    """One odd size, or a list of 2 to 8 (one message per problem, not one per union arm)."""
    if isinstance(value, list):
        if not 2 <= len(value) <= 8:
            raise ValueError(f"a mixed kernel lists 2 to 8 sizes, got {len(value)}")
        return [_one_kernel(v) for v in value]
    return _one_kernel(value)


def _one_kernel(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an odd whole number or a list of them, got {value!r}")
    if not 1 <= value <= 31:
        raise ValueError(f"kernel must be between 1 and 31, got {value}")
    return _odd_kernel(value)


_KERNEL_SCHEMA = {"type": "integer", "minimum": 1, "maximum": 31}
KernelOrMixed = Annotated[
    int | list[int],
    PlainValidator(_kernel_or_mixed),
    WithJsonSchema(
        {
            "anyOf": [
                _KERNEL_SCHEMA,
                {"type": "array", "items": _KERNEL_SCHEMA, "minItems": 2, "maxItems": 8},
            ]
        }
    ),
]
Groups = Annotated[int, Field(ge=1, le=65536)]
Stride = Annotated[Literal[1, 2], BeforeValidator(_no_bool)]
Channels = Annotated[int, Field(ge=1, le=1_000_000)]
Repeats = Annotated[int, Field(ge=1, le=10_000)]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
SafeName = Annotated[str, AfterValidator(_safe_name)]
ClassName = Annotated[str, AfterValidator(check_class_name)]
