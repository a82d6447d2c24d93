"""Apply a selector (phi or a preset) to a spec: every stage resolved to concrete integers.

phi mode (compound scaling, Eq. 3 of the paper): depth alpha^phi, width beta^phi,
resolution base * gamma^phi, each rounded by the spec's rules. Preset mode: the preset's
own width and depth multipliers and its exact resolution, with the same rounding. The
two are different things ("phi = 6" is not B6) and stay labelled as such.

The result, `ResolvedSpec`, is a plain value: testable without a graph, and the only
input of lowering. A size guard refuses absurdly large models before anything is built.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from specc.blocks.graph.kind import graph_kind, has_depth
from specc.blocks.graph.plan import chain_count, derived_width
from specc.blocks.kind import BlockPlan, KernelSize, PlanContext, StageColumns, StagePool
from specc.blocks.parts.conv_norm_act import LayerPlan
from specc.blocks.registry import KINDS, AnyKind
from specc.diagnostics import Diagnostic, Location, SpecError, did_you_mean
from specc.ir.nodes import AvgPool, MaxPool
from specc.lang.graphs import GraphBlock
from specc.lang.load import LoadedSpec
from specc.lang.schema import ConvLayer, Defaults, GraphStage, Spec
from specc.scaling.arith import Factor, exact, power, scaled, settle, text, watching
from specc.scaling.depth import divergence_warnings, stage_repeats
from specc.scaling.rounding import distribute_repeats, round_resolution
from specc.scaling.selector import Selector
from specc.scaling.widths import Widths


@dataclass(frozen=True)
class Multipliers:
    depth: float
    width: float
    resolution: float

    def to_dict(self) -> dict[str, float]:
        return {"depth": self.depth, "width": self.width, "resolution": self.resolution}


@dataclass(frozen=True)
class ResolvedStage:
    """One stage: its common numbers, its table columns and its blocks' plans (each of its
    kind's plan type)."""

    index: int
    kind: str
    label: str  # e.g. "mbconv6 k5 se0.25"
    kernel: KernelSize
    stride: int
    in_channels: int
    out_channels: int
    repeats: int
    columns: StageColumns  # the kind's extra table columns (expansion, SE ratio)
    blocks: tuple[BlockPlan, ...]
    pool: MaxPool | AvgPool | None = None  # after the last block (VGG)

    @property
    def output(self) -> str:
        """The module path of the stage's output: its pool (`stages.<i>.<repeats>`, the
        last module of the stage) or its last block."""
        if self.pool is not None:
            return f"stages.{self.index}.{self.repeats}"
        return self.blocks[-1].name

    @property
    def reduction(self) -> int:
        """How much the stage shrinks the map: its stride, times its pool's."""
        return self.stride * (self.pool.stride if self.pool is not None else 1)


@dataclass(frozen=True)
class HiddenPlan:
    """A fully connected layer before the classifier: Linear, activation, [dropout]."""

    width: int
    activation: str
    dropout: float = 0.0
    bias: bool = True
    norm: bool = False  # the spec's norm between the Linear and the activation


@dataclass(frozen=True)
class Limits:
    """What counts as absurdly large; `--allow-large` lifts it.

    About 4x EfficientNet-L2 (480 M parameters, 476 GMACs at 800 px), the largest model of
    the family ever trained; phi = 14 with the B0 spec is past it (878 M, 3.5 TMACs)."""

    max_blocks: int = 1000
    max_channels: int = 65536
    max_resolution: int = 8192
    max_params: int = 2_000_000_000
    max_macs: int = 2_000_000_000_000


