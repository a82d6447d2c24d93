"""Training memory from the IR: what autograd saves for the backward pass, op by op, and
the rest of a training step's memory (weights, gradients, optimiser state, EMA copy, the
largest transient).

Each op class has one rule (`RULES`, keyed on the class; an op without a rule is a
`KeyError` naming it, never a silent zero). A rule says which tensors the op's PyTorch
implementation in the generated `model.py` hands to autograd, and whether its output is a
fresh tensor or shares its input's storage (in-place activations, views, identities).
Tensors are keyed by storage, so a tensor saved by two ops (a conv's input that is also
the previous ReLU's output) is counted once, as PyTorch holds it once.

What each op saves (PyTorch's `derivatives.yaml`, checked against
`torch.autograd.graph.saved_tensors_hooks` by `specc.runtime.memory`, exactly):

- conv, linear: the input (weights are parameters, not activations); TF 'same' strided
  convs save the padded copy of the input instead; under autocast an fp32 input is saved
  as its low-precision cast, and each weight's low-precision copy (cached once per step);
- batch norm: the input, and the batch mean and inverse std per channel (fp32);
  layer norm (over channels, at every pixel): the input, the mean and 1/std per pixel (fp32);
- SiLU, GELU, hard-swish, hard-sigmoid, ReLU6: the input; ReLU and sigmoid: the output;
  an in-place SiLU, hard-swish or ReLU6 (in `ConvNormAct`) saves a copy of its input, as the
  input is overwritten;
- SE's scale (x * gate): both factors; layer scale: its input;
- max pool: the input and the int64 indices; the global mean pools (SE, classifier)
  nothing; average pools and adaptive average pools (VGG's 7x7) the input;
- global response norm (ConvNeXt V2): the input, its per-channel L2 norm, the per-image
  denominator, the per-channel scale and the scaled input (x * scale); its output is fp32
  (the fp32 weight and bias promote it);
- drop path: the per-sample mask (one element per image); dropout: the mask (CPU: the
  input's dtype, CUDA's fused kernel: one byte per element);
- average pools (stage pools, transitions): the input; GRN: its input, the per-channel
  norm and scale, the denominator and the product x * scale;
- add, concat, flatten, a split's slices (views) and a channel shuffle: nothing.

Under autocast (bf16/fp16) convs and linears compute in the low precision and everything
downstream stays in it (norms, activations, adds), except the per-channel/per-pixel norm
statistics (fp32) and, on CUDA, layer norm, which autocast runs in fp32. Channels-last
changes no byte count: every saved tensor has the same number of elements in either layout.

Pure arithmetic on the IR: no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from math import prod
from typing import Any, Literal

import networkx as nx

from specc.ir.nodes import (
    GRN,
    Act,
    AdaptiveAvgPool,
    Add,
    AvgPool,
    Concat,
    Conv,
    Dropout,
    DropPath,
    Flatten,
    GlobalPool,
    Input,
    LayerScale,
    Linear,
    MaxPool,
    MixConv,
    Mul,
    Norm,
    OpBase,
    Shuffle,
    Slice,
)

Dtype = Literal["float32", "bfloat16", "float16", "int64", "uint8", "bool"]
BYTES: dict[str, int] = {
    "float32": 4, "bfloat16": 2, "float16": 2, "int64": 8, "uint8": 1, "bool": 1,
}  # fmt: skip
PRECISIONS = ("float32", "bfloat16", "float16")
# Activations whose PyTorch backward reads the output (so an in-place one saves nothing
# new); the others read the input.
SAVES_OUTPUT = frozenset({"relu", "sigmoid"})
# In place, leaky ReLU's backward reads its result too (out of place, its input).
SAVES_OUTPUT_IN_PLACE = SAVES_OUTPUT | {"leaky_relu"}
# Module classes with an `inplace` flag: ConvNormAct sets it on the norm's fresh output.
HAS_INPLACE = frozenset({"relu", "relu6", "silu", "hardswish", "hard_sigmoid", "leaky_relu"})


@dataclass(frozen=True)
class Setting:
    """How a step runs: `precision` float32, or bfloat16/float16 autocast; `device` cpu or
    cuda (dropout's mask and layer norm's autocast differ); `grad_checkpointing` recomputes
    each stage in the backward pass, keeping only the stage inputs."""

    precision: str = "float32"
    device: str = "cpu"
    grad_checkpointing: bool = False

    @property
    def autocast(self) -> bool:
        return self.precision != "float32"


@dataclass(frozen=True)
class Saved:
    """One tensor saved for backward: `storage` names it (two ops saving one storage count
    once), `elements` per image (or per step when not `per_image`), its dtype."""

    storage: str
    elements: int
    dtype: str
    per_image: bool = True

    @property
    def bytes(self) -> int:
        return self.elements * BYTES[self.dtype]


@dataclass
class Tensor:
    """A node's output as the rules see it: its storage, elements per image, dtype."""

    storage: str
    elements: int
    dtype: str
    shape: tuple[int, ...]


