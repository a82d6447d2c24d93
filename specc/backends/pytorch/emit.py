"""PyTorch backend: an Architecture becomes one self-contained, readable `model.py`.

The file holds the block classes the network uses (each once, from its block kind's
template), then the network class whose `__init__` lists every stage with its concrete
numbers, one line per block, with shape comments. Parameter names follow the IR's node
ids (see `_parameter_names`), so IR numbers and module parameters line up by prefix.

Determinism: no timestamps, no absolute paths, no dict-order dependence; the same
Architecture always gives the same bytes. Safety: only validated identifiers and
`literal()`-checked values reach the code (see `specc.backends.pytorch.code`).
"""

from __future__ import annotations

import re
import textwrap
from functools import cache
from pathlib import Path, PurePath
from typing import Any

import jinja2

from specc import __version__
from specc.architecture import Architecture
from specc.backends.pytorch import code
from specc.blocks.base import Argument, Code, LowerContext, ResolvedBlock
from specc.blocks.parts import ACTIVATIONS
from specc.blocks.registry import KINDS, plugin_of
from specc.diagnostics import Diagnostic, Location, SpecError
from specc.scaling.resolve import ResolvedLayer

# Support classes defined by the backend itself, for the stem, head and classifier.
BASE_TEMPLATES = ("conv.py.j2",)
# Module-level names of model.py besides the classes and functions its templates define.
MODULE_NAMES = {
    "Activation", "BN_EPS", "BN_MOMENTUM", "NORM_EPS", "norm_layer", "torch", "nn", "annotations",
}  # fmt: skip
_DEFINED = re.compile(r"^(?:class|def) (\w+)", re.MULTILINE)

PARAMETER_NAMES = """\
Parameter names (stable): stem.{conv,bn}.*, stages.<stage>.<block>.<part>.*, head.{conv,bn}.*,
classifier.*; conv-norm-act parts hold conv.weight and bn.{weight,bias,running_mean,running_var}.
"""

_SAFE_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_TEMPLATES = Path(__file__).parent / "templates"
_BLOCK_TEMPLATES = Path(__file__).parents[2] / "blocks" / "templates"


@cache
def _environment() -> jinja2.Environment:
    """Templates of the backend and the built-in kinds by name; a plugin kind's own
    templates under `plugin:<kind>/<name>` (see `_template_name`)."""
    plugins = {}
    for name in KINDS:
        plugin = plugin_of(name)
        if plugin is not None and plugin.templates is not None:
            plugins[f"plugin:{name}"] = jinja2.FileSystemLoader(str(plugin.templates))
    builtin = jinja2.FileSystemLoader([str(_TEMPLATES), str(_BLOCK_TEMPLATES)])
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader([builtin, jinja2.PrefixLoader(plugins)]),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def emit_pytorch(arch: Architecture) -> str:
    """The source of `model.py` for `arch`."""
    r = arch.resolved
    class_name = code.identifier(r.class_name)
    env = _environment()
    r_defaults = r.defaults
    switches = {
        "mixed_kernels": any(data["op"] == "mixconv" for _, data in arch.graph.nodes(data=True)),
        "same_padding": r_defaults.padding == "same",
    }
    classes = [
        env.get_template(name).render(**switches).rstrip() for name in _class_templates(arch)
    ]
    taken = MODULE_NAMES | {name for source in classes for name in _DEFINED.findall(source)}
    if class_name in taken:
        message = f"class name {class_name!r} clashes with a name model.py defines"
        raise SpecError([Diagnostic(message, Location(r.file), "class_name")])
    ctx = LowerContext(r.defaults)
    endpoints = arch.endpoints()
    init_lines = _init_lines(arch, ctx)
    blocks = len(r.blocks)
    denominator = r.drop_path_denominator
    source = env.get_template("model.py.j2").render(
        title=f"{class_name}, {r.selector.describe()}",
        version=__version__,
        spec_file=_safe_file_name(r.file),
        spec_hash=r.spec_hash,
        selector=r.selector.label,
        rebuild=_rebuild_command(arch),
        input_shape=code.shape(arch.input_shape),
        num_classes=r.num_classes,
        in_chans=r.in_channels,
        drop_rate=code.literal(float(r.dropout)),
        drop_path_rate=code.literal(float(r.drop_path)),
        blocks=blocks,
        drop_path_denominator=denominator,
        drop_path_rule=f"drop_path_rate * i / {denominator}",
        num_features=arch.classifier_features,
        params=f"{arch.params:,}",
        gmacs=f"{arch.macs / 1e9:.3f}",
        gflops=f"{2 * arch.macs / 1e9:.3f}",
        parameter_names=_parameter_names(arch),
        activation=ACTIVATIONS[r.defaults.activation],
        norm_kind=r.defaults.norm.kind,
        norm_title="batch norm" if r.defaults.norm.kind == "batchnorm" else "layer norm",
        bn_eps=code.literal(r.defaults.norm.eps),
        bn_momentum=code.literal(r.defaults.norm.momentum),
        classes=classes,
        class_name=class_name,
        init_lines=init_lines,
        uses_dpr=any("dpr[" in line for line in init_lines),
        features_shape=code.shape(
            arch.shape_of("head" if r.head else r.stages[-1].blocks[-1].name)
        ),
        has_head=r.head is not None,
        stem_pool=r.stem.pool is not None,
        pool_norm=r.pool_norm,
        hidden=r.hidden is not None,
        stem_endpoint=any(e.module == ("stem_conv" if r.stem.pool else "stem") for e in endpoints),
        pool_endpoint=r.stem.pool is not None and any(e.module == "stem" for e in endpoints),
        feature_stages=code.literal(tuple(e.stage for e in endpoints if e.stage is not None)),
        feature_channels=code.literal(tuple(e.shape[0] for e in endpoints)),
        feature_reductions=code.literal(tuple(e.reduction for e in endpoints)),
        feature_shapes=", ".join(code.shape(e.shape) for e in endpoints),
    )
    return source


