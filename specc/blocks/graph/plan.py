"""One block of a YAML-defined kind: its numbers, each decided once.

A `GraphPlan` holds the values the block's expressions read (`in_channels`,
`out_channels`, `stride`, `kernel_size`, the params as the stage states them, depth params
scaled by the depth multiple, the named widths evaluated under the spec's arithmetic),
which nodes are active (`when`), and the plans of the blocks its `block` nodes chain.

Planning walks the graph once with channel counts and spatial reductions, so that the
numbers a user can get wrong are reported here, located at the node field in `blocks:`:
a width that is not a positive whole number, a division by zero, a split whose sizes do
not add up to its input, an add or concat whose inputs do not fit, a node that is left
out (`when` false) but would change the width.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from specc.blocks.kind import BlockPlan
from specc.diagnostics import Diagnostic, Location, SpecError
from specc.lang.expr import Expr, ExprError, Value, evaluate, parse
from specc.lang.graphs import INPUT, GraphBlock, Node, inputs_of
from specc.scaling.arith import settle, text

Locate = Callable[..., Location]
At = tuple[str | int, ...]  # a path into the spec
MAX_INNER = 10_000  # blocks one chain may repeat


@dataclass(frozen=True, kw_only=True)
class GraphPlan(BlockPlan):
    definition: str  # the kind's name under `blocks:`
    values: tuple[tuple[str, Value], ...]  # every name the expressions read
    active: tuple[bool, ...]  # per node: false where `when` leaves it out
    inner: tuple[tuple[int, tuple[GraphPlan, ...]], ...] = ()  # block nodes' chained plans
    arguments: tuple[tuple[str, int | bool], ...] = field(default=())  # the class's keywords

    def env(self) -> dict[str, Value]:
        return dict(self.values)

    def chain(self, index: int) -> tuple[GraphPlan, ...]:
        return dict(self.inner)[index]


Chain = tuple[int, tuple[GraphPlan, ...]]  # a block node's index and its chained plans


@dataclass(frozen=True)
class Planner:
    """Plans blocks of the spec's YAML kinds under one build's rules."""

    blocks: Mapping[str, GraphBlock]
    locate: Locate
    arithmetic: str  # "float" | "decimal"
    divisible: Callable[[Value], int]  # the channel rule without the multiplier
    scale_depth: Callable[[int], int]  # a depth param under the depth multiple
    round_width: Callable[[int], int]  # a stated width under the width multiple

    def plan(
        self,
        kind: str,
        site: BlockPlan,
        params: Mapping[str, Any],
        resolved: frozenset[str] = frozenset(),
    ) -> GraphPlan:
        """Plan one block of `kind` at `site` with the stage's (or the outer block's)
        `params`; depth params are scaled, except those `resolved` by an outer block."""
        block = self.blocks[kind]
        at = ("blocks", kind)
        env: dict[str, Value] = {
            "in_channels": site.in_channels,
            "out_channels": site.out_channels,
            "stride": site.stride,
            "kernel_size": site.kernel if isinstance(site.kernel, int) else site.kernel[0],
        }
        for key, param in block.params.items():
            value = params.get(key, param.default)
            assert isinstance(value, int | float)  # types are checked when the spec loads
            if param.type == "width" and key not in resolved:
                value = self.round_width(int(value))
            if param.type == "depth" and key not in resolved:
                value = self.scale_depth(int(value))
                if value > MAX_INNER:
                    message = f"depth {key} scales to {value:,} blocks, over {MAX_INNER:,}"
                    raise _error(message, self.locate, (*at, "params", key))
            env[key] = value
        for key, raw in block.widths.items():
            env[key] = self._width(parse(raw, integer=False), env, (*at, "widths", key), key)
        active, inner = self._walk(kind, block, env, site)
        plan = GraphPlan.of(
            site,
            definition=kind,
            values=tuple(env.items()),
            active=tuple(active),
            inner=tuple(inner),
        )
        return _with_arguments(plan, self.blocks, self.locate)

    def _width(self, expr: Expr, env: dict[str, Value], at: At, key: str) -> int:
        def compute(mode: str) -> Value:
            try:
                return evaluate(expr, env, exact=mode == "decimal", divisible=self.divisible)
            except ExprError as exc:
                raise _error(str(exc), self.locate, at) from None

        value = settle(compute, self.arithmetic, "channels",  # type: ignore[arg-type]
                       f"width {key} = {expr.text} ({_env_text(env, expr)})")  # fmt: skip
        return _whole(value, f"width {key} = {expr.text}", self.locate, at, env, expr)

    def _walk(
        self, kind: str, block: GraphBlock, env: dict[str, Value], site: BlockPlan
    ) -> tuple[list[bool], list[tuple[int, tuple[GraphPlan, ...]]]]:
        at = ("blocks", kind, "nodes")
        # value name -> (channels, reduction)
        shapes: dict[str, tuple[int, int]] = {INPUT: (site.in_channels, 1)}
        previous = INPUT
        active: list[bool] = []
        inner: list[tuple[int, tuple[GraphPlan, ...]]] = []
        for index, node in enumerate(block.nodes):
            path = (*at, index)
            sources = inputs_of(node, previous)
            ins = [shapes[s] for s in sources]
            on = True
            if node.when is not None:
                on = bool(self._int(node.when, env, (*path, "when"), allow_bool=True))
            active.append(on)
            out = self._node(node, ins, env, path, on, site, inner, index, kind)
            if node.op == "split" and node.outputs is not None:
                sizes = [
                    self._int(s, env, (*path, "sizes", i)) for i, s in enumerate(node.sizes or [])
                ]
                if on:
                    if sum(sizes) != ins[0][0]:
                        terms = " + ".join(map(str, sizes))
                        message = (
                            f"split sizes {terms} = {sum(sizes)} do not cover its input's "
                            f"{ins[0][0]} channels"
                        )
                        raise _error(message, self.locate, (*path, "sizes"))
                    for output, size in zip(node.outputs, sizes, strict=True):
                        shapes[output] = (size, ins[0][1])
                previous = node.outputs[-1]
            else:
                shapes[node.name] = out
                previous = node.name
        width = shapes[block.output or previous][0]
        if width != site.out_channels:
            where = ("blocks", kind, "output") if block.output else (*at, len(block.nodes) - 1)
            raise _error(
                f"the block's output has {width} channels, but its output width is "
                f"{site.out_channels} (the stage's `channels`, or the kind's `out`)",
                self.locate, where,
            )  # fmt: skip
        return active, inner

    def _node(
        self, node: Node, ins: list[tuple[int, int]], env: dict[str, Value], path: At,
        on: bool, site: BlockPlan, inner: list[Chain], index: int, kind: str,
    ) -> tuple[int, int]:  # fmt: skip
        first = ins[0]
        if node.op in ("add", "concat") and on:
            if node.op == "add" and any(shape != first for shape in ins):
                raise _error(f"add of inputs of different shapes: {_shapes(ins)}",
                             self.locate, (*path, "in"))  # fmt: skip
            if node.op == "concat" and any(s[1] != first[1] for s in ins):
                raise _error(f"concat of inputs of different sizes: {_shapes(ins)}",
                             self.locate, (*path, "in"))  # fmt: skip
        if node.op == "concat":
            return (sum(c for c, _ in ins), first[1]) if on else first
        if node.op in ("conv", "block"):
            width = first[0]
            if node.out is not None:
                width = self._int(node.out, env, (*path, "out"))
            stride = 1 if node.stride is None else self._int(node.stride, env, (*path, "stride"))
            if stride < 1:
                raise _error(f"stride must be at least 1, got {stride}", self.locate,
                             (*path, "stride"))  # fmt: skip
            if node.kernel is not None and node.op == "conv":
                kernel = self._int(node.kernel, env, (*path, "kernel"))
                if kernel % 2 == 0 or kernel > 31:
                    raise _error(f"kernel {kernel} must be odd and at most 31", self.locate,
                                 (*path, "kernel"))  # fmt: skip
            if node.groups is not None and node.op == "conv":
                groups = self._int(node.groups, env, (*path, "groups"))
                if groups < 1 or first[0] % groups or width % groups:
                    raise _error(f"{groups} groups do not divide {first[0]} in / {width} out "
                                 "channels", self.locate, (*path, "groups"))  # fmt: skip
            if not on:
                if (width, stride) != (first[0], 1):
                    raise _error(
                        f"`when` leaves this node out, but it changes the width {first[0]} -> "
                        f"{width} or the stride ({stride}): a node left out passes its input "
                        "through unchanged", self.locate, (*path, "when"),
                    )  # fmt: skip
                return first
            if node.op == "block":
                chain = self._chain(node, first[0], width, stride, env, site, path)
                inner.append((index, chain))
                if node.dense:
                    return (first[0] + width * len(chain), first[1] * stride)
                if node.collect:
                    if stride != 1:
                        raise _error("a collecting chain keeps the size: its stride must be 1",
                                     self.locate, (*path, "stride"))  # fmt: skip
                    return (first[0] + width * len(chain), first[1])
            return (width, first[1] * stride)
        if node.op in ("maxpool", "avgpool"):
            size = self._int(node.kernel, env, (*path, "kernel"))
            step = size if node.stride is None else self._int(node.stride, env, (*path, "stride"))
            if 2 * (node.padding or 0) > size:
                raise _error(f"padding {node.padding} is over half the kernel {size}",
                             self.locate, (*path, "padding"))  # fmt: skip
            return (first[0], first[1] * step) if on else first
        if node.op == "se" and on:
            self._int(node.out, env, (*path, "out"))  # a positive whole number
        if node.op == "shuffle" and on:
            groups = self._int(node.groups, env, (*path, "groups"))
            if groups < 1 or first[0] % groups:
                raise _error(f"{groups} shuffle groups do not divide {first[0]} channels",
                             self.locate, (*path, "groups"))  # fmt: skip
        return first

    def _chain(
        self, node: Node, width_in: int, width_out: int, stride: int, env: dict[str, Value],
        site: BlockPlan, path: At,
    ) -> tuple[GraphPlan, ...]:  # fmt: skip
        count = 1 if node.repeat is None else self._int(node.repeat, env, (*path, "repeat"))
        if not 0 <= count <= MAX_INNER:
            raise _error(f"repeat {count} is outside 0..{MAX_INNER}", self.locate,
                         (*path, "repeat"))  # fmt: skip
        assert node.kind is not None
        given = (node.with_ or {}).items()
        params = {k: env[v] if isinstance(v, str) else v for k, v in given}
        resolved = frozenset(k for k, v in given if isinstance(v, str))  # scaled already
        plans = []
        for i in range(count):
            name = f"{site.name}.{node.name}" + (f".{i}" if node.repeat is not None else "")
            inner_site = BlockPlan(
                kind=site.kind, name=name, stage=site.stage, index=site.index, number=site.number,
                in_channels=width_in + i * width_out if node.dense else (
                    width_in if i == 0 else width_out
                ),
                out_channels=width_out,
                kernel=site.kernel, stride=stride if i == 0 else 1, activation=site.activation,
                drop_path=site.drop_path,
            )  # fmt: skip
            plans.append(self.plan(node.kind, inner_site, params, resolved))
        return tuple(plans)

    def _int(self, raw: object, env: dict[str, Value], at: At, allow_bool: bool = False) -> int:
        expr = parse(raw, integer=True)
        try:
            value = evaluate(expr, env)
        except ExprError as exc:
            raise _error(str(exc), self.locate, at) from None
        if isinstance(value, bool) and allow_bool:
            return int(value)
        return _whole(value, expr.text, self.locate, at, env, expr)


def _whole(value: Value, what: str, locate: Locate, at: At, env: Mapping[str, Value],
           expr: Expr) -> int:  # fmt: skip
    if isinstance(value, bool) or not (isinstance(value, int) or float(value).is_integer()):
        raise _error(
            f"{what} gives {text(value) if not isinstance(value, bool) else value} "
            f"({_env_text(env, expr)}), not a whole number: round it (round, floor, ceil or "
            "divisible under `widths:`)", locate, at,
        )  # fmt: skip
    number = int(value)
    if number < 1 and what.startswith("width"):
        raise _error(f"{what} gives {number} ({_env_text(env, expr)}): widths are positive",
                     locate, at)  # fmt: skip
    if number < 0:
        raise _error(f"{what} gives {number} ({_env_text(env, expr)}): negative", locate, at)
    if number == 0 and at[-1] not in ("repeat", "when"):
        raise _error(f"{what} gives 0 ({_env_text(env, expr)})", locate, at)
    return number


def _env_text(env: Mapping[str, Value], expr: Expr) -> str:
    shown = []
    for name in sorted(expr.names):
        value = env.get(name)
        if isinstance(value, Fraction | float) and not isinstance(value, bool):
            shown.append(f"{name} = {text(value)}")
        else:
            shown.append(f"{name} = {value}")
    return ", ".join(shown) or "constant"


def _shapes(shapes: list[tuple[int, int]]) -> str:
    return " vs ".join(f"{c} channels at 1/{r}" for c, r in shapes)


def _error(message: str, locate: Locate, at: At) -> SpecError:
    dotted = ".".join(f"[{p}]" if isinstance(p, int) else p for p in at).replace(".[", "[")
    return SpecError([Diagnostic(message, locate(*at), dotted)])


def class_arguments(block: GraphBlock, blocks: Mapping[str, GraphBlock]) -> list[str]:
    """The keyword names the kind's class takes besides in/out channels and act: the
    widths, params and block numbers its nodes read, then each block node's inner ones as
    `<node>_<name>`."""
    read = node_names(block)
    names: list[str] = [n for n in ("stride", "kernel_size") if n in read]
    names += [w for w in block.widths if w in read]
    names += [p for p in block.params if p in read]
    for node in block.nodes:
        if node.op == "block" and node.kind is not None:
            inner = class_arguments(blocks[node.kind], blocks)
            names += [f"{node.name}_{n}" for n in inner if n not in ("stride",)]
    return names


def node_names(block: GraphBlock) -> set[str]:
    """Every name the node fields read (what the generated class computes with)."""
    found: set[str] = set()
    for node in block.nodes:
        for raw in (
            node.out,
            node.kernel,
            node.stride,
            node.groups,
            node.repeat,
            node.when,
            *(node.sizes or []),
        ):
            if raw is not None:
                found |= parse(raw, integer=True).names
    return found


def _with_arguments(plan: GraphPlan, blocks: Mapping[str, GraphBlock], locate: Locate) -> GraphPlan:
    block = blocks[plan.definition]
    env = plan.env()
    args: list[tuple[str, int | bool]] = []
    read = node_names(block)
    for name in ("stride", "kernel_size"):
        if name in read:
            args.append((name, int(env[name])))
    args += [(w, int(env[w])) for w in block.widths if w in read]
    args += [(p, env[p]) for p in block.params if p in read]  # type: ignore[misc]
    for index, node in enumerate(block.nodes):
        if node.op != "block" or node.kind is None:
            continue
        chain = dict(plan.inner).get(index, ())
        names = [n for n in class_arguments(blocks[node.kind], blocks) if n != "stride"]
        if not chain:
            continue  # left out (`when`) or repeated 0 times: the defaults are never used
        seen: dict[str, int | bool] = {}
        for member in chain:
            for key, value in member.arguments:
                if key not in names:
                    continue
                if key in seen and seen[key] != value:
                    raise _error(
                        f"the chained {node.kind} blocks need different `{key}` ({seen[key]} "
                        f"and {value}): one class argument serves the whole chain",
                        locate, ("blocks", plan.definition, "nodes", index),
                    )  # fmt: skip
                seen[key] = value
        args += [(f"{node.name}_{key}", value) for key, value in seen.items()]
    return GraphPlan.of(plan, definition=plan.definition, values=plan.values, active=plan.active,
                        inner=plan.inner, arguments=tuple(args))  # fmt: skip


def chain_count(
    kind: str,
    blocks: Mapping[str, GraphBlock],
    params: Mapping[str, Any],
    scale: Callable[[int], int],
    resolved: frozenset[str] = frozenset(),
) -> int:
    """Blocks inside one block of `kind` (its chains, recursively), an upper bound computed
    before planning, for the size guard: a chain's count is taken at most MAX_INNER."""
    block = blocks[kind]
    env: dict[str, Any] = {k: params.get(k, p.default) for k, p in block.params.items()}
    for k, p in block.params.items():
        if p.type == "depth" and env[k] is not None and k not in resolved:
            env[k] = min(scale(int(env[k])), MAX_INNER + 1)
    total = 0
    for node in block.nodes:
        if node.op != "block" or node.kind is None:
            continue
        count = 1
        if node.repeat is not None:
            try:
                count = int(evaluate(parse(node.repeat, integer=True), {**env, **_big(block)}))
            except (ExprError, KeyError, TypeError):
                count = 1
        given = (node.with_ or {}).items()
        inner = {k: env.get(v, v) if isinstance(v, str) else v for k, v in given}
        done = frozenset(k for k, v in given if isinstance(v, str))
        total += max(count, 0) * (1 + chain_count(node.kind, blocks, inner, scale, done))
    return total


def _big(block: GraphBlock) -> dict[str, int]:
    # Names the count may read that are only known when planning; 1 keeps the bound finite.
    return {n: 1 for n in ("in_channels", "out_channels", "stride", "kernel_size", *block.widths)}


def derived_width(
    kind: str,
    blocks: Mapping[str, GraphBlock],
    params: Mapping[str, Any],
    in_channels: int,
    round_width: Callable[[int], int],
    scale_depth: Callable[[int], int],
    locate: Locate,
) -> int:
    """The output width of a block of a kind whose `out` derives it from its input."""
    block = blocks[kind]
    assert block.out is not None
    env: dict[str, Value] = {"in_channels": in_channels}
    for key, param in block.params.items():
        value = params.get(key, param.default)
        if param.type == "width":
            value = round_width(int(value))
        elif param.type == "depth":
            value = scale_depth(int(value))
        env[key] = value
    at: At = ("blocks", kind, "out")
    expr = parse(block.out, integer=False)
    env |= {n: 1 for n in ("stride", "kernel_size") if n not in env}
    try:
        value = evaluate(expr, env)
    except ExprError as exc:
        raise _error(str(exc), locate, at) from None
    return _whole(value, f"width out = {expr.text}", locate, at, env, expr)
