"""How model.py writes a YAML-defined block kind (`specc.lang.graphs`): one class, whose
`__init__` builds one module per node that has weights or state and whose `forward` is one
statement per node, each with its output's shape as a comment (channels as the class
computes them; H and W the block's input size).

The class takes `in_channels`, `out_channels`, the block numbers, widths and params its
nodes read (keyword-only; specc computes the widths by the spec's rules and passes the
integers) and `act`, the block's activation class. Node fields are integer expressions,
written into the class as the same Python expressions over those names. Only validated
identifiers and integers reach the code (`specc.lang.expr` admits nothing else).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from specc.blocks.graph.plan import class_arguments
from specc.blocks.parts.arguments import ACTIVATIONS, GATES
from specc.emit.pytorch.code import call, comment
from specc.lang.expr import parse
from specc.lang.graphs import INPUT, GraphBlock, Node, class_name, inputs_of

LINE = 100
MODULE_OPS = ("conv", "block", "se", "norm", "maxpool", "avgpool")  # `when` -> nn.Identity


def _py(raw: object) -> str:
    return parse(raw, integer=True).python()


def _paren(text: str) -> str:
    return text if text.isidentifier() or text.isdigit() else f"({text})"


@dataclass
class _Writer:
    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=dict)  # value -> channel expression
    spatial: dict[str, str] = field(default_factory=dict)  # value -> divisor expression
    guard: tuple[str, str] | None = None  # (flag, fallback) of the next statement (`when`)

    def call(self, indent: int, head: str, func: str, args: list[str]) -> None:
        self.init += call(indent, head, func, args)


def render_class(kind: str, blocks: Mapping[str, GraphBlock]) -> str:
    """The source of kind `kind`'s class."""
    block = blocks[kind]
    name = class_name(kind)
    w = _Writer()
    w.channels[INPUT], w.spatial[INPUT] = "in_channels", ""
    previous = INPUT
    for node in block.nodes:
        sources = inputs_of(node, previous)
        _node(w, node, sources, blocks)
        previous = node.outputs[-1] if node.op == "split" and node.outputs else node.name
    output = block.output or previous
    doc = block.description.strip() or f"Block kind `{kind}`, defined in the spec's `blocks:`."
    lines = [f"class {name}(nn.Module):", f'    """{comment(doc)}"""', ""]
    lines += _signature(block, blocks)
    lines += ["        super().__init__()", *w.init, ""]
    lines += ["    def forward(self, x: torch.Tensor) -> torch.Tensor:", *w.forward]
    lines.append(f"        return {output}")
    return "\n".join(lines)


def _signature(block: GraphBlock, blocks: Mapping[str, GraphBlock]) -> list[str]:
    args = ["self", "in_channels: int", "out_channels: int"]
    names = class_arguments(block, blocks)
    if names:
        args.append("*")
    for name in names:
        default = " = 1" if name == "stride" else ""
        kind = "bool" if _is_bool(block, name, blocks) else "int"
        args.append(f"{name}: {kind}{default}")
    args.append("act: type[nn.Module] = Activation")
    one = f"    def __init__({', '.join(args)}) -> None:"
    if len(one) <= LINE:
        return [one]
    hugged = "        " + ", ".join(args)
    if len(hugged) <= LINE and "*" not in args:
        return ["    def __init__(", hugged, "    ) -> None:"]
    return ["    def __init__(", *(f"        {a}," for a in args), "    ) -> None:"]


def _is_bool(block: GraphBlock, name: str, blocks: Mapping[str, GraphBlock]) -> bool:
    """Whether the class argument `name` is a bool param (`<node>_<name>`: an inner one)."""
    param = block.params.get(name)
    if param is not None:
        return param.type == "bool"
    for node in block.nodes:
        prefix = f"{node.name}_"
        inner = blocks.get(node.kind or "") if node.op == "block" else None
        if inner is not None and name.startswith(prefix):
            return _is_bool(inner, name.removeprefix(prefix), blocks)
    return False


def _shape_comment(w: _Writer, value: str) -> str:
    divisor = w.spatial[value]
    size = f"H / {_paren(divisor)}, W / {_paren(divisor)}" if divisor else "H, W"
    return f"  # ({w.channels[value]}, {size})"


