"""The spec language as pydantic models: a baseline network and its scaling rules.

A spec states a network completely: input, stem, stages (one entry per stage, `block`
naming its kind), head, classifier, defaults, the scaling rules and the presets. Every
knob on which EfficientNet implementations differ is a field here, so reproducing one of
them is an edit of YAML. `specc schema` prints the JSON Schema of `Spec`.

Imports pydantic and the block kinds' schemas only (`specc.blocks.schemas`, the plugins'
schemas); never the IR, scaling, a block's behaviour, an emitter or torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from specc.blocks.kind import StageBase
from specc.blocks.plugins import stage_schemas
from specc.lang.graphs import GraphBlock
from specc.lang.training import Training
from specc.lang.types import (
    Activation,
    Channels,
    ClassName,
    Padding,
    Rate,
    SafeName,
    StrictModel,
    Stride,
    check_class_name,
    is_preset_name,
)

FORMAT_VERSION = 1


class InputSpec(StrictModel):
    channels: Channels = 3
    """input channels (3 for RGB)"""
    resolution: Annotated[int, Field(ge=1, le=16384)] = 224
    """the baseline's input size in pixels (square)"""


class Norm(StrictModel):
    """The norm of every conv-norm-act part: batch norm (momentum in PyTorch terms: TF's
    0.99 is PyTorch's 0.01) or layer norm over the channels (ConvNeXt; momentum unused)."""

    kind: Literal["batchnorm", "layernorm"] = "batchnorm"
    """batchnorm, or layernorm over the channels (ConvNeXt)"""
    eps: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-5
    """added to the variance"""
    momentum: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    """running-statistics momentum, PyTorch's convention (1 - TF's decay)"""


class Defaults(StrictModel):
    activation: Activation = "silu"
    """every block's activation unless the stage states one"""
    norm: Norm = Norm()
    """the norm of every conv-norm-act part"""
    padding: Padding = Field(
        "symmetric",
        description="symmetric: static k//2 (torchvision, timm); same: TF 'same', computed "
        "statically for the built resolution (asymmetric at stride 2 on even sizes)",
    )
    init: Literal["torchvision", "tf"] = Field(
        "torchvision",
        description="weight initialisation: torchvision (conv: normal, std sqrt(2 / fan_out), "
        "fan_out = k*k*out) or tf (TensorFlow's, timm's _init_weight_goog with "
        "fix_group_fanout: a grouped conv's fan_out is divided by its groups)",
    )


class ConvLayer(StrictModel):
    """A single conv-norm-act layer: the stem, or the head's 1x1 conv.

    An even kernel is a patchify conv (ConvNeXt's 4x4 stride 4 stem): legal only with
    stride equal to the kernel, and unpadded."""

    # stride first: the kernel's check reads it
    stride: Annotated[int, Field(ge=1, le=8)] = 1
    """stride of the conv (stem: its first conv)"""
    kernel: Annotated[int, Field(ge=1, le=31)] = 3
    """kernel size; even: a patchify conv (stride == kernel)"""
    channels: Channels
    """output width before width scaling"""
    activation: Activation | Literal["identity"] | None = Field(
        None, description="the spec's default if null; identity for none (ConvNeXt's stem)"
    )
    bias: bool = Field(False, description="conv bias (ConvNeXt's stem, VGG)")
    norm: bool = Field(True, description="the spec's norm after the conv; false: none (VGG)")
    padding: Annotated[int, Field(ge=0, le=15)] | None = Field(
        None,
        description="zero padding on every side, at most half the kernel; null: kernel // 2 "
        "(or TF 'same'); 0: unpadded (SqueezeNet's stem)",
    )

    @field_validator("kernel")
    @classmethod
    def _patchify(cls, kernel: int, info: ValidationInfo) -> int:
        stride = info.data.get("stride")
        if stride is None:  # the stride itself is invalid; reported there
            return kernel
        if kernel % 2 == 0 and kernel != stride:
            raise ValueError(
                f"an even kernel ({kernel}) is a patchify conv and needs stride == kernel, "
                f"got stride {stride}; use an odd kernel for a padded conv"
            )
        if stride > 2 and kernel != stride:
            raise ValueError(f"stride {stride} is for patchify convs (kernel == stride)")
        return kernel

    @field_validator("padding")
    @classmethod
    def _padding_fits_kernel(cls, padding: int | None, info: ValidationInfo) -> int | None:
        kernel = info.data.get("kernel")
        if padding is not None and kernel is not None and 2 * padding > kernel:
            raise ValueError(
                f"padding must be at most half the kernel: kernel {kernel} allows padding "
                f"up to {kernel // 2}, got {padding}"
            )
        return padding


