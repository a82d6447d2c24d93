"""Block kinds defined in YAML: the `blocks:` section of a spec, and its checks.

A spec may define block kinds as small graphs of parts and ops (CSP and C2f stages,
ShuffleNet units, fire modules, dense layers) instead of writing a Python plugin:

    blocks:
      csp_stage:
        params: {depth: {type: depth, default: 1}, expand_ratio: {default: 2.0}}
        widths: {exp: round(out_channels * expand_ratio), half: exp // 2}
        nodes:
          - {name: conv_exp, op: conv, out: exp, kernel: 1}
          - {name: split, op: split, sizes: [half, half], outputs: [xs, xb]}
          - {name: blocks, op: block, kind: bottleneck_unit, in: xb, repeat: depth}
          - {name: cat, op: concat, in: [xs, blocks]}
          - {name: conv_transition, op: conv, out: out_channels, kernel: 1}

A stage then names the kind (`block: csp_stage`) and states its params beside the common
stage fields. The block's input is `x`; each node reads the previous node unless `in:`
names others; the last node (or `output:`) is the block's output.

This module holds the schema (pydantic, strict) and `check_blocks`, which returns every
semantic problem located: unknown or later node references (a cycle), duplicate or
reserved names, nodes never read, expressions naming unknown values, params whose default
has the wrong type, kinds whose class would clash with specc's own classes. Numbers
(widths, shapes) are checked when a block is planned (`specc.blocks.graph`).

Imports pydantic and the language's vocabulary only.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, PlainValidator, WithJsonSchema

from specc.diagnostics import Diagnostic, Location, did_you_mean
from specc.lang.expr import Expr, ExprError, names_of, parse
from specc.lang.types import NAME_PATTERN, StrictModel

ACTIVATION_NAMES = ("relu", "relu6", "silu", "hardswish", "gelu", "leaky_relu", "sigmoid")
ACT_VALUES = (*ACTIVATION_NAMES, "identity", "block")
GATES = ("sigmoid", "hard_sigmoid")

# What each op reads and which of the node fields it takes (besides name, op, in, when).
OPS: dict[str, tuple[str, frozenset[str]]] = {
    "conv": ("one", frozenset({"out", "kernel", "stride", "groups", "act", "bias", "norm"})),
    "act": ("one", frozenset({"fn"})),
    "add": ("many", frozenset()),
    "concat": ("many", frozenset()),
    "split": ("one", frozenset({"sizes", "outputs"})),
    "shuffle": ("one", frozenset({"groups"})),
    "identity": ("one", frozenset()),
    "se": ("one", frozenset({"out", "fn", "gate"})),
    "norm": ("one", frozenset()),
    "maxpool": ("one", frozenset({"kernel", "stride", "padding", "ceil_mode"})),
    "avgpool": ("one", frozenset({"kernel", "stride", "padding", "ceil_mode"})),
    "block": ("one", frozenset({"kind", "out", "stride", "repeat", "with", "collect", "dense"})),
}
OP_DESCRIPTIONS = {
    "conv": "conv, norm, activation (ConvNormAct): out, kernel, stride, groups, act, bias, norm",
    "act": "an activation: fn (the block's activation if unset)",
    "add": "elementwise sum of two or more inputs of one shape (a residual, RepVGG's branches)",
    "concat": "channel concatenation of two or more inputs of one spatial size",
    "split": "the input's channels cut into `sizes` (which must add up to it), named `outputs`",
    "shuffle": "channel shuffle over `groups` (ShuffleNet)",
    "identity": "the input, unchanged (a name for it)",
    "se": "squeeze-excitation (SqueezeExcite): `out` the squeeze width, `fn`, `gate`",
    "norm": "the spec's norm alone (DenseNet's pre-activation layers)",
    "maxpool": "a max pool: kernel, stride (the kernel if unset), padding, ceil_mode",
    "avgpool": "an average pool: kernel, stride (the kernel if unset), padding, ceil_mode",
    "block": "another YAML kind (`kind`), `repeat` times in a chain; `with` sets its params; "
    "`collect: true` concatenates the input and every block's output (C2f)",
}
BASE_NAMES = ("in_channels", "out_channels", "stride", "kernel_size")
INPUT = "x"
# Names a param, width or node may not take: they are the block's numbers, its input, or
# names the generated class's code uses.
RESERVED = frozenset(
    {*BASE_NAMES, INPUT, "self", "act", "torch", "nn", "i", "unit", "norm_layer", "super",
     "collect", "channel_shuffle", "int", "bool", "type"}
)  # fmt: skip
# A node's name is an attribute and a variable of `forward`, never a constructor argument.
RESERVED_NODES = frozenset(
    {INPUT, "self", "torch", "nn", "channel_shuffle", "collect", "dense_chain", *BASE_NAMES}
)
# Class names model.py defines besides the YAML kinds' (specc's parts and built-in kinds).
RESERVED_CLASSES = frozenset(
    {
        "ConvNormAct", "MixedConv2d", "Conv2dSame", "SqueezeExcite", "DropPath", "LayerNorm2d",
        "Activation", "MBConv", "FusedMBConv", "DSConv", "Bottleneck", "BasicBlock",
        "ConvBlock", "ConvNeXtBlock", "ChannelShuffle", "Identity",
    }
)  # fmt: skip
MAX_NODES = 256


def _expression(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number or an expression (a string), got {value!r}")
    return value


ExprText = Annotated[
    int | float | str,
    PlainValidator(_expression),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 200}]}),
]


def _scalar(value: Any) -> Any:
    if not isinstance(value, bool | int | float | str):
        raise ValueError(f"expected a number, true/false or a name, got {value!r}")
    return value


Scalar = Annotated[
    bool | int | float | str,
    PlainValidator(_scalar),
    WithJsonSchema({"type": ["number", "boolean", "string"]}),
]


class Param(StrictModel):
    """A number a stage states for the kind (`block: csp_stage, expand_ratio: 2`)."""

    type: Literal["int", "float", "bool", "width", "depth"] = Field(
        "float",
        description="width: a stated width, scaled by the channel rule; depth: a count scaled "
        "by the depth multiple (the stage keeps its repeats, the inner chain grows)",
    )
    default: Scalar | None = Field(None, description="the value when a stage omits it")
    description: str = Field("", description="what the param means (for readers)")


class Node(StrictModel):
    """One node of a block graph: a part (`conv`, `block`) or an op (`add`, `split`, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    name: str = Field(description="the node's name: its module attribute and variable")
    op: str = Field(description="one of: " + ", ".join(OPS))
    in_: str | list[str] | None = Field(
        None, alias="in", description="the input(s); the previous node (or x) when unset"
    )
    when: ExprText | None = Field(
        None, description="condition; when false the node passes its input through"
    )
    out: ExprText | None = Field(None, description="output width (conv, block)")
    kernel: ExprText | None = Field(None, description="an odd size, or an expression (kernel_size)")
    stride: ExprText | None = Field(None, description="stride (conv, block); 1 if unset")
    groups: ExprText | None = Field(None, description="conv groups; shuffle groups")
    act: str | None = Field(None, description="activation: a name, identity, or block")
    bias: bool | None = Field(None, description="conv bias")
    norm: bool | None = Field(None, description="false: a conv without its norm")
    sizes: list[ExprText] | None = Field(None, description="a split's widths, in order")
    outputs: list[str] | None = Field(None, description="names of a split's parts")
    fn: str | None = Field(None, description="an act node's activation, or an SE's inner one")
    gate: str | None = Field(None, description="an SE's gate: sigmoid or hard_sigmoid")
    padding: Annotated[int, Field(ge=0, le=15)] | None = Field(None, description="a pool's")
    ceil_mode: bool | None = Field(None, description="a pool's output size rounds up")
    dense: bool | None = Field(
        None,
        description="a block node's chain is densely connected (DenseNet): each block reads "
        "the input and every earlier output concatenated; the value is all of them",
    )
    kind: str | None = Field(None, description="the YAML block kind of a `block` node")
    repeat: ExprText | None = Field(
        None, description="blocks in a block node's chain (a depth param grows it)"
    )
    collect: bool | None = Field(
        None,
        description="a block node's value is its input and every chained block's output, "
        "concatenated (C2f, ELAN); else the last block's output",
    )
    with_: dict[str, Scalar] | None = Field(
        None, alias="with", description="params of a block node's kind: numbers or param names"
    )


class GraphBlock(StrictModel):
    """A block kind stated as a graph of parts and ops."""

    description: str = Field("", description="the class docstring in model.py")
    params: dict[str, Param] = Field(
        default_factory=dict, description="numbers a stage states for the kind, by name"
    )
    widths: dict[str, ExprText] = Field(
        default_factory=dict,
        description="named widths: expressions of in_channels, out_channels, params and "
        "earlier widths, rounded explicitly (round, floor, ceil, divisible)",
    )
    nodes: Annotated[list[Node], Field(min_length=1, max_length=MAX_NODES)] = Field(
        description="the graph, inputs first: parts and ops, each reading earlier values"
    )
    output: str | None = Field(None, description="the output node; the last node if unset")
    out: ExprText | None = Field(
        None,
        description="the block's output width when it derives from its input (DenseNet: "
        "in_channels + layers * growth): a width expression; its stages state no channels",
    )


def class_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_") if part)


Locate = Callable[..., Location]


class _Checker:
    def __init__(self, blocks: Mapping[str, GraphBlock], locate: Locate, taken: Iterable[str]):
        self.blocks = blocks
        self.locate = locate
        self.taken = set(taken)
        self.problems: list[Diagnostic] = []

    def error(self, message: str, path: tuple[str | int, ...], hint: str | None = None) -> None:
        dotted = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path)
        self.problems.append(
            Diagnostic(message, self.locate(*path), dotted.replace(".[", "["), hint)
        )

    def run(self) -> list[Diagnostic]:
        for name, block in self.blocks.items():
            self.kind(name, block, ("blocks", name))
        self.recursion()
        return self.problems

    def kind(self, name: str, block: GraphBlock, at: tuple[str | int, ...]) -> None:
        if not NAME_PATTERN.fullmatch(name):
            self.error(f"{name!r} cannot name a block kind: use lowercase letters, digits, _", at)
            return
        if name in self.taken:
            self.error(f"{name!r} is a built-in block kind; name yours otherwise", at)
        cls = class_name(name)
        if cls in RESERVED_CLASSES:
            self.error(f"kind {name!r} would be class {cls}, which model.py already defines", at)
        names: dict[str, str] = {n: "block number" for n in BASE_NAMES}
        for param, spec in block.params.items():
            self.name(param, "param", names, (*at, "params", param))
            self.default(param, spec, (*at, "params", param))
        int_names = {n for n in BASE_NAMES} | {
            p for p, s in block.params.items() if s.type in ("int", "depth", "width", "bool")
        }
        for width, text in block.widths.items():
            path = (*at, "widths", width)
            self.name(width, "width", names, path)
            self.expression(text, path, integer=False, known=set(names) - {width})
            int_names.add(width)
        if block.out is not None:
            known = {"in_channels", "stride", "kernel_size", *block.params}
            self.expression(block.out, (*at, "out"), integer=False, known=known)
        self.nodes(block, at, names, int_names)

    def name(self, name: str, what: str, names: dict[str, str], at: tuple[str | int, ...]) -> None:
        reserved = RESERVED_NODES if what in ("node", "split output") else RESERVED
        if not NAME_PATTERN.fullmatch(name) or keyword.iskeyword(name) or name in reserved:
            self.error(f"{name!r} cannot name a {what} (a reserved name or not an identifier)", at)
        elif name in names:
            self.error(f"{what} {name!r} repeats the name of a {names[name]}", at)
        names[name] = what

    def default(self, name: str, param: Param, at: tuple[str | int, ...]) -> None:
        value = param.default
        if value is None:
            return
        whole = isinstance(value, int) and not isinstance(value, bool)
        ok = {
            "int": whole,
            "depth": whole and 1 <= value <= 10_000,  # type: ignore[operator]
            "width": whole and value >= 1,  # type: ignore[operator]
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
        }[param.type]
        if not ok:
            self.error(
                f"default {value!r} is not a{'n' if param.type == 'int' else ''} "
                f"{_TYPE_WORDS[param.type]}",
                (*at, "default"),
            )

    def expression(
        self, text: Any, at: tuple[str | int, ...], *, integer: bool, known: set[str]
    ) -> Expr | None:
        try:
            expr = parse(text, integer=integer)
        except ExprError as exc:
            self.error(str(exc), at)
            return None
        for unknown in sorted(expr.names - known):
            self.error(f"unknown name {unknown!r}", at, did_you_mean(unknown, sorted(known)))
        return expr

    def nodes(
        self, block: GraphBlock, at: tuple[str | int, ...], names: dict[str, str], ints: set[str]
    ) -> None:
        values: list[str] = [INPUT]  # tensors defined so far, in order
        read: set[str] = set()
        later = _all_values(block)
        errors_before = len(self.problems)
        for index, node in enumerate(block.nodes):
            path = (*at, "nodes", index)
            if node.op not in OPS:
                self.error(
                    f"unknown op {node.op!r}; ops: {', '.join(OPS)}",
                    (*path, "op"),
                    did_you_mean(node.op, list(OPS)),
                )
                values.append(node.name)
                continue
            arity, fields = OPS[node.op]
            for field in _FIELDS:
                if getattr(node, field) is not None and field.rstrip("_") not in fields:
                    shown = field.rstrip("_")
                    self.error(f"`{shown}` is not a field of a {node.op} node", (*path, shown))
            self.name(node.name, "node", names, (*path, "name"))
            inputs = _inputs(node, values[-1])
            if arity == "one" and len(inputs) != 1:
                self.error(f"a {node.op} node reads one input, got {len(inputs)}", (*path, "in"))
            if arity == "many" and len(inputs) < 2:
                self.error(f"a {node.op} node reads two or more inputs", (*path, "in"))
            if len(set(inputs)) != len(inputs):
                self.error("an input is listed twice", (*path, "in"))
            for source in inputs:
                read.add(source)
                if source in values:
                    continue
                if source in later:
                    self.error(
                        f"reads {source!r}, which is defined later: a block graph is written "
                        "in order (inputs first), so this would be a cycle",
                        (*path, "in"),
                    )
                else:
                    self.error(
                        f"unknown node {source!r}", (*path, "in"), did_you_mean(source, values)
                    )
            self.fields(node, path, ints)
            if node.op == "split" and node.outputs is not None:
                for output in node.outputs:
                    self.name(output, "split output", names, (*path, "outputs"))
                values.extend(node.outputs)
            else:
                values.append(node.name)
        output = block.output or values[-1]
        if block.output is not None and block.output not in values:
            self.error(
                f"unknown node {block.output!r}", (*at, "output"), did_you_mean(output, values)
            )
        if len(self.problems) > errors_before:
            return  # "never read" would only repeat what is already reported
        for index, node in enumerate(block.nodes):
            produced = node.outputs if node.op == "split" and node.outputs else [node.name]
            for value in produced:
                if value not in read and value != output:
                    self.error(
                        f"{value!r} is never read and is not the block's output",
                        (*at, "nodes", index, "name"),
                    )

    def fields(self, node: Node, path: tuple[str | int, ...], ints: set[str]) -> None:
        for field in ("out", "kernel", "stride", "groups", "repeat", "when"):
            text = getattr(node, field)
            if text is not None:
                self.expression(text, (*path, field), integer=True, known=ints)
        if node.act is not None and node.act not in ACT_VALUES:
            self.error(
                f"unknown activation {node.act!r}; one of: {', '.join(ACT_VALUES)}",
                (*path, "act"),
                did_you_mean(node.act, ACT_VALUES),
            )
        if node.fn is not None and node.fn not in ACTIVATION_NAMES:
            self.error(
                f"unknown activation {node.fn!r}; one of: {', '.join(ACTIVATION_NAMES)}",
                (*path, "fn"),
                did_you_mean(node.fn, ACTIVATION_NAMES),
            )
        if node.gate is not None and node.gate not in GATES:
            self.error(
                f"unknown gate {node.gate!r}; one of: {', '.join(GATES)}",
                (*path, "gate"),
                did_you_mean(node.gate, GATES),
            )
        if node.op == "se" and node.out is None:
            self.error("an se node needs `out`: its squeeze width", (*path, "op"))
        kernel = node.kernel
        if isinstance(kernel, int) and not (
            1 <= kernel <= 31 and (node.op != "conv" or kernel % 2)
        ):
            self.error(f"kernel must be odd, 1 to 31, got {node.kernel}", (*path, "kernel"))
        if node.op == "split":
            if not node.sizes or len(node.sizes) < 2:
                self.error("a split needs `sizes`: two or more widths", (*path, "sizes"))
            else:
                for i, size in enumerate(node.sizes):
                    self.expression(size, (*path, "sizes", i), integer=True, known=ints)
                if node.outputs is None or len(node.outputs) != len(node.sizes):
                    self.error("`outputs` names each part of the split", (*path, "outputs"))
        if node.op == "shuffle" and node.groups is None:
            self.error("a shuffle needs `groups`", (*path, "op"))
        if node.op in ("maxpool", "avgpool") and node.kernel is None:
            self.error(f"a {node.op} needs `kernel`", (*path, "op"))
        if node.collect and node.dense:
            self.error("a chain collects or is dense, not both", (*path, "dense"))
        if node.op == "conv" and node.kernel is None:
            self.error("a conv needs `kernel`", (*path, "op"))
        if node.op == "block":
            self.inner(node, path)

    def inner(self, node: Node, path: tuple[str | int, ...]) -> None:
        if node.kind is None or node.kind not in self.blocks:
            known = sorted(self.blocks)
            what = "needs `kind`" if node.kind is None else f"names unknown kind {node.kind!r}"
            self.error(f"a block node {what}; YAML kinds: {', '.join(known)}", (*path, "kind"),
                       did_you_mean(node.kind or "", known))  # fmt: skip
            return
        params = self.blocks[node.kind].params
        for key in node.with_ or {}:
            if key not in params:
                self.error(
                    f"kind {node.kind!r} has no param {key!r}",
                    (*path, "with", key),
                    did_you_mean(key, sorted(params)),
                )

    def recursion(self) -> None:
        """A kind that contains itself, directly or through others, never ends."""
        edges = {
            name: {n.kind for n in block.nodes if n.op == "block" and n.kind is not None}
            & set(self.blocks)
            for name, block in self.blocks.items()
        }
        for start in edges:
            stack, seen = [start], set()
            while stack:
                for nxt in edges[stack.pop()]:
                    if nxt == start:
                        self.error(f"kind {start!r} contains itself (a cycle of kinds)",
                                   ("blocks", start))  # fmt: skip
                        stack = []
                        break
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)


