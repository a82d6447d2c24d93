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
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from specc.blocks.kind import StageBase
from specc.blocks.plugins import stage_schemas
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
    resolution: Annotated[int, Field(ge=1, le=16384)] = 224


class Norm(StrictModel):
    """The norm of every conv-norm-act part: batch norm (momentum in PyTorch terms: TF's
    0.99 is PyTorch's 0.01) or layer norm over the channels (ConvNeXt; momentum unused)."""

    kind: Literal["batchnorm", "layernorm"] = "batchnorm"
    eps: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-5
    momentum: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1


class Defaults(StrictModel):
    activation: Activation = "silu"
    norm: Norm = Norm()
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
    kernel: Annotated[int, Field(ge=1, le=31)] = 3
    channels: Channels
    activation: Activation | Literal["identity"] | None = Field(
        None, description="the spec's default if null; identity for none (ConvNeXt's stem)"
    )
    bias: bool = Field(False, description="conv bias (ConvNeXt's stem)")

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


class MaxPool(StrictModel):
    """A max pool after the stem conv (ResNet: 3x3, stride 2, padding 1)."""

    kernel: Annotated[int, Field(ge=1, le=15)] = 3
    stride: Stride = 2
    padding: Annotated[int, Field(ge=0, le=7)] = 1

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
    pool: MaxPool | None = None


class HiddenLayer(StrictModel):
    """A fully connected layer between pooling and the classifier (MobileNetV3's 1280-wide
    Linear + hard-swish; timm's and LCNet's 1x1 conv with bias on the pooled map is the same
    layer, and imports into it)."""

    channels: Channels
    activation: Activation | None = Field(None, description="the spec's default if null")
    scaled: bool = Field(True, description="width scaled by the channel rule")


class Classifier(StrictModel):
    pool: Literal["avg"] = "avg"
    norm: bool = Field(False, description="the spec's norm on the pooled features (ConvNeXt)")
    hidden: HiddenLayer | None = None
    dropout: Rate = 0.0


class Coefficients(StrictModel):
    """alpha, beta, gamma: depth alpha^phi, width beta^phi, resolution gamma^phi."""

    depth: Annotated[float, Field(gt=0.0, le=16.0)] = 1.2
    width: Annotated[float, Field(gt=0.0, le=16.0)] = 1.1
    resolution: Annotated[float, Field(gt=0.0, le=16.0)] = 1.15


class ChannelRounding(StrictModel):
    divisor: Annotated[int, Field(ge=1, le=1024)] = 8
    round_limit: Annotated[float, Field(ge=0.0, le=1.0)] = 0.9
    min: Channels | None = Field(None, description="smallest width; the divisor when null")
    max_channels: Channels | None = Field(
        None,
        description="cap on a width before the multiplier, as Ultralytics: "
        "round(min(c, max_channels) x width); applies to the stem, every stage's channels "
        "and a scaled head; null: no cap",
    )


class ResolutionRounding(StrictModel):
    multiple: Annotated[int, Field(ge=1, le=1024)] = 1
    mode: Literal["nearest", "ceil", "floor"] = "nearest"


class HeadRule(StrictModel):
    """How the head conv's width follows the width multiplier.

    scaled: round_channels(head * width) (TF, timm); fixed: unchanged (TF-lite);
    multiple_of_last: factor x the last stage's width (torchvision)."""

    rule: Literal["scaled", "fixed", "multiple_of_last"] = "scaled"
    factor: Annotated[int, Field(ge=1, le=64)] = 4
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
    per_phi: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    max: Rate = 0.5


class Scaling(StrictModel):
    coefficients: Coefficients = Coefficients()
    channels: ChannelRounding = ChannelRounding()
    repeats: Literal["ceil", "round", "round_half_even"] = Field(
        "ceil",
        description="ceil(n x depth) (TF, timm's default); round: half up, at least 1; "
        "round_half_even: at least 1 (timm's depth_trunc='round', Python's round)",
    )
    resolution: ResolutionRounding = ResolutionRounding()
    stem: Literal["scaled", "fixed"] = "scaled"
    head: HeadRule = HeadRule()
    expansion: Literal["exact", "round_channels"] = Field(
        "exact", description="expanded width: in * expand, or rounded like channels"
    )
    se: SERule = SERule()
    dropout: DropoutRule = DropoutRule()
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
    depth: Annotated[float, Field(gt=0.0, le=64.0)]
    resolution: Annotated[int, Field(ge=1, le=16384)]
    dropout: Rate | None = None
    drop_path: Rate | None = None
    max_channels: Channels | None = Field(
        None, description="this preset's channel cap (Ultralytics scales); scaling's if null"
    )
    source: str = ""


def _stage_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("block")
        return kind if isinstance(kind, str) else None
    return getattr(value, "block", None)


# A union over every kind's stage schema, told apart by `block`: a new block kind needs no
# edit here.
if TYPE_CHECKING:
    Stage = StageBase
else:
    _STAGE_KINDS = tuple(Annotated[schema, Tag(name)] for name, schema in stage_schemas().items())
    Stage = Annotated[Union[_STAGE_KINDS], Discriminator(_stage_kind)]  # noqa: UP007


class Spec(StrictModel):
    """A baseline network and the rules by which it scales."""

    format: Literal[1] = Field(description="version of the spec language")
    name: SafeName
    class_name: ClassName | None = Field(None, description="generated class; from name if null")
    description: str = ""
    input: InputSpec = InputSpec()
    num_classes: Annotated[int, Field(ge=1, le=1_000_000)] = 1000
    defaults: Defaults = Defaults()
    stem: Stem
    stages: Annotated[list[Stage], Field(min_length=1, max_length=64)]
    head: ConvLayer | None = None
    classifier: Classifier = Classifier()
    scaling: Scaling = Scaling()
    presets: dict[str, Preset] = Field(default_factory=dict)
    training: Training = Field(default_factory=Training)

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