class MaxPool(StrictModel):
    """A max pool after the stem conv (ResNet: 3x3, stride 2, padding 1)."""

    kernel: Annotated[int, Field(ge=1, le=15, description="window size")] = 3
    stride: Stride = 2
    """stride of the pool"""
    padding: Annotated[
        int, Field(ge=0, le=7, description="on every side, at most half the kernel")
    ] = 1
    ceil_mode: bool = Field(
        False,
        description="round the output size up (PyTorch's ceil_mode; a last window may "
        "start in the right padding)",
    )

    @model_validator(mode="after")
    def _padding_fits_kernel(self) -> MaxPool:
        # PyTorch's max pool pads with -inf and refuses padding over half the kernel.
        if 2 * self.padding > self.kernel:
            raise ValueError(
                f"padding must be at most half the kernel: kernel {self.kernel} allows "
                f"padding up to {self.kernel // 2}, got {self.padding}"
            )
        return self


class Stem(ConvLayer):
    pool: MaxPool | None = Field(None, description="a max pool after the stem (ResNet)")
    block: str | None = Field(
        None,
        description="a YAML kind of `blocks:` as the stem (RepVGG): one block from the input "
        "to `channels` with the stem's `stride`, its params at their defaults; the "
        "conv fields (kernel, bias, norm, padding, activation, deep) then do not apply",
    )
    deep: Annotated[list[Channels], Field(max_length=8)] = Field(
        default_factory=list,
        description="a deep stem (ResNet-C/D, timm's stem_type='deep'): convs to these widths "
        "before the one to `channels`, all k x k with the stem's activation, the first "
        "carrying the stride; scaled like the stem; [] for one conv",
    )


class HiddenLayer(StrictModel):
    """A fully connected layer between pooling and the classifier (MobileNetV3's 1280-wide
    Linear + hard-swish; timm's and LCNet's 1x1 conv with bias on the pooled map is the same
    layer, and imports into it)."""

    channels: Channels
    """width of the hidden layer before scaling"""
    activation: Activation | None = Field(None, description="the spec's default if null")
    scaled: bool = Field(True, description="width scaled by the channel rule")
    dropout: Rate = Field(
        0.0, description="dropout after this layer's activation (VGG's MLP: 0.5); 0: none"
    )
    bias: bool = Field(True, description="the Linear's bias (false: timm's head_bias=False)")
    norm: bool = Field(
        False,
        description="the spec's norm between the Linear and the activation (MobileNetV4's "
        "head norm)",
    )


def _one_or_list(value: Any) -> Any:
    # `hidden: {channels: 1280}` is short for a list of one layer.
    return [value] if isinstance(value, dict) else value


class Classifier(StrictModel):
    pool: Literal["avg"] = "avg"
    """global pooling before the classifier"""
    norm: bool = Field(False, description="the spec's norm on the pooled features (ConvNeXt)")
    pool_size: Annotated[int, Field(ge=1, le=32)] = 1
    """average pool to this size x this size, flattened: 1 (global pooling) or VGG's 7
    (an MLP over a 7x7 map)"""
    hidden: (
        Annotated[
            list[HiddenLayer], BeforeValidator(_one_or_list), Field(min_length=1, max_length=8)
        ]
        | None
    ) = None
    """fully connected layers before the final Linear: one (MobileNetV3) or a list (VGG's
    MLP: two 4096-wide layers, each followed by dropout 0.5)"""
    dropout: Rate = 0.0
    """dropout before the final Linear"""
    conv: bool = Field(
        False,
        description="a conv classifier (SqueezeNet): dropout, a 1x1 conv with bias to the "
        "classes, the spec's activation, then global average pool; with pool_size 1, no "
        "hidden layers and no norm",
    )

    @model_validator(mode="after")
    def _conv_alone(self) -> Classifier:
        if self.conv:
            clash = [
                name
                for name, on in (
                    ("hidden", self.hidden is not None),
                    ("pool_size", self.pool_size != 1),
                    ("norm", self.norm),
                )
                if on
            ]
            if clash:
                raise ValueError(
                    f"a conv classifier (conv: true) pools after the conv and takes no "
                    f"{', '.join(clash)}; remove {'it' if len(clash) == 1 else 'them'} or "
                    "set conv: false"
                )
        return self