def _statement(w: _Writer, target: str, expression: str) -> None:
    if w.guard is not None:
        flag, fallback = w.guard
        expression = f"{expression} if {flag} else {fallback}"
        w.guard = None
    text = f"        {target} = {expression}"
    comment = _shape_comment(w, target.split(",")[-1].strip())
    if len(text + comment) <= LINE:
        w.forward.append(text + comment)
    else:
        w.forward.append(f"        {comment.strip()}")
        w.forward.append(text)


def _node(w: _Writer, node: Node, sources: list[str], blocks: Mapping[str, GraphBlock]) -> None:
    first = sources[0]
    name = node.name
    w.channels[name], w.spatial[name] = w.channels[first], w.spatial[first]
    if node.when is not None and node.op not in MODULE_OPS:
        # An op without a module: a flag says whether it acts or passes its input on.
        w.init.append(f"        self.{name}_on = bool({_py(node.when)})")
        w.guard = (f"self.{name}_on", first)
    match node.op:
        case "identity":
            _statement(w, name, first)
        case "act":
            cls = ACTIVATIONS[node.fn] if node.fn else "act"
            w.init.append(f"        self.{name} = {cls}()")
            _statement(w, name, f"self.{name}({first})")
        case "add":
            _statement(w, name, " + ".join(sources))
        case "concat":
            w.channels[name] = " + ".join(_paren(w.channels[s]) for s in sources)
            _statement(w, name, f"torch.cat([{', '.join(sources)}], dim=1)")
        case "norm":
            indent = _when(w, node, 8)
            w.init.append(f"{' ' * indent}self.{name} = norm_layer({w.channels[first]})")
            _statement(w, name, f"self.{name}({first})")
        case "maxpool" | "avgpool":
            kernel = _py(node.kernel)
            stride = _py(node.stride) if node.stride is not None else kernel
            args = [kernel, stride]
            if node.padding:
                args.append(f"padding={int(node.padding)}")
            if node.ceil_mode:
                args.append("ceil_mode=True")
            if stride != "1":
                base = w.spatial[first]
                w.spatial[name] = f"{_paren(base)} * {_paren(stride)}" if base else stride
            indent = _when(w, node, 8)
            cls = "nn.MaxPool2d" if node.op == "maxpool" else "nn.AvgPool2d"
            w.call(indent, f"self.{name} = ", cls, args)
            _statement(w, name, f"self.{name}({first})")
        case "se":
            inner = ACTIVATIONS[node.fn] if node.fn else "act"
            gate = GATES[node.gate or "sigmoid"]
            indent = _when(w, node, 8)
            w.call(
                indent,
                f"self.{name} = ",
                "SqueezeExcite",
                [w.channels[first], _py(node.out), inner, gate],
            )
            _statement(w, name, f"self.{name}({first})")
        case "shuffle":
            groups = _py(node.groups)
            if not groups.isdigit():
                w.init.append(f"        self.{name}_groups = {groups}")
                groups = f"self.{name}_groups"
            _statement(w, name, f"channel_shuffle({first}, {groups})")
        case "split":
            assert node.outputs is not None and node.sizes is not None
            sizes = [_py(s) for s in node.sizes]
            w.init.append(f"        self.{name}_sizes = [{', '.join(sizes)}]")
            for output, size in zip(node.outputs, sizes, strict=True):
                w.channels[output], w.spatial[output] = size, w.spatial[first]
            targets = ", ".join(node.outputs)
            _statement(w, targets, f"{first}.split(self.{name}_sizes, dim=1)")
        case "conv":
            _conv(w, node, first)
        case "block":
            _block(w, node, first, blocks)


def _stride(w: _Writer, node: Node, first: str) -> str:
    stride = _py(node.stride) if node.stride is not None else "1"
    if stride != "1":
        base = w.spatial[first]
        w.spatial[node.name] = f"{_paren(base)} * {_paren(stride)}" if base else stride
    return stride


def _when(w: _Writer, node: Node, indent: int) -> int:
    if node.when is None:
        return indent
    w.init.append(f"        self.{node.name} = nn.Identity()")
    w.init.append(f"        if {_py(node.when)}:")
    return indent + 4


