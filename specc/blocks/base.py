"""What a block kind is: the one place where a kind of block is defined.

A `BlockKind` bundles everything specc knows about one kind of block:

- `schema`: the pydantic model of a stage of that kind in the spec (a `StageBase`);
- `resolve`: the block-specific numbers of one block once channels are scaled
  (e.g. MBConv's expanded and squeeze widths), under the spec's scaling rules;
- `lower`: its expansion into IR nodes;
- `template`, `class_name`, `requires`, `arguments`: how the PyTorch backend writes
  its class once and one constructor call per block.

The registry (`specc.blocks.registry`) lists the kinds; nothing else in specc switches on
block kind names. This module imports no IR at run time, so loading a spec stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field, PlainValidator, WithJsonSchema, model_validator

from specc.spec.types import (
    Activation,
    Channels,
    KernelOrMixed,
    Repeats,
    StrictModel,
    Stride,
)

KernelSize = int | tuple[int, ...]  # one size, or the sizes of a mixed conv

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder
    from specc.scaling.arith import Number
    from specc.spec.schema import Defaults, Scaling


def _depth_group(value: object) -> str | int:
    # One message for both accepted types, not one per member of a union.
    if isinstance(value, str) and 1 <= len(value) <= 64:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"a depth group is a name (1-64 characters) or an integer, got {value!r}")


DepthGroup = Annotated[
    str | int,
    PlainValidator(_depth_group),
    WithJsonSchema({"anyOf": [{"type": "string", "maxLength": 64}, {"type": "integer"}]}),
]


class StageBase(StrictModel):
    """Fields every stage has; a block kind's schema adds its own and sets `block`."""

    # Kinds whose spatial conv may mix kernel sizes (a `kernel` list) say so here.
    mixed_kernels: ClassVar[bool] = False

    block: str
    kernel: KernelOrMixed = 3
    stride: Stride = 1
    channels: Channels
    repeats: Repeats = 1
    activation: Activation | None = None
    scale_depth: bool = Field(
        True, description="false: keep `repeats` under every depth multiplier (TF-lite)"
    )
    depth_group: DepthGroup | None = Field(
        None,
        description="consecutive stages with the same group scale their repeats as one "
        "total, split as timm's _scale_stage_depth (MobileNetV3, MixNet, FBNet stages)",
    )

    @model_validator(mode="after")
    def _kernel_list_allowed(self) -> StageBase:
        if isinstance(self.kernel, list) and not self.mixed_kernels:
            raise ValueError(
                f"a `{self.block}` block takes one kernel size; kernel lists (mixed depthwise "
                "convs) are for mbconv and dsconv"
            )
        return self


@dataclass(frozen=True)
class ResolvedBlock:
    """One block with every number concrete; `name` is its module path (`stages.3.1`)."""

    kind: str
    name: str
    stage: int
    index: int  # within the stage
    number: int  # over all blocks of the network, from 0
    in_channels: int
    out_channels: int
    kernel: KernelSize
    stride: int
    activation: str
    drop_path: float
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kernel_text(self) -> str:
        """3, or 3.5.7 for a mixed conv (timm's notation)."""
        return kernel_text(self.kernel)


def kernel_text(kernel: KernelSize | list[int]) -> str:
    return ".".join(map(str, kernel)) if isinstance(kernel, tuple | list) else str(kernel)


@dataclass(frozen=True)
class Code:
    """A constructor argument that is code, not a literal (e.g. an activation class).

    Only the backend creates these, from a fixed table keyed by validated names.
    """

    text: str


Argument = tuple[str | None, Any]  # (keyword or None for positional, literal value or Code)


def shape_arguments(
    block: ResolvedBlock,
    *,
    kernel_default: KernelSize | None = None,
    positional_kernel: bool = False,
) -> list[Argument]:
    """Constructor arguments every kind starts with: in and out channels, the kernel (unless
    it is `kernel_default`) and the stride (unless 1)."""
    args: list[Argument] = [(None, block.in_channels), (None, block.out_channels)]
    if positional_kernel:
        args.append((None, block.kernel))
    elif block.kernel != kernel_default:
        args.append(("kernel_size", block.kernel))
    if block.stride != 1:
        args.append(("stride", block.stride))
    return args


def drop_path_argument(block: ResolvedBlock) -> Argument:
    """`drop_path=dpr[n]`: the network computes every block's rate from `drop_path_rate`."""
    return ("drop_path", Code(f"dpr[{int(block.number)}]"))


@dataclass(frozen=True)
class LowerContext:
    """What lowering needs beyond the block itself: the spec's defaults."""

    defaults: Defaults


@dataclass(frozen=True)
class WidthContext:
    """What a kind needs to compute its inner widths: the scaling rules, and the channel
    rule applied to a baseline width (scaled by the width multiplier, then rounded)."""

    rules: Scaling
    round_width: Callable[[float], int]


@dataclass(frozen=True)
class BlockKind:
    name: str
    schema: type[StageBase]
    # The kind's own numbers for one block: (stage, in, out, stride, widths) -> extra.
    resolve: Callable[[StageBase, int, int, int, WidthContext], dict[str, Any]]
    lower: Callable[[GraphBuilder, ResolvedBlock, str, LowerContext], str]
    class_name: str
    template: str
    requires: tuple[str, ...]
    arguments: Callable[[ResolvedBlock, Mapping[str, Any], LowerContext], list[Argument]]
    parts: str  # the attribute names of the generated class, for the parameter-name docs
    # How the stage's output width scales; kinds whose width derives from an inner width
    # (a bottleneck's output is 4x its 3x3 width) round the inner one instead.
    channels: Callable[[StageBase, Callable[[Number], int]], int] = field(
        default=lambda stage, round_width: round_width(stage.channels)
    )
    # A stage's label in tables and comments, e.g. "bottleneck k3".
    describe: Callable[[StageBase], str] = field(
        default=lambda stage: f"{stage.block} k{kernel_text(stage.kernel)}"
    )


def no_extra(
    stage: StageBase, in_channels: int, out_channels: int, stride: int, widths: WidthContext
) -> dict[str, Any]:
    """`resolve` for kinds whose blocks need nothing beyond the common fields."""
    return {}