_TYPE_WORDS = {
    "int": "integer",
    "depth": "count (an integer from 1 to 10,000)",
    "width": "width (an integer, at least 1)",
    "float": "number",
    "bool": "true or false",
}
_FIELDS = (
    "out", "kernel", "stride", "groups", "act", "bias", "norm", "sizes", "outputs", "fn", "gate",
    "kind", "repeat", "with_", "collect", "padding", "ceil_mode", "dense",
)  # fmt: skip


def _inputs(node: Node, previous: str) -> list[str]:
    if node.in_ is None:
        return [previous]
    return [node.in_] if isinstance(node.in_, str) else list(node.in_)


def _all_values(block: GraphBlock) -> set[str]:
    found = set()
    for node in block.nodes:
        found.add(node.name)
        found.update(node.outputs or [])
    return found


def check_blocks(
    blocks: Mapping[str, GraphBlock], locate: Locate, builtin: Iterable[str]
) -> list[Diagnostic]:
    """Every problem of the spec's YAML block kinds, located (`builtin`: the names the
    built-in and plugin kinds take)."""
    return _Checker(blocks, locate, builtin).run()


def inputs_of(node: Node, previous: str) -> list[str]:
    """The values `node` reads (`previous`: what the node before it produced)."""
    return _inputs(node, previous)