@dataclass
class Step:
    """What one node does: tensors it saves, its output (a fresh or shared storage)."""

    saved: list[Saved] = field(default_factory=list)
    output: Tensor | None = None


@dataclass
class NodeView:
    """What a rule reads: the node, its op, input tensors, output shape, the setting and
    whether its output feeds only in-place-able consumers."""

    name: str
    op: Any
    inputs: list[Tensor]
    shape: tuple[int, ...]
    setting: Setting
    inplace: bool  # an activation the generated module runs in place
    same_padding: bool  # strided convs pad as TensorFlow (a padded copy per call)

    @property
    def low(self) -> str:
        return self.setting.precision

    def fresh(self, dtype: str | None = None) -> Tensor:
        x = self.inputs[0] if self.inputs else None
        return Tensor(
            self.name, prod(self.shape), dtype or (x.dtype if x else "float32"), self.shape
        )

    def alias(self) -> Tensor:
        x = self.inputs[0]
        return Tensor(x.storage, x.elements, x.dtype, self.shape)

    def keep(self, x: Tensor) -> Saved:
        return Saved(x.storage, x.elements, x.dtype)


Rule = Callable[[NodeView], Step]


def _input(v: NodeView) -> Step:
    return Step([], Tensor("input", prod(v.shape), "float32", v.shape))


def _conv_like(v: NodeView, weights: Iterable[int], padded: Iterable[int]) -> Step:
    """A conv (or each split of a mixed conv): saves its input, or the padded copy, or the
    autocast copy."""
    x = v.inputs[0]
    saved = []
    pads = list(padded)
    if v.setting.autocast:
        saved += [
            Saved(f"{v.name}.weight:{i}", n, v.low, per_image=False) for i, n in enumerate(weights)
        ]
    cast = v.setting.autocast and x.dtype == "float32"
    dtype = v.low if v.setting.autocast else x.dtype
    if pads:
        saved += [Saved(f"{v.name}.pad:{i}", n, dtype) for i, n in enumerate(pads)]
    elif cast:
        saved.append(Saved(f"{v.name}.cast", x.elements, dtype))
    else:
        saved.append(v.keep(x))
    return Step(saved, v.fresh(dtype))


