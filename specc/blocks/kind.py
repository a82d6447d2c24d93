"""What a block kind is (plugin contract v2): the typed records every kind, built-in or
plugin, is made of.

A block kind turns one stage of the spec into blocks, in three steps, each reading the
previous step's typed record and nothing else:

    schema  StageT (pydantic)       the stage as written: `kind.schema`, a `StageBase`
    plan    StageT -> PlanT         one block's every decision and width, under the spec's
                                    scaling rules: `kind.plan(stage, site, ctx)` returns a
                                    frozen dataclass, a subclass of `BlockPlan`
    lower   PlanT -> IR nodes       `kind.lower(builder, plan, x, ctx)`
    emit    PlanT -> model.py       `kind.emitter`: the class's template, the constructor
                                    arguments of one block, the parts the block uses

A decision (is there an expansion conv, a residual, an SE) is made once, in `plan`;
lowering, emission and the stage tables read it from the plan. `BlockKind` is generic over
the stage and plan types, so mypy checks that a kind's functions agree.

This module is vocabulary: it imports pydantic and the language's field types, never the
IR, scaling, build or emit modules at run time (so loading a spec stays light).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import ConfigDict, Field, PlainValidator, WithJsonSchema, model_validator

from specc.lang.types import Activation, Channels, KernelOrMixed, Repeats, StrictModel, Stride

if TYPE_CHECKING:
    from specc.ir.graph import GraphBuilder
    from specc.lang.schema import Defaults, Scaling
    from specc.scaling.arith import Number

CONTRACT = 2  # the version of this contract; v1 (specc.blocks.base) is refused by name

KernelSize = int | tuple[int, ...]  # one size, or the sizes of a mixed conv


def kernel_text(kernel: KernelSize | list[int]) -> str:
    """3, or 3,5,7 for a mixed conv (timm writes k3.5.7, which in a table column reads as
    a kernel of three and a half)."""
    return ",".join(map(str, kernel)) if isinstance(kernel, tuple | list) else str(kernel)


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


def _stage_json_schema(schema: dict[str, Any], cls: type[Any]) -> None:
    """`specc schema` of a kind's stage: `block` keeps its description where a kind narrows
    it to its literal, and a kind without mixed kernels advertises one kernel size only."""
    properties = schema.get("properties", {})
    block = properties.get("block")
    if block is not None:
        block.setdefault("description", "the block kind")
    kernel = properties.get("kernel")
    if kernel is not None and not cls.mixed_kernels and "anyOf" in kernel:
        one = [arm for arm in kernel.pop("anyOf") if arm.get("type") == "integer"]
        kernel.update(one[0] if one else {"type": "integer"})
    if kernel is not None:
        kernel.setdefault("description", "kernel size of the block's spatial conv")


class StagePool(StrictModel):
    """A pool after a stage's last block (VGG's max pools between stages; SqueezeNet's and
    DenseNet's are max and average pools). `ceil_mode` rounds the output size up (a last
    window may start in the right padding); `count_include_pad` (average pools) divides by
    the whole window, padding included, as PyTorch does by default."""

    kind: Literal["max", "avg"] = Field("max", description="max or average pooling")
    kernel: int = Field(2, ge=1, le=15, description="window size")
    stride: int = Field(2, ge=1, le=8, description="stride of the pool")
    padding: int = Field(0, ge=0, le=7, description="on every side, at most half the kernel")
    ceil_mode: bool = Field(False, description="round the output size up (PyTorch's)")
    count_include_pad: bool = Field(
        True, description="average pools: padding counts in the divisor (PyTorch's default)"
    )

    @model_validator(mode="after")
    def _fits(self) -> StagePool:
        if 2 * self.padding > self.kernel:
            raise ValueError(
                f"padding must be at most half the kernel: kernel {self.kernel} allows "
                f"padding up to {self.kernel // 2}, got {self.padding}"
            )
        if self.kind == "max" and not self.count_include_pad:
            raise ValueError("count_include_pad is for average pools (kind: avg)")
        return self


class StageBase(StrictModel):
    """Fields every stage has; a block kind's schema adds its own and sets `block`."""

    model_config = ConfigDict(json_schema_extra=_stage_json_schema)

    # Kinds whose spatial conv may mix kernel sizes (a `kernel` list) say so here.
    mixed_kernels: ClassVar[bool] = False

    block: str = Field(description="the block kind")
    kernel: KernelOrMixed = Field(3, description="kernel size of the block's spatial conv")
    stride: Stride = Field(1, description="stride of the stage's first block")
    channels: Channels = Field(description="output width of every block of the stage")
    repeats: Repeats = Field(1, description="blocks in the stage, before depth scaling")
    activation: Activation | None = Field(None, description="the spec's default if null")
    scale_depth: bool = Field(
        True, description="false: keep `repeats` under every depth multiplier (TF-lite)"
    )
    pool: StagePool | None = Field(
        None,
        description="a max or average pool after the stage's last block (VGG); its stride "
        "counts in the stage's reduction",
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


@dataclass(frozen=True, kw_only=True)
class BlockPlan:
    """One block with every common number concrete; `name` is its module path (`stages.3.1`).

    The resolver fills these from the stage; a kind's plan subclasses it with its own
    decisions and widths (`MBConvPlan(BlockPlan)`: expanded width, expansion conv, SE, ...)
    and builds it with `YourPlan.of(site, **own_fields)`."""

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
    drop_path: float  # this block's stochastic-depth rate at the spec's drop_path

    @classmethod
    def of(cls: type[PlanT], site: BlockPlan, **own: Any) -> PlanT:
        """A `cls` plan with `site`'s common numbers and the kind's `own` fields."""
        common = {f.name: getattr(site, f.name) for f in dataclasses.fields(BlockPlan)}
        return cls(**common, **own)

    @property
    def keeps_shape(self) -> bool:
        """Stride 1 and in == out: where a residual may join."""
        return self.stride == 1 and self.in_channels == self.out_channels


StageT = TypeVar("StageT", bound=StageBase)
PlanT = TypeVar("PlanT", bound=BlockPlan)


@dataclass(frozen=True)
class PlanContext:
    """What a kind's plan needs beyond its stage and site: the scaling rules, the spec's
    defaults, and the channel rule applied to a baseline width (scaled by the width
    multiplier, then rounded)."""

    rules: Scaling
    defaults: Defaults
    round_width: Callable[[Number], int]
    # A count under the stage's depth multiple (YAML kinds' `depth` params; identity when
    # the stage does not scale depth), and where a spec path is in the file.
    scale_depth: Callable[[int], int] = lambda count: count
    locate: Callable[..., Any] | None = None


@dataclass(frozen=True)
class LowerContext:
    """What lowering needs beyond the plan: the spec's defaults (norm, padding)."""

    defaults: Defaults


@dataclass(frozen=True)
class EmitContext:
    """What a kind's constructor arguments need beyond the plan: the spec's defaults, and
    the parts the kind's class was written with (the union of its blocks' `parts`: an
    argument for a part the class lacks would not be accepted)."""

    defaults: Defaults
    parts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Code:
    """A constructor argument that is code, not a literal (e.g. an activation class).

    Only specc creates these, from fixed tables keyed by validated names."""

    text: str


Argument = tuple[str | None, Any]  # (keyword or None for positional, literal value or Code)


@dataclass(frozen=True)
class StageColumns:
    """What the stage tables show of a stage beyond the common numbers."""

    expand: float | None = None  # the expansion ratio
    se: float | None = None  # the squeeze-excitation ratio


# The parts a block's generated class may use; model.py defines a part's class (and a kind's
# template its code for that part) only when some block uses it.
PARTS = frozenset({"squeeze_excite", "drop_path", "layer_norm", "grn", "avg_down"})


@dataclass(frozen=True)
class BlockEmitter(Generic[PlanT]):
    """How model.py writes a kind: its class once (from `template`), one constructor call
    per block (`arguments`), and the parts each block uses (`parts`: names of `PARTS`)."""

    class_name: str
    template: str  # a file in the kind's folder (a plugin's: its `templates/` folder)
    arguments: Callable[[PlanT, EmitContext], list[Argument]]
    parts: Callable[[PlanT], frozenset[str]]
    # The attribute names of the generated class, for the parameter-name docs of model.py.
    parameters: str


def _round_channels(stage: StageBase, round_width: Callable[[Number], int]) -> int:
    return round_width(stage.channels)


def _describe(stage: StageBase) -> str:
    return f"{stage.block} k{kernel_text(stage.kernel)}"


def _no_columns(stage: StageBase, first: BlockPlan) -> StageColumns:
    return StageColumns()


@dataclass(frozen=True)
class BlockKind(Generic[StageT, PlanT]):
    """One kind of block: everything specc knows about it (see the module docstring)."""

    name: str
    schema: type[StageT]
    plan: Callable[[StageT, BlockPlan, PlanContext], PlanT]
    lower: Callable[[GraphBuilder, PlanT, str, LowerContext], str]
    emitter: BlockEmitter[PlanT]
    # How the stage's output width scales; kinds whose width derives from an inner width
    # (a bottleneck's output is 4x its 3x3 width) round the inner one instead.
    channels: Callable[[StageT, Callable[[Number], int]], int] = field(default=_round_channels)
    # A stage's label in tables and comments, e.g. "bottleneck k3".
    describe: Callable[[StageT], str] = field(default=_describe)
    # The stage table's extra columns, from the stage and its first block's plan.
    columns: Callable[[StageT, PlanT], StageColumns] = field(default=_no_columns)
    contract: ClassVar[int] = CONTRACT


def uses(**parts: bool) -> frozenset[str]:
    """The names of the parts that are true: `uses(squeeze_excite=plan.se is not None)`."""
    unknown = set(parts) - PARTS
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; parts are {sorted(PARTS)}")
    return frozenset(name for name, used in parts.items() if used)