def _parameter_names(arch: Architecture) -> str:
    kinds = sorted({stage.kind for stage in arch.resolved.stages})
    parts = [f"{KINDS[k].class_name}: {KINDS[k].parts}." for k in kinds]
    return PARAMETER_NAMES + textwrap.fill("Block parts: " + " ".join(parts), width=96)


def _class_templates(arch: Architecture) -> list[str]:
    """Templates of the classes the network uses, dependencies first, each once."""
    ordered: list[str] = []

    def need(name: str) -> None:
        if name not in ordered:
            ordered.append(name)

    for name in BASE_TEMPLATES:
        need(name)
    if arch.resolved.defaults.norm.kind == "layernorm":
        need("layer_norm.py.j2")
    for kind_name in sorted({stage.kind for stage in arch.resolved.stages}):
        kind = KINDS[kind_name]
        for name in kind.requires:
            need(_template_name(kind_name, name))
        need(_template_name(kind_name, kind.template))
    return ordered


def _template_name(kind: str, name: str) -> str:
    """A plugin's templates come from its own folder first, then specc's (e.g. conv.py.j2)."""
    plugin = plugin_of(kind)
    if plugin is not None and plugin.templates is not None and (plugin.templates / name).is_file():
        return f"plugin:{kind}/{name}"
    return name


def _init_lines(arch: Architecture, ctx: LowerContext) -> list[str]:
    r = arch.resolved
    nodes = arch.graph.nodes
    stem_out = code.shape(arch.shape_of("stem"))
    lines = [f"        # {code.shape(arch.input_shape)} -> {stem_out}"]
    stem_args = _layer_args(r.stem, nodes, arch)
    stem_args[0] = "in_chans"
    lines += code.call(8, "self.stem = ", "ConvNormAct", stem_args)
    if r.stem.pool is not None:
        kernel, stride, padding = r.stem.pool
        pool_args = code.arguments([(None, kernel), (None, stride), ("padding", padding)])
        lines += code.call(8, "self.stem_pool = ", "nn.MaxPool2d", pool_args)
    lines.append("        self.stages = nn.Sequential(")
    previous = arch.shape_of("stem")
    for stage in r.stages:
        out = arch.shape_of(stage.blocks[-1].name)
        plural = "block" if stage.repeats == 1 else "blocks"
        lines.append(
            f"            # stage {stage.index}: {stage.repeats} {plural} {stage.label}, "
            f"{code.shape(previous)} -> {code.shape(out)}"
        )
        lines.append("            nn.Sequential(")
        for block in stage.blocks:
            kind = KINDS[block.kind]
            args = kind.arguments(block, nodes, ctx) + _activation_arg(block.activation, arch)
            lines += code.call(16, "", kind.class_name, code.arguments(args), ",")
        lines.append("            ),")
        previous = out
    lines.append("        )")
    if r.head is not None:
        lines.append(f"        # {code.shape(previous)} -> {code.shape(arch.shape_of('head'))}")
        lines += code.call(8, "self.head = ", "ConvNormAct", _layer_args(r.head, nodes, arch))
    features = arch.shape_of("head" if r.head is not None else r.stages[-1].blocks[-1].name)[0]
    lines.append("        self.pool = nn.AdaptiveAvgPool2d(1)")
    if r.pool_norm:
        lines.append(f"        self.pool_norm = norm_layer({code.literal(features)})")
    if r.hidden is not None:
        width, activation = r.hidden
        linear = f"nn.Linear({code.literal(features)}, {code.literal(width)})"
        lines.append(f"        self.hidden = nn.Sequential({linear}, {ACTIVATIONS[activation]}())")
    return lines


def _layer_args(layer: ResolvedLayer, nodes: Any, arch: Architecture) -> list[str]:
    block = ResolvedBlock(
        kind="conv",
        name=layer.name,
        stage=-1,
        index=0,
        number=-1,
        in_channels=layer.in_channels,
        out_channels=layer.out_channels,
        kernel=layer.kernel,
        stride=layer.stride,
        activation=layer.activation,
        drop_path=0.0,
    )
    args = KINDS["conv"].arguments(block, nodes, LowerContext(arch.resolved.defaults))
    if layer.bias:
        args.append(("bias", True))
    return code.arguments(args + _activation_arg(layer.activation, arch))


def _activation_arg(activation: str, arch: Architecture) -> list[Argument]:
    if activation == arch.resolved.defaults.activation:
        return []
    if activation == "identity":
        return [("act", None)]
    return [("act", Code(ACTIVATIONS[activation]))]


def _safe_file_name(file: str) -> str:
    """The spec's file name for the docstring, only if it cannot break out of it."""
    name = PurePath(file).name
    return name if _SAFE_FILE.fullmatch(name) else "<spec>"


def _rebuild_command(arch: Architecture) -> str:
    r = arch.resolved
    selector = (
        f"--preset {r.selector.preset}" if r.selector.preset else f"--phi {r.selector.phi_text}"
    )
    command = f"specc build {_safe_file_name(r.file)} {selector}"
    if r.overrides:
        count = len(r.overrides)
        command += f" plus {count} --set override{'s' if count > 1 else ''} (see architecture.json)"
    return command