@dataclass(frozen=True)
class ResolvedSpec:
    name: str
    class_name: str
    file: str
    spec_hash: str
    selector: Selector
    multipliers: Multipliers
    resolution: int
    in_channels: int
    num_classes: int
    stem: LayerPlan
    stages: tuple[ResolvedStage, ...]
    head: LayerPlan | None
    dropout: float
    drop_path: float
    defaults: Defaults
    pool_norm: bool = False  # the spec's norm on the pooled features
    hidden: tuple[HiddenPlan, ...] = ()  # fully connected layers before the classifier
    pool_size: int = 1  # the classifier's average pool: 1 (global) or VGG's 7
    conv_classifier: bool = False  # SqueezeNet: 1x1 conv + activation, then the pool
    stem_block: BlockPlan | None = None  # a YAML kind as the stem (RepVGG), module `stem`
    drop_path_denominator: int = 1  # block i gets drop_path * i / this
    rules: dict[str, Any] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()  # the `--set path=value` texts applied to the spec
    training: dict[str, Any] = field(default_factory=dict)  # the spec's recipe, as data
    # Float/exact divergences under `arithmetic: float`, located; show and build print them.
    warnings: tuple[Diagnostic, ...] = ()
    # The kind of every stage by name (built-in, plugin, or defined in the spec's YAML)
    # and the spec's YAML kinds (`blocks:`), which model.py writes as classes.
    kinds: Mapping[str, AnyKind] = field(default_factory=dict)
    graph_blocks: Mapping[str, GraphBlock] = field(default_factory=dict)

    @property
    def blocks(self) -> list[BlockPlan]:
        return [block for stage in self.stages for block in stage.blocks]

    def kind(self, name: str) -> AnyKind:
        """The kind named `name` (a stage's), YAML-defined ones included."""
        return self.kinds[name] if name in self.kinds else KINDS[name]


def resolve(
    loaded: LoadedSpec, selector: Selector, limits: Limits | None = Limits()
) -> ResolvedSpec:
    """Resolve `loaded` under `selector`; `limits=None` builds whatever size results.

    Under float arithmetic, values that exact arithmetic would round otherwise come back
    as `ResolvedSpec.warnings` (located, naming the spec field)."""
    spec = loaded.spec
    with watching() as found:
        scale = _multipliers(loaded, selector)
    warnings = divergence_warnings(found, loaded, "input")
    mult, resolution = scale.multipliers, scale.resolution
    _check_scale(loaded, selector, mult, resolution)
    widths = Widths(loaded, selector, scale.width)
    kinds = kinds_of(spec)
    stem_out = widths.stem()
    outs: list[int] = []
    for i, stage in enumerate(spec.stages):
        if isinstance(stage, GraphStage) and spec.blocks[stage.block].out is not None:
            # A kind that derives its width from its input (DenseNet's dense block).
            rule = _depth_rule(spec, scale.depth, stage.scale_depth)
            previous = outs[-1] if outs else stem_out
            outs.append(
                derived_width(
                    stage.block,
                    spec.blocks,
                    stage.params,
                    previous,
                    widths.round,
                    rule,
                    loaded.locate,
                )
            )
        else:
            outs.append(widths.stage(i, kinds[stage.block].channels))
    repeats, depth_warnings = stage_repeats(loaded, scale.depth)
    # A YAML kind that scales depth inside (a `depth` param: the CSP/C2f pattern) keeps
    # its stage's block count; only its inner chains grow.
    repeats = [
        stage.repeats if _inner_depth(spec, stage) else count
        for stage, count in zip(spec.stages, repeats, strict=True)
    ]
    if limits is not None:
        blocks = sum(repeats) + _inner_blocks(spec, repeats, scale.depth)
        _check_size(loaded, selector, limits, blocks, max([stem_out, *outs]), resolution)

    scales = {"depth": scale.depth}
    stages, block_warnings = _stages(
        loaded, stem_out, outs, repeats, scale.drop_path, widths, kinds, scales
    )
    last = stages[-1].out_channels
    head = None
    if spec.head is not None:
        head = _layer("head", spec.head, last, widths.head(last), spec)
    warnings += widths.warnings + depth_warnings + block_warnings
    hidden = tuple(
        HiddenPlan(
            widths.round(layer.channels) if layer.scaled else layer.channels,
            layer.activation or spec.defaults.activation,
            layer.dropout,
            layer.bias,
            layer.norm,
        )
        for layer in spec.classifier.hidden or []
    )

    return ResolvedSpec(
        name=spec.name,
        class_name=spec.python_class,
        file=loaded.file,
        spec_hash=loaded.hash,
        selector=selector,
        multipliers=mult,
        resolution=resolution,
        in_channels=spec.input.channels,
        num_classes=spec.num_classes,
        stem=replace(
            _layer("stem", spec.stem, spec.input.channels, stem_out, spec),
            deep=tuple(widths.stem_deep()),
        ),
        stages=tuple(stages),
        head=head,
        dropout=scale.dropout,
        drop_path=scale.drop_path,
        defaults=spec.defaults,
        pool_norm=spec.classifier.norm,
        hidden=hidden,
        pool_size=spec.classifier.pool_size,
        conv_classifier=spec.classifier.conv,
        stem_block=_stem_block(loaded, stem_out, kinds, widths),
        drop_path_denominator=_drop_path_denominator(spec, sum(repeats)),
        rules=spec.scaling.model_dump(mode="json"),
        overrides=tuple(loaded.source.overridden.values()),
        training=spec.training.model_dump(mode="json"),
        warnings=tuple(dict.fromkeys(warnings)),
        kinds=kinds,
        graph_blocks=dict(spec.blocks),
    )