def reads(block: GraphBlock, name: str) -> bool:
    """Whether some width or node field of `block` reads the block number `name`."""
    texts: list[Any] = list(block.widths.values())
    for node in block.nodes:
        texts += [node.out, node.kernel, node.stride, node.groups, node.repeat, node.when]
        texts += node.sizes or []
    return any(name in names_of(text) for text in texts if text is not None)


def check_stage(
    stage: Any, index: int, blocks: Mapping[str, GraphBlock], locate: Locate, known: list[str]
) -> list[Diagnostic]:
    """Problems of stage `index`, whose kind is not built in: the kind must be one of the
    spec's `blocks:`, its params known and of their type, the required ones given, and a
    `stride` or `kernel` it states must be read by the kind (else it would be ignored)."""
    at: tuple[str | int, ...] = ("stages", index)
    problems: list[Diagnostic] = []

    def error(message: str, *path: str | int, hint: str | None = None) -> None:
        full = (*at, *path)
        dotted = f"stages[{index}]" + "".join(f".{p}" for p in path)
        problems.append(Diagnostic(message, locate(*full), dotted, hint))

    block = blocks.get(stage.block)
    if block is None:
        names = sorted({*known, *blocks})
        error(
            f"unknown block kind {stage.block!r}; known kinds: {', '.join(names)}",
            "block",
            hint=did_you_mean(stage.block, names),
        )
        return problems
    if block.out is None and stage.channels is None:
        error(f"kind {stage.block!r} needs `channels` (its output width)", "block")
    if block.out is not None and stage.channels is not None:
        error(
            f"kind {stage.block!r} derives its output width ({block.out}); remove `channels`",
            "channels",
        )
    if block.out is not None and stage.repeats != 1:
        error(f"kind {stage.block!r} derives its output width: one block per stage", "repeats")
    params = stage.params
    for key, value in params.items():
        spec = block.params.get(key)
        if spec is None:
            allowed = sorted([*block.params, *StageFields])
            error(f"unknown key (kind {stage.block!r} has no param {key!r})", key,
                  hint=did_you_mean(key, allowed))  # fmt: skip
            continue
        probe = Param(type=spec.type, default=value)
        sub = _Checker({}, locate, ())
        sub.default(key, probe, ())
        if sub.problems:
            error(sub.problems[0].message.replace("default ", "", 1), key)
    for key, spec in block.params.items():
        if spec.default is None and key not in params:
            error(f"kind {stage.block!r} needs param {key!r}", "block")
    for field, name in (("stride", "stride"), ("kernel", "kernel_size")):
        if field in stage.model_fields_set and not reads(block, name):
            error(
                f"kind {stage.block!r} never reads `{name}`, so this {field} would be ignored",
                field,
                hint=f"use `{name}` in a node of blocks.{stage.block}, or remove it",
            )
    return problems


StageFields = ("block", "kernel", "stride", "channels", "repeats", "activation", "scale_depth",
               "depth_group")  # fmt: skip
