"""The classes of model.py: the parts' classes and each block kind's class, each written
once, only where some block uses it, and the check that every generated call fits its class.

A part's class (`SqueezeExcite`, `DropPath`, `LayerNorm2d`, `GlobalResponseNorm`) is written
when some block uses the part (`BlockEmitter.parts`) or, for the layer norm, when the spec's
norm is one. A kind's template is rendered with the switches of its own blocks:

    same_padding   TF 'same' padding (`defaults.padding: same`)
    mixed_kernels  some conv of the network is a MixConv (a kernel list, split 1x1s)
    se             some block of this kind has a squeeze-excitation
    residual       some block of this kind has a residual (drop path, skip)
    <part>         some block of this kind uses the part: every name of `PARTS`
                   (`squeeze_excite`, `drop_path`, `layer_norm`, `grn`, `avg_down`)

so a network without SE blocks carries no SE code and passes no SE arguments.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from specc.blocks.kind import PARTS, BlockPlan
from specc.blocks.registry import KINDS, PART_TEMPLATES, template_folder
from specc.build.architecture import Architecture
from specc.emit.pytorch import code
from specc.emit.pytorch.graphs import CHANNEL_SHUFFLE, COLLECT, DENSE_CHAIN, render_class
from specc.ir.nodes import MixConv, Shuffle
from specc.lang.graphs import GraphBlock

TEMPLATES = Path(__file__).parent / "templates"  # model.py.j2
# Part classes in the order model.py defines them (each after what it needs).
PART_ORDER = ("layer_norm", "grn", "squeeze_excite", "drop_path")


@cache
def environment() -> jinja2.Environment:
    """The backend's templates and the parts' by name; a kind's as `kind:<name>/<file>`."""
    kinds = {f"kind:{name}": jinja2.FileSystemLoader(str(template_folder(name))) for name in KINDS}
    builtin = jinja2.FileSystemLoader([str(TEMPLATES), str(PART_TEMPLATES)])
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader([builtin, jinja2.PrefixLoader(kinds, delimiter="/")]),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=code.template_value,  # the one sanitiser of every value a template writes
    )


def switches(arch: Architecture) -> dict[str, bool]:
    """The network-wide template switches."""
    mixed = any(isinstance(data["op"], MixConv) for _, data in arch.graph.nodes(data=True))
    return {"mixed_kernels": mixed, "same_padding": arch.resolved.defaults.padding == "same"}


def kind_parts(arch: Architecture) -> dict[str, frozenset[str]]:
    """The parts each kind's blocks use, by kind (in name order)."""
    by_kind: dict[str, list[BlockPlan]] = {}
    if arch.resolved.stem_block is not None:
        by_kind[arch.resolved.stem_block.kind] = [arch.resolved.stem_block]
    for stage in arch.resolved.stages:
        by_kind.setdefault(stage.kind, []).extend(stage.blocks)
    return {
        kind: frozenset().union(*(arch.resolved.kind(kind).emitter.parts(plan) for plan in plans))
        for kind, plans in sorted(by_kind.items())
    }


def render_classes(arch: Architecture) -> tuple[list[str], dict[str, frozenset[str]]]:
    """(every class source in order, the parts each kind's class was written with):
    ConvNormAct (the stem's and the head's), the parts' classes some block uses, then each
    kind's class."""
    env, network = environment(), switches(arch)
    parts_by_kind = kind_parts(arch)
    used = frozenset().union(*parts_by_kind.values())
    if arch.resolved.defaults.norm.kind == "layernorm":
        used |= {"layer_norm"}
    sources = [_render(env, "conv.py.j2", network)]
    sources += [_render(env, f"{part}.py.j2", network) for part in PART_ORDER if part in used]
    graphs = arch.resolved.graph_blocks
    if any(isinstance(data["op"], Shuffle) for _, data in arch.graph.nodes(data=True)):
        sources.append(CHANNEL_SHUFFLE)
    written: set[str] = set()
    yaml_kinds = [
        k for kind in parts_by_kind if kind in graphs for k in _inner_first(kind, graphs, set())
    ]
    nodes = [node for kind in yaml_kinds for node in graphs[kind].nodes]
    if any(node.collect for node in nodes):
        sources.append(COLLECT)
    if any(node.dense for node in nodes):
        sources.append(DENSE_CHAIN)
    for kind, parts in parts_by_kind.items():
        if kind in graphs:
            sources += [render_class(k, graphs) for k in _inner_first(kind, graphs, written)]
            continue
        context = {
            **network,
            **{part: part in parts for part in sorted(PARTS)},
            "se": "squeeze_excite" in parts,
            "residual": "drop_path" in parts,
        }
        template = arch.resolved.kind(kind).emitter.template
        sources.append(_render(env, f"kind:{kind}/{template}", context))
    return sources, parts_by_kind


def _inner_first(kind: str, graphs: Mapping[str, GraphBlock], written: set[str]) -> list[str]:
    """`kind` and the YAML kinds its block nodes use, each before its user, each once."""
    order: list[str] = []
    for node in graphs[kind].nodes:
        if node.op == "block" and node.kind is not None and node.kind not in written:
            order += _inner_first(node.kind, graphs, written)
    if kind not in written:
        written.add(kind)
        order.append(kind)
    return order


def _render(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    return env.get_template(name).render(**context).rstrip()


def check_call(module: str, class_name: str, arguments: Sequence[tuple[str | None, Any]]) -> None:
    """Raise ValueError when the generated `class_name(...)` call passes a keyword the class
    does not take, or more positional arguments than it has (`module`: the classes' source).
    A kind whose arguments and template disagree (a bug of specc or of a plugin) so fails at
    build time, not when the user instantiates model.py."""
    accepted, capacity = _signature(module, class_name)
    unknown = [key for key, _ in arguments if key is not None and key not in accepted]
    count = sum(1 for key, _ in arguments if key is None)
    if unknown or count > capacity:
        what = f"keyword(s) {', '.join(unknown)}" if unknown else f"{count} positional arguments"
        raise ValueError(f"the generated {class_name}(...) call passes {what} it does not take")


@cache
def _signature(module: str, class_name: str) -> tuple[frozenset[str], int]:
    """(parameter names, positional capacity) of `class_name.__init__` in `module`; a class
    without its own __init__ takes its first base's (ConvBlock without a residual is a
    ConvNormAct)."""
    classes = {node.name: node for node in ast.parse(module).body if isinstance(node, ast.ClassDef)}
    node = classes.get(class_name)
    while node is not None:
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                args = item.args
                positional = [a.arg for a in args.posonlyargs + args.args][1:]
                return frozenset(positional + [a.arg for a in args.kwonlyargs]), len(positional)
        base = node.bases[0] if node.bases else None
        node = classes.get(base.id) if isinstance(base, ast.Name) else None
    raise ValueError(f"model.py defines no class {class_name} with an __init__")