def _stem_block(
    loaded: LoadedSpec, stem_out: int, kinds: Mapping[str, AnyKind], widths: Widths
) -> BlockPlan | None:
    """The stem's plan where a YAML kind is the stem: one block, input -> stem width."""
    spec = loaded.spec
    if spec.stem.block is None:
        return None
    site = BlockPlan(
        kind=spec.stem.block, name="stem", stage=0, index=0, number=0,
        in_channels=spec.input.channels, out_channels=stem_out, kernel=spec.stem.kernel,
        stride=spec.stem.stride, activation=spec.stem.activation or spec.defaults.activation,
        drop_path=0.0,
    )  # fmt: skip
    context = PlanContext(spec.scaling, spec.defaults, widths.round, locate=loaded.locate)
    plan: BlockPlan = kinds[spec.stem.block].plan(spec.stem, site, context)
    return plan


def kinds_of(spec: Spec) -> dict[str, AnyKind]:
    """The kind of each stage, by name: built-in or plugin, or one of the spec's YAML kinds."""
    found: dict[str, AnyKind] = {}
    if spec.stem.block is not None:
        found[spec.stem.block] = graph_kind(spec.stem.block, spec.blocks)
    for stage in spec.stages:
        if stage.block in found:
            continue
        if isinstance(stage, GraphStage):
            found[stage.block] = graph_kind(stage.block, spec.blocks)
        else:
            found[stage.block] = KINDS[stage.block]
    return found


def _inner_depth(spec: Spec, stage: object) -> bool:
    return isinstance(stage, GraphStage) and has_depth(spec.blocks[stage.block])


def _depth_rule(spec: Spec, multiplier: Factor, scale: bool) -> Callable[[int], int]:
    """A YAML kind's `depth` param under the depth multiple, by `scaling.repeats`."""
    rules = spec.scaling

    def scaled_count(count: int) -> int:
        if not scale:
            return count
        return settle(
            lambda m: distribute_repeats([count], multiplier, rules.repeats, m)[0],
            rules.arithmetic,
            "repeats",
            f"depth {count} x {text(multiplier)}",
        )

    return scaled_count


def _inner_blocks(spec: Spec, repeats: list[int], depth: Factor) -> int:
    """Blocks inside YAML kinds' chains, counted before anything is planned."""
    total = 0
    for stage, count in zip(spec.stages, repeats, strict=True):
        if isinstance(stage, GraphStage):
            rule = _depth_rule(spec, depth, stage.scale_depth)
            total += count * chain_count(stage.block, spec.blocks, stage.params, rule)
    return total