def _conv(w: _Writer, node: Node, first: str) -> None:
    width = _py(node.out) if node.out is not None else w.channels[first]
    stride = _stride(w, node, first)
    w.channels[node.name] = width
    args = [w.channels[first], width, _py(node.kernel)]
    if stride != "1":
        args.append(stride)
    if node.groups is not None:
        args.append(f"groups={_py(node.groups)}")
    if node.bias:
        args.append("bias=True")
    if node.norm is False:
        args.append("norm=False")
    if node.act == "identity":
        args.append("act=None")
    elif node.act in (None, "block"):
        args.append("act=act")
    else:
        args.append(f"act={ACTIVATIONS[node.act]}")
    indent = _when(w, node, 8)
    w.call(indent, f"self.{node.name} = ", "ConvNormAct", args)
    _statement(w, node.name, f"self.{node.name}({first})")


def _block(w: _Writer, node: Node, first: str, blocks: Mapping[str, GraphBlock]) -> None:
    assert node.kind is not None
    inner = blocks[node.kind]
    width = _py(node.out) if node.out is not None else w.channels[first]
    stride = _stride(w, node, first)
    w.channels[node.name] = width
    cls = class_name(node.kind)
    args: list[str] = []
    inner_names = class_arguments(inner, blocks)
    keywords = [f"{n}={node.name}_{n}" for n in inner_names if n != "stride"]
    if node.repeat is None:
        args = [w.channels[first], width]
        if "stride" in inner_names and stride != "1":
            args.append(f"stride={stride}")
        indent = _when(w, node, 8)
        w.call(indent, f"self.{node.name} = ", cls, [*args, *keywords, "act=act"])
    else:
        same = w.channels[first] == width and not node.dense
        first_in = w.channels[first] if same else f"{w.channels[first]} if i == 0 else {width}"
        if node.dense:
            first_in = f"{w.channels[first]} + i * {_paren(width)}"
        args = [first_in, width]
        if "stride" in inner_names and stride != "1":
            args.append(f"stride={stride} if i == 0 else 1")
        indent = _when(w, node, 8)
        pad = " " * indent
        w.init.append(f"{pad}self.{node.name} = nn.Sequential()")
        loop = "i" if any(re.search(r"\bi\b", arg) for arg in args) else "_"
        w.init.append(f"{pad}for {loop} in range({_py(node.repeat)}):")
        w.call(indent + 4, "unit = ", cls, [*args, *keywords, "act=act"])
        w.init.append(f"{pad}    self.{node.name}.append(unit)")
    if node.dense:
        count = _py(node.repeat or 1)
        w.channels[node.name] = f"{_paren(w.channels[first])} + {count} * {_paren(width)}"
        _statement(w, node.name, f"dense_chain(self.{node.name}, {first})")
        return
    if node.collect:
        w.channels[node.name] = (
            f"{_paren(w.channels[first])} + {_py(node.repeat or 1)} * {_paren(width)}"
        )
        _statement(w, node.name, f"collect(self.{node.name}, {first})")
        return
    _statement(w, node.name, f"self.{node.name}({first})")


CHANNEL_SHUFFLE = '''def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: (N, g * c, H, W) -> channels interleaved by group."""
    batch, channels, height, width = x.shape
    x = x.view(batch, groups, channels // groups, height, width)
    return x.transpose(1, 2).contiguous().view(batch, channels, height, width)'''


COLLECT = '''def collect(chain: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """`x` and the output of every block of `chain`, each block reading the previous one's
    output, concatenated along the channels (C2f)."""
    outputs = [x]
    for block in chain:
        outputs.append(block(outputs[-1]))
    return torch.cat(outputs, dim=1)'''


DENSE_CHAIN = '''def dense_chain(chain: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """DenseNet's dense connectivity: each block of `chain` reads `x` and every earlier
    block's output, concatenated; returns all of them concatenated along the channels."""
    features = [x]
    for block in chain:
        features.append(block(torch.cat(features, dim=1)))
    return torch.cat(features, dim=1)'''