def _conv(v: NodeView) -> Step:
    op: Conv = v.op
    weights = [op.out_channels * op.in_channels // op.groups * op.kernel**2]
    padded = _padded(v, op.in_channels, op.stride, op.padding)
    return _conv_like(v, weights, padded)


def _mixconv(v: NodeView) -> Step:
    op: MixConv = v.op
    weights = [cout * cin // g * k**2 for cin, cout, k, g in op.splits()]
    padded = [
        n
        for cin, pad in zip(op.in_splits, op.paddings, strict=True)
        for n in _padded(v, cin, op.stride, pad)
    ]
    step = _conv_like(v, weights, padded)
    if not padded and v.setting.autocast and v.inputs[0].dtype == "float32":
        # each split of an fp32 input is cast on its own
        step.saved = [s for s in step.saved if not s.storage.endswith(".cast")]
        step.saved += [
            Saved(f"{v.name}.cast:{i}", cin * prod(v.inputs[0].shape[1:]), v.low)
            for i, cin in enumerate(op.in_splits)
        ]
    return step


def _padded(v: NodeView, channels: int, stride: int, pad: Any) -> list[int]:
    if not (v.same_padding and stride > 1):
        return []
    _, height, width = v.inputs[0].shape
    left, right, top, bottom = pad
    return [channels * (height + top + bottom) * (width + left + right)]


def _norm(v: NodeView) -> Step:
    op: Norm = v.op
    x = v.inputs[0]
    if op.kind == "batchnorm":
        stats = [Saved(f"{v.name}.{s}", x.shape[0], "float32", per_image=False) for s in "ms"]
        return Step([v.keep(x), *stats], v.fresh())
    # layer norm over channels: statistics at every pixel; autocast runs it in fp32 on CUDA
    pixels = prod(x.shape[1:])
    stats = [Saved(f"{v.name}.{s}", pixels, "float32") for s in "ms"]
    if v.setting.autocast and v.setting.device == "cuda" and x.dtype != "float32":
        cast = Saved(f"{v.name}.cast", x.elements, "float32")
        return Step([cast, *stats], v.fresh("float32"))
    return Step([v.keep(x), *stats], v.fresh())


def _act(v: NodeView) -> Step:
    op: Act = v.op
    x = v.inputs[0]
    if op.fn == "identity":
        return Step([], v.alias())
    if v.inplace:
        out = v.alias()
        if op.fn in SAVES_OUTPUT_IN_PLACE:
            return Step([v.keep(out)], out)
        # the input is overwritten: autograd keeps a copy of it
        return Step([Saved(f"{v.name}.original", x.elements, x.dtype)], out)
    out = v.fresh()
    return Step([v.keep(out if op.fn in SAVES_OUTPUT else x)], out)


def _mul(v: NodeView) -> Step:
    return Step([v.keep(x) for x in v.inputs], v.fresh(_promote(v.inputs)))


def _layer_scale(v: NodeView) -> Step:
    # x * gamma: gamma is an fp32 parameter and mul is not autocast, so the product is fp32
    return Step([v.keep(v.inputs[0])], v.fresh("float32"))


def _add(v: NodeView) -> Step:
    return Step([], v.fresh(_promote(v.inputs)))


def _concat(v: NodeView) -> Step:
    return Step([], v.fresh(_promote(v.inputs)))


def _pool(v: NodeView) -> Step:
    return Step([], v.fresh())


def _maxpool(v: NodeView) -> Step:
    out = v.fresh()
    return Step([v.keep(v.inputs[0]), Saved(f"{v.name}.indices", out.elements, "int64")], out)


def _avgpool(v: NodeView) -> Step:
    # avg_pool2d's and adaptive_avg_pool2d's backward read the input
    return Step([v.keep(v.inputs[0])], v.fresh())


def _grn(v: NodeView) -> Step:
    # x.norm saves x and the norm; the division the norm and the denominator; x * scale
    # x and the scale; addcmul the product (and the weight, a parameter: not counted)
    x = v.inputs[0]
    channels = x.shape[0]
    saved = [
        v.keep(x),
        Saved(f"{v.name}.norm", channels, x.dtype),
        Saved(f"{v.name}.denominator", 1, x.dtype),
        Saved(f"{v.name}.scale", channels, x.dtype),
        Saved(f"{v.name}.product", x.elements, x.dtype),
    ]
    return Step(saved, v.fresh("float32"))


def _slice(v: NodeView) -> Step:
    # one part of x.split(...): a view of its input, nothing saved; an op that saves the
    # view holds the whole storage (counted once, with its input's size)
    x = v.inputs[0]
    return Step([], Tensor(x.storage, x.elements, x.dtype, v.shape))


def _shuffle(v: NodeView) -> Step:
    # view, transpose, contiguous (a fresh copy), view: nothing saved
    return Step([], v.fresh())


def _drop_path(v: NodeView) -> Step:
    op: DropPath = v.op
    if op.rate == 0.0:
        return Step([], v.alias())
    return Step([Saved(f"{v.name}.mask", 1, v.inputs[0].dtype)], v.fresh())


def _dropout(v: NodeView) -> Step:
    op: Dropout = v.op
    if op.rate == 0.0:
        return Step([], v.alias())
    x = v.inputs[0]
    dtype = "bool" if v.setting.device == "cuda" else x.dtype
    return Step([Saved(f"{v.name}.mask", x.elements, dtype)], v.fresh())


def _flatten(v: NodeView) -> Step:
    return Step([], v.alias())


def _linear(v: NodeView) -> Step:
    op: Linear = v.op
    return _conv_like(v, [op.in_features * op.out_features], [])


def _promote(inputs: list[Tensor]) -> str:
    dtypes = {x.dtype for x in inputs}
    return "float32" if "float32" in dtypes else inputs[0].dtype


RULES: dict[type[OpBase], Rule] = {
    Input: _input,
    Conv: _conv,
    MixConv: _mixconv,
    Norm: _norm,
    Act: _act,
    GlobalPool: _pool,
    MaxPool: _maxpool,
    AvgPool: _avgpool,
    AdaptiveAvgPool: _avgpool,
    GRN: _grn,
    Mul: _mul,
    LayerScale: _layer_scale,
    Add: _add,
    Concat: _concat,
    Slice: _slice,
    Shuffle: _shuffle,
    DropPath: _drop_path,
    Dropout: _dropout,
    Flatten: _flatten,
    Linear: _linear,
}


def rule_for(op: OpBase) -> Rule:
    """The rule of `op`'s class; a KeyError naming the class when there is none (an op
    added to the IR without saying what it saves)."""
    try:
        return RULES[type(op)]
    except KeyError:
        raise KeyError(
            f"specc.passes.memory has no rule for the IR op {type(op).__name__} "
            f"({op.name!r}): add one to RULES saying what it saves for backward"
        ) from None


def _runs_in_place(graph: nx.DiGraph, node: str, op: OpBase) -> bool:
    """ConvNormAct's activation acts in place on its norm's fresh output (the generated
    module sets `inplace` where the activation class has it)."""
    if not isinstance(op, Act) or op.fn not in HAS_INPLACE:
        return False
    inputs = graph.nodes[node]["inputs"]
    return (
        node.endswith(".act")
        and len(inputs) == 1
        and inputs[0] == node[: -len(".act")] + ".bn"
        and isinstance(graph.nodes[inputs[0]]["op"], Norm)
    )


def walk(
    graph: nx.DiGraph, setting: Setting, *, same_padding: bool = False
) -> tuple[dict[str, Tensor], dict[str, tuple[str, Saved]]]:
    """Run every node's rule in order: (each node's output tensor, every saved tensor by
    storage as (the first node saving it, Saved)). `same_padding`: the spec's TF 'same'
    padding (strided convs save a padded copy)."""
    tensors: dict[str, Tensor] = {}
    saved: dict[str, tuple[str, Saved]] = {}
    for node in nx.topological_sort(graph):
        data = graph.nodes[node]
        op = data["op"]
        view = NodeView(
            name=node,
            op=op,
            inputs=[tensors[i] for i in data["inputs"]],
            shape=tuple(data["shape"]),
            setting=setting,
            inplace=_runs_in_place(graph, node, op),
            same_padding=same_padding,
        )
        step = rule_for(op)(view)
        assert step.output is not None
        tensors[node] = step.output
        for tensor in step.saved:
            saved.setdefault(tensor.storage, (node, tensor))
    return tensors, saved


@dataclass(frozen=True)
class SavedBytes:
    """Saved-activation bytes of a step: `per_image` x batch + `per_step` (batch-norm
    statistics, autocast weight copies)."""

    per_image: int
    per_step: int

    def at(self, batch: int) -> int:
        return self.per_image * batch + self.per_step

    def __add__(self, other: SavedBytes) -> SavedBytes:
        return SavedBytes(self.per_image + other.per_image, self.per_step + other.per_step)


def _total(saved: Iterable[Saved]) -> SavedBytes:
    tensors = list(saved)
    per_image = sum(t.bytes for t in tensors if t.per_image)
    return SavedBytes(per_image, sum(t.bytes for t in tensors if not t.per_image))


def _stage_of(graph: nx.DiGraph, node: str) -> int | None:
    scope = graph.nodes[node]["scope"]
    return scope.stage if scope.part == "stage" else None


def saved_bytes(graph: nx.DiGraph, setting: Setting, *, same_padding: bool = False) -> SavedBytes:
    """Bytes autograd holds for backward after one training forward of the network. With
    `setting.grad_checkpointing` every stage keeps only its input (the generated
    `set_grad_checkpointing`); what a stage saves comes back while it is recomputed
    (`recompute_bytes`)."""
    tensors, saved = walk(graph, setting, same_padding=same_padding)
    if not setting.grad_checkpointing:
        return _total(t for _node, t in saved.values())
    kept = {s: t for s, (node, t) in saved.items() if _stage_of(graph, node) is None}
    for node in graph.nodes:
        stage = _stage_of(graph, node)
        for source in graph.nodes[node]["inputs"]:
            if stage is not None and _stage_of(graph, source) != stage:
                x = tensors[source]
                kept.setdefault(x.storage, Saved(x.storage, x.elements, x.dtype))
    return _total(kept.values())


def recompute_bytes(
    graph: nx.DiGraph, setting: Setting, *, same_padding: bool = False
) -> SavedBytes:
    """Under gradient checkpointing: the most any one stage saves while it is recomputed
    in the backward pass (held on top of the checkpointed step's saved bytes)."""
    _tensors, saved = walk(graph, setting, same_padding=same_padding)
    stages: dict[int, list[Saved]] = {}
    for node, tensor in saved.values():
        stage = _stage_of(graph, node)
        if stage is not None:
            stages.setdefault(stage, []).append(tensor)
    totals = [_total(ts) for ts in stages.values()]
    return max(totals, key=lambda t: (t.per_image, t.per_step), default=SavedBytes(0, 0))