def _stages(
    loaded: LoadedSpec,
    stem_out: int,
    widths: list[int],
    repeats: list[int],
    drop_path: float,
    rounding: Widths,
    kinds: Mapping[str, AnyKind],
    scales: dict[str, Factor],
) -> tuple[list[ResolvedStage], list[Diagnostic]]:
    """Every stage's blocks, planned by their kinds; and the warnings of planning."""
    spec = loaded.spec
    context = PlanContext(spec.scaling, spec.defaults, rounding.round, locate=loaded.locate)
    denominator = _drop_path_denominator(spec, sum(repeats))
    stages: list[ResolvedStage] = []
    warnings: list[Diagnostic] = []
    in_channels, number = stem_out, 0
    for index, (stage, width, count) in enumerate(zip(spec.stages, widths, repeats, strict=True)):
        kind = kinds[stage.block]
        context = replace(
            context, scale_depth=_depth_rule(spec, scales["depth"], stage.scale_depth)
        )
        blocks = []
        for position in range(count):
            site = BlockPlan(
                kind=kind.name,
                name=f"stages.{index}.{position}",
                stage=index,
                index=position,
                number=number,
                in_channels=in_channels if position == 0 else width,
                out_channels=width,
                kernel=_kernel(stage.kernel),
                stride=stage.stride if position == 0 else 1,
                activation=stage.activation or spec.defaults.activation,
                # Stochastic depth grows linearly with the block's position in the
                # network (training only; the module computes it from drop_path_rate).
                drop_path=drop_path * number / denominator,
            )
            with watching() as found:
                blocks.append(kind.plan(stage, site, context))
            warnings += divergence_warnings(found, loaded, "stages", index)
            number += 1
        stages.append(
            ResolvedStage(
                index=index,
                kind=kind.name,
                label=kind.describe(stage),
                kernel=_kernel(stage.kernel),
                stride=stage.stride,
                in_channels=in_channels,
                out_channels=width,
                repeats=count,
                columns=kind.columns(stage, blocks[0]),
                blocks=tuple(blocks),
                pool=_stage_pool(stage.pool),
            )
        )
        in_channels = width
    return stages, warnings


def _stage_pool(pool: StagePool | None) -> MaxPool | AvgPool | None:
    if pool is None:
        return None
    if pool.kind == "max":
        return MaxPool(pool.kernel, pool.stride, pool.padding, pool.ceil_mode)
    return AvgPool(pool.kernel, pool.stride, pool.padding, pool.ceil_mode, pool.count_include_pad)


def _drop_path_denominator(spec: Spec, blocks: int) -> int:
    """Block i gets drop_path x i / this: N (TF, timm's EfficientNets) or N - 1 (ConvNeXt)."""
    if spec.scaling.drop_path_schedule == "i_over_n_minus_1":
        return max(blocks - 1, 1)
    return max(blocks, 1)


def _kernel(kernel: int | list[int]) -> KernelSize:
    """A stage's kernel as resolved: an int, or a tuple of a mixed conv's sizes."""
    return tuple(kernel) if isinstance(kernel, list) else kernel


@dataclass(frozen=True)
class _Scale:
    """The selector's multipliers (as floats for display and as Factors for rounding), the
    resolution, dropout and drop-path rate."""

    multipliers: Multipliers
    depth: Factor
    width: Factor
    resolution: int
    dropout: float
    drop_path: float


def _multipliers(loaded: LoadedSpec, selector: Selector) -> _Scale:
    spec = loaded.spec
    base = spec.input.resolution
    if selector.preset is not None:
        preset = spec.presets.get(selector.preset)
        if preset is None:
            raise SpecError([unknown_preset(loaded, selector.preset)])
        dropout = spec.classifier.dropout if preset.dropout is None else preset.dropout
        drop_path = spec.scaling.drop_path if preset.drop_path is None else preset.drop_path
        mult = Multipliers(preset.depth, preset.width, preset.resolution / base)
        depth, width = (Factor(v, exact(v)) for v in (preset.depth, preset.width))
        return _Scale(mult, depth, width, preset.resolution, dropout, drop_path)

    phi = selector.phi_value
    coeff = spec.scaling.coefficients
    depth, width, gamma = (power(c, phi) for c in (coeff.depth, coeff.width, coeff.resolution))
    mult = Multipliers(depth.value, width.value, gamma.value)
    rounding = spec.scaling.resolution
    resolution = base
    if math.isfinite(mult.resolution) and base * mult.resolution < 1e9:
        resolution = settle(
            lambda m: round_resolution(scaled(base, gamma, m), rounding.multiple, rounding.mode),
            spec.scaling.arithmetic,
            "resolution",
            f"resolution {base} x {text(gamma)}",
        )
    dropout = spec.classifier.dropout
    if spec.scaling.dropout.rule == "linear":
        rule = spec.scaling.dropout
        # Rounded so that 0.2 - 0.05 prints as 0.15, not 0.15000000000000002.
        dropout = round(min(max(dropout + rule.per_phi * phi, 0.0), rule.max), 6)
    return _Scale(mult, depth, width, resolution, dropout, spec.scaling.drop_path)