class Coefficients(StrictModel):
    """alpha, beta, gamma: depth alpha^phi, width beta^phi, resolution gamma^phi."""

    depth: Annotated[float, Field(gt=0.0, le=16.0)] = 1.2
    """alpha: depth multiplier per unit of phi"""
    width: Annotated[float, Field(gt=0.0, le=16.0)] = 1.1
    """beta: width multiplier per unit of phi"""
    resolution: Annotated[float, Field(gt=0.0, le=16.0)] = 1.15
    """gamma: resolution multiplier per unit of phi"""


class ChannelRounding(StrictModel):
    divisor: Annotated[int, Field(ge=1, le=1024)] = 8
    """widths round to multiples of this"""
    round_limit: Annotated[float, Field(ge=0.0, le=1.0)] = 0.9
    """a rounded width is never below this fraction of the exact one (TF's 0.9)"""
    min: Channels | None = Field(None, description="smallest width; the divisor when null")
    max_channels: Channels | None = Field(
        None,
        description="cap on a width before the multiplier, as Ultralytics: "
        "round(min(c, max_channels) x width); applies to the stem, every stage's channels "
        "and a scaled head; null: no cap",
    )


class ResolutionRounding(StrictModel):
    multiple: Annotated[int, Field(ge=1, le=1024)] = 1
    """resolutions round to multiples of this"""
    mode: Literal["nearest", "ceil", "floor"] = "nearest"
    """how: nearest, ceil or floor"""


class HeadRule(StrictModel):
    """How the head conv's width follows the width multiplier.

    scaled: round_channels(head * width) (TF, timm); fixed: unchanged (TF-lite);
    multiple_of_last: factor x the last stage's width (torchvision)."""

    rule: Literal["scaled", "fixed", "multiple_of_last"] = "scaled"
    """scaled, fixed or multiple_of_last (see HeadRule)"""
    factor: Annotated[int, Field(ge=1, le=64)] = 4
    """multiple_of_last: head = factor x the last stage's width"""
    at_least_base: bool = Field(
        False, description="never narrower than the baseline head (MobileNetV2 keeps 1280)"
    )


class SERule(StrictModel):
    base: Literal["block_in", "expanded"] = Field(
        "block_in", description="which width the SE ratio applies to"
    )
    rounding: Literal["floor", "round", "round_half_even", "divisor"] = Field(
        "floor",
        description="floor (TF, torchvision); round: halves up; round_half_even: Python's "
        "round (timm's SqueezeExcite); divisor: like channels",
    )


class DropoutRule(StrictModel):
    """Classifier dropout for phi builds (presets state their own).

    fixed: the classifier's dropout; linear: classifier dropout + per_phi * phi, clamped
    to [0, max]."""

    rule: Literal["fixed", "linear"] = "fixed"
    """fixed, or linear in phi"""
    per_phi: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    """linear: dropout added per unit of phi"""
    max: Rate = 0.5
    """linear: the largest dropout"""


class Scaling(StrictModel):
    coefficients: Coefficients = Coefficients()
    """alpha, beta, gamma of compound scaling"""
    channels: ChannelRounding = ChannelRounding()
    """how widths round"""
    repeats: Literal["ceil", "round", "round_half_even"] = Field(
        "ceil",
        description="ceil(n x depth) (TF, timm's default); round: half up, at least 1; "
        "round_half_even: at least 1 (timm's depth_trunc='round', Python's round)",
    )
    resolution: ResolutionRounding = ResolutionRounding()
    """how the input resolution rounds"""
    stem: Literal["scaled", "fixed"] = "scaled"
    """scaled: the stem's width follows the width multiplier; fixed: never"""
    head: HeadRule = HeadRule()
    """how the head conv's width follows the width multiplier"""
    expansion: Literal["exact", "round_channels"] = Field(
        "exact", description="expanded width: in * expand, or rounded like channels"
    )
    se: SERule = SERule()
    """defaults of every squeeze-excitation"""
    dropout: DropoutRule = DropoutRule()
    """classifier dropout of phi builds"""
    drop_path: Rate = Field(0.0, description="stochastic depth rate of the last block")
    drop_path_schedule: Literal["i_over_n", "i_over_n_minus_1"] = Field(
        "i_over_n",
        description="block i of N gets drop_path x i / N (TF, timm's EfficientNets) or "
        "x i / (N - 1) (ConvNeXt: the last block gets the full rate)",
    )
    arithmetic: Literal["float", "decimal"] = Field(
        "float",
        description="float: binary floating point, as TF, timm and torchvision compute; "
        "decimal: exact on the numbers as written (200 x 2.3 = 460, not 459)",
    )


