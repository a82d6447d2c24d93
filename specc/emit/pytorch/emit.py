"""PyTorch backend: an Architecture becomes one self-contained, readable `model.py`.

The file holds the block classes the network uses (each once, from its block kind's
template), then the network class whose `__init__` lists every stage with its concrete
numbers, one line per block, with shape comments. Parameter names follow the IR's node
ids (see `_parameter_names`), so IR numbers and module parameters line up by prefix.

Determinism: no timestamps, no absolute paths, no dict-order dependence; the same
Architecture always gives the same bytes. Safety: only validated identifiers and
`literal()`-checked values reach the code (see `specc.emit.pytorch.code`).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import PurePath

from specc import __version__
from specc.blocks.kind import Argument, Code, EmitContext
from specc.blocks.parts.arguments import ACTIVATIONS, activation_argument
from specc.blocks.parts.conv_norm_act import layer_arguments
from specc.blocks.parts.pooling import pool_code
from specc.blocks.plugins import plugin_of
from specc.build.architecture import Architecture, Endpoint
from specc.diagnostics import Diagnostic, Location, SpecError
from specc.emit.pytorch import code
from specc.emit.pytorch.classes import check_call, environment, render_classes
from specc.lang.schema import Defaults

# Module-level names of model.py besides the classes and functions its templates define.
MODULE_NAMES = {
    "Activation", "BN_EPS", "BN_MOMENTUM", "NORM_EPS", "norm_layer", "torch", "nn", "annotations",
    "Callable", "checkpoint",
}  # fmt: skip
_DEFINED = re.compile(r"^(?:class|def) (\w+)", re.MULTILINE)

PARAMETER_NAMES = """\
Parameter names (stable): stem.{conv,bn}.*, stages.<stage>.<block>.<part>.*, head.{conv,bn}.*,
classifier.*; conv-norm-act parts hold conv.weight and bn.{weight,bias,running_mean,running_var}.
"""

_SAFE_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def emit_pytorch(arch: Architecture) -> str:
    """The source of `model.py` for `arch`."""
    r = arch.resolved
    class_name = code.identifier(r.class_name)
    classes, parts = render_classes(arch)
    taken = MODULE_NAMES | {name for source in classes for name in _DEFINED.findall(source)}
    if class_name in taken:
        message = f"class name {class_name!r} clashes with a name model.py defines"
        raise SpecError([Diagnostic(message, Location(r.file), "class_name")])
    endpoints = arch.endpoints()
    init_lines = _init_lines(arch, parts, "\n\n".join(classes))
    blocks = len(r.blocks)
    denominator = r.drop_path_denominator
    source = (
        environment()
        .get_template("model.py.j2")
        .render(
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
            parameter_names=code.comment_lines(_parameter_names(arch)),
            activation=ACTIVATIONS[r.defaults.activation],
            norm_kind=r.defaults.norm.kind,
            norm_title="batch norm" if r.defaults.norm.kind == "batchnorm" else "layer norm",
            bn_eps=code.literal(r.defaults.norm.eps),
            bn_momentum=code.literal(r.defaults.norm.momentum),
            classes=[Code(source) for source in classes],  # the templates' own code
            class_name=class_name,
            init_lines=[Code(line) for line in init_lines],  # built from checked parts
            uses_dpr=any("dpr[" in line for line in init_lines),
            features_shape=code.shape(arch.shape_of("head" if r.head else r.stages[-1].output)),
            has_head=r.head is not None,
            stem_pool=r.stem.pool is not None,
            pool_norm=r.pool_norm,
            tf_init=r.defaults.init == "tf",
            hidden=bool(r.hidden),
            conv_classifier=r.conv_classifier,
            stem_endpoint=any(
                e.module == ("stem_conv" if r.stem.pool else "stem") for e in endpoints
            ),
            pool_endpoint=r.stem.pool is not None and any(e.module == "stem" for e in endpoints),
            feature_stages=code.literal(tuple(e.stage for e in endpoints if e.stage is not None)),
            feature_channels=code.literal(tuple(e.shape[0] for e in endpoints)),
            feature_reductions=code.literal(tuple(e.reduction for e in endpoints)),
            feature_shapes=", ".join(code.shape(e.shape) for e in endpoints),
            feature_channel_list=[e.shape[0] for e in endpoints],
            feature_reduction_list=[e.reduction for e in endpoints],
            feature_modules=[_feature_module(e, r.stem.pool is not None) for e in endpoints],
        )
    )
    return source


def _feature_module(endpoint: Endpoint, stem_pool: bool) -> str:
    """The module whose output is the endpoint (timm's `feature_info[i]["module"]`): a
    stage, the stem (its conv-norm-act) or, after a stem pool, the pool."""
    if endpoint.stage is not None:
        return f"stages.{endpoint.stage}"
    return "stem_pool" if endpoint.module == "stem" and stem_pool else "stem"


def _parameter_names(arch: Architecture) -> str:
    r = arch.resolved
    kinds = sorted({stage.kind for stage in r.stages})
    parts = [f"{r.kind(k).emitter.class_name}: {r.kind(k).emitter.parameters}." for k in kinds]
    return PARAMETER_NAMES + textwrap.fill("Block parts: " + " ".join(parts), width=96)


def _init_lines(arch: Architecture, parts: dict[str, frozenset[str]], module: str) -> list[str]:
    """The network's `__init__` body: the stem, one call per block (each checked against its
    class, `module` being the classes' source), the head and the classifier's layers."""
    r = arch.resolved
    default = r.defaults.activation
    stem_out = code.shape(arch.shape_of("stem"))
    lines = [f"        # {code.shape(arch.input_shape)} -> {stem_out}"]
    convs = r.stem.convs()
    stem_calls = [code.arguments(layer_arguments(c, EmitContext(r.defaults))) for c in convs]
    stem_calls[0][0] = "in_chans"
    if r.stem_block is not None:  # a YAML kind as the stem (RepVGG)
        plan = r.stem_block
        emitter = r.kind(plan.kind).emitter
        ctx = EmitContext(r.defaults, parts[plan.kind])
        args = emitter.arguments(plan, ctx) + activation_argument(plan.activation, default)
        _block_call(module, plan.kind, emitter.class_name, args)  # checks the call
        stem_args = code.arguments(args)
        stem_args[0] = "in_chans"
        lines += code.call(8, "self.stem = ", emitter.class_name, stem_args)
    elif r.stem.deep:  # a deep stem: stem.0, stem.1, ...
        lines.append("        self.stem = nn.Sequential(")
        for call in stem_calls:
            lines += code.call(12, "", "ConvNormAct", call, ",")
        lines.append("        )")
    else:
        lines += code.call(8, "self.stem = ", "ConvNormAct", stem_calls[0])
    if r.stem.pool is not None:
        lines.append(f"        self.stem_pool = {pool_code(r.stem.pool).text}")
    lines.append("        self.stages = nn.Sequential(")
    previous = arch.shape_of("stem")
    for stage in r.stages:
        out = arch.shape_of(stage.output)
        plural = "block" if stage.repeats == 1 else "blocks"
        label = code.comment(f"stage {stage.index}: {stage.repeats} {plural} {stage.label}, ")
        lines.append(f"            # {label}{code.shape(previous)} -> {code.shape(out)}")
        lines.append("            nn.Sequential(")
        emitter = r.kind(stage.kind).emitter
        ctx = EmitContext(r.defaults, parts[stage.kind])
        for plan in stage.blocks:
            args = emitter.arguments(plan, ctx) + activation_argument(plan.activation, default)
            lines += _block_call(module, stage.kind, emitter.class_name, args)
        if stage.pool is not None:
            lines.append(f"                {pool_code(stage.pool).text},")
        lines.append("            ),")
        previous = out
    lines.append("        )")
    if r.head is not None:
        head_args = code.arguments(layer_arguments(r.head, EmitContext(r.defaults)))
        lines.append(f"        # {code.shape(previous)} -> {code.shape(arch.shape_of('head'))}")
        lines += code.call(8, "self.head = ", "ConvNormAct", head_args)
    features = arch.shape_of("head" if r.head is not None else r.stages[-1].output)[0]
    lines.append(f"        self.pool = nn.AdaptiveAvgPool2d({code.literal(r.pool_size)})")
    if r.pool_norm:
        # the spec's norm by name: inside __init__, `norm_layer` is timm's argument
        norm = "nn.BatchNorm2d" if r.defaults.norm.kind == "batchnorm" else "LayerNorm2d"
        eps = "eps=BN_EPS, momentum=BN_MOMENTUM" if norm == "nn.BatchNorm2d" else "eps=NORM_EPS"
        lines.append(f"        self.pool_norm = {norm}({code.literal(features)}, {eps})")
    if r.hidden:
        layers, width = [], features * r.pool_size**2
        for layer in r.hidden:
            bias = "" if layer.bias else ", bias=False"
            layers.append(f"nn.Linear({code.literal(width)}, {code.literal(layer.width)}{bias})")
            if layer.norm:
                layers.append(_flat_norm(layer.width, r.defaults))
            layers.append(f"{ACTIVATIONS[layer.activation]}()")
            if layer.dropout:
                layers.append(f"nn.Dropout({code.literal(layer.dropout)})")
            width = layer.width
        lines += code.call(8, "self.hidden = ", "nn.Sequential", layers)
    return lines


def _flat_norm(channels: int, defaults: Defaults) -> str:
    """The spec's norm over flat features (N, C): a hidden layer's head norm."""
    norm, width = defaults.norm, code.literal(channels)
    if norm.kind == "layernorm":
        return f"nn.LayerNorm({width}, eps={code.literal(norm.eps)})"
    eps, momentum = code.literal(norm.eps), code.literal(norm.momentum)
    return f"nn.BatchNorm1d({width}, eps={eps}, momentum={momentum})"


def _block_call(module: str, kind: str, class_name: str, args: list[Argument]) -> list[str]:
    """The lines of one block's constructor call. A call its class does not take, a class
    name that is not an identifier or an argument that is not a literal (a plugin's
    mistake, or worse) is a SpecError naming who wrote the kind."""
    try:
        check_call(module, code.identifier(class_name), args)
        return code.call(16, "", class_name, code.arguments(args), ",")
    except (ValueError, TypeError) as error:
        plugin = plugin_of(kind)
        where = str(plugin) if plugin is not None else "specc (a bug: please report it)"
        message = f"block kind {kind!r}: {error}: its arguments and its template disagree"
        raise SpecError([Diagnostic(message, Location(where))]) from None


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