def unknown_preset(loaded: LoadedSpec, name: str) -> Diagnostic:
    known = sorted(loaded.spec.presets)
    listing = ", ".join(known) if known else "the spec defines none"
    return Diagnostic(
        f"unknown preset {name!r}; presets: {listing}",
        loaded.locate("presets") if known else Location(loaded.file),
        "presets",
        did_you_mean(name, known),
    )


def _check_scale(
    loaded: LoadedSpec, selector: Selector, mult: Multipliers, resolution: int
) -> None:
    problems = _check_finite(loaded, selector, mult)
    if not problems and resolution < 1:
        problems.append(
            Diagnostic(
                f"{selector.describe()} gives input resolution {resolution} "
                f"({loaded.spec.input.resolution} x {mult.resolution:.3g}, rounded)",
                loaded.locate("input", "resolution"),
                "input.resolution",
            )
        )
    if problems:
        raise SpecError(problems)


def _check_finite(loaded: LoadedSpec, selector: Selector, mult: Multipliers) -> list[Diagnostic]:
    values = mult.to_dict()
    bad = [name for name, value in values.items() if not math.isfinite(value) or value < 1e-6]
    if not bad:
        return []
    return [
        Diagnostic(
            f"{selector.describe()} gives {', '.join(bad)} multiplier(s) out of range "
            f"({', '.join(f'{n}={values[n]:.3g}' for n in bad)}); nothing can be built",
            loaded.locate("scaling", "coefficients"),
            "scaling.coefficients",
        )
    ]


def _check_size(
    loaded: LoadedSpec,
    selector: Selector,
    limits: Limits,
    blocks: int,
    channels: int,
    resolution: int,
) -> None:
    over = []
    if blocks > limits.max_blocks:
        over.append(f"{blocks:,} blocks (limit {limits.max_blocks:,})")
    if channels > limits.max_channels:
        over.append(f"{channels:,} channels (limit {limits.max_channels:,})")
    if resolution > limits.max_resolution:
        over.append(f"resolution {resolution:,} (limit {limits.max_resolution:,})")
    if over:
        raise too_large(loaded, selector, over)


class TooLarge(SpecError):
    """The size guard refused the model (`Limits`; `--allow-large` lifts it)."""


def too_large(loaded: LoadedSpec, selector: Selector, over: list[str]) -> TooLarge:
    """The size guard's error: what is over which limit, located at the selector's rule."""
    return TooLarge([_too_large(loaded, selector, over)])


def _too_large(loaded: LoadedSpec, selector: Selector, over: list[str]) -> Diagnostic:
    return Diagnostic(
        f"{selector.describe()} gives an absurdly large model: {'; '.join(over)}",
        loaded.locate(
            *(("presets", selector.preset) if selector.preset else ("scaling", "coefficients"))
        ),
        f"presets.{selector.preset}" if selector.preset else "scaling.coefficients",
        "pass --allow-large to build it anyway",
    )


def _layer(
    name: str, layer: ConvLayer, in_channels: int, out_channels: int, spec: Spec
) -> LayerPlan:
    pool = getattr(layer, "pool", None)  # only the stem has one
    return LayerPlan(
        name=name,
        in_channels=in_channels,
        out_channels=out_channels,
        kernel=layer.kernel,
        stride=layer.stride,
        activation=layer.activation or spec.defaults.activation,
        pool=MaxPool(pool.kernel, pool.stride, pool.padding, pool.ceil_mode) if pool else None,
        bias=layer.bias,
        norm=layer.norm,
        padding=layer.padding,
    )