class Preset(StrictModel):
    width: Annotated[float, Field(gt=0.0, le=64.0)]
    """width multiplier"""
    depth: Annotated[float, Field(gt=0.0, le=64.0)]
    """depth multiplier"""
    resolution: Annotated[int, Field(ge=1, le=16384)]
    """input resolution in pixels"""
    dropout: Rate | None = None
    """classifier dropout; the classifier's if null"""
    drop_path: Rate | None = None
    """stochastic depth rate; scaling's if null"""
    max_channels: Channels | None = Field(
        None, description="this preset's channel cap (Ultralytics scales); scaling's if null"
    )
    source: str = ""
    """where the preset's numbers come from"""


class GraphStage(StageBase):
    """A stage of a block kind the spec defines in YAML (`blocks:`); the kind's params are
    stated beside the common fields and checked against its definition when the spec
    loads (`specc.lang.graphs`)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    block: str = Field(description="a kind defined under the spec's `blocks:`")
    channels: Channels | None = Field(  # type: ignore[assignment]
        None, description="output width; none for a kind that derives it (`blocks.<kind>.out`)"
    )

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


GRAPH_TAG = "graph"  # the union member of stages whose kind is defined in YAML
_KIND_NAMES = frozenset(stage_schemas())


def _stage_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("block")
        if not isinstance(kind, str):
            return None
        return kind if kind in _KIND_NAMES else GRAPH_TAG
    if isinstance(value, GraphStage):
        return GRAPH_TAG
    return getattr(value, "block", None)


# A union over every kind's stage schema, told apart by `block`: a new block kind needs no
# edit here.
if TYPE_CHECKING:
    Stage = StageBase
else:
    _STAGE_KINDS = (
        *(Annotated[schema, Tag(name)] for name, schema in stage_schemas().items()),
        Annotated[GraphStage, Tag(GRAPH_TAG)],
    )
    Stage = Annotated[Union[_STAGE_KINDS], Discriminator(_stage_kind)]  # noqa: UP007


class Spec(StrictModel):
    """A baseline network and the rules by which it scales."""

    format: Literal[1] = Field(description="version of the spec language")
    name: SafeName
    """lowercase identifier; names the output folder"""
    class_name: ClassName | None = Field(None, description="generated class; from name if null")
    description: str = ""
    """one line about the network"""
    input: InputSpec = InputSpec()
    """input channels and the baseline's resolution"""
    num_classes: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    """classifier outputs"""
    defaults: Defaults = Defaults()
    """activation, norm and padding of every layer"""
    stem: Stem
    """the first conv (and its pool)"""
    stages: Annotated[list[Stage], Field(min_length=1, max_length=64)]
    """one entry per stage; `block` names its kind"""
    head: ConvLayer | None = None
    """a 1x1 conv-norm-act after the last stage; null for none"""
    classifier: Classifier = Classifier()
    """pool, optional norm and hidden layer, dropout, Linear"""
    scaling: Scaling = Scaling()
    """the rules by which the network scales"""
    presets: dict[str, Preset] = Field(default_factory=dict)
    """named (width, depth, resolution) tables: the published members"""
    blocks: dict[str, GraphBlock] = Field(
        default_factory=dict,
        description="block kinds defined as graphs of parts and ops (see the README's "
        "Block graphs); stages name them in `block`",
    )
    training: Training = Field(default_factory=Training)
    """the training recipe resolved into train.yaml"""

    @field_validator("presets")
    @classmethod
    def _preset_names(cls, presets: dict[str, Preset]) -> dict[str, Preset]:
        bad = [name for name in presets if not is_preset_name(name)]
        if bad:
            raise ValueError(
                "preset names must be lowercase letters, digits and underscores, "
                f"starting with a letter or digit (at most 32 characters): {bad}"
            )
        return presets

    @model_validator(mode="after")
    def _derived_class_name(self) -> Spec:
        if self.class_name is None:
            check_class_name(self.python_class, f"name {self.name!r} gives the class name")
        return self

    @property
    def python_class(self) -> str:
        return self.class_name or "".join(part.capitalize() for part in self.name.split("_"))
