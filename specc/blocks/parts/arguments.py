"""Constructor arguments shared by every kind's generated call, and the fixed tables that
turn validated activation names into code.

Only these strings ever reach model.py as code (`Code`): names are validated by the schema,
and anything else is a `repr`-ed literal (see `specc.emit.pytorch.code`).
"""

from __future__ import annotations

from specc.blocks.kind import Argument, BlockPlan, Code, KernelSize

# The generated code of each activation and gate name.
ACTIVATIONS = {
    "relu": "nn.ReLU",
    "relu6": "nn.ReLU6",
    "silu": "nn.SiLU",
    "hardswish": "nn.Hardswish",
    "gelu": "nn.GELU",
    "leaky_relu": "nn.LeakyReLU",
    "sigmoid": "nn.Sigmoid",
    "hard_sigmoid": "nn.Hardsigmoid",
}
GATES = {"sigmoid": "nn.Sigmoid", "hard_sigmoid": "nn.Hardsigmoid"}


def shape_arguments(
    plan: BlockPlan,
    *,
    kernel_default: KernelSize | None = None,
    positional_kernel: bool = False,
) -> list[Argument]:
    """In and out channels, the kernel (unless it is `kernel_default`) and the stride
    (unless 1): what every kind's call starts with."""
    args: list[Argument] = [(None, plan.in_channels), (None, plan.out_channels)]
    if positional_kernel:
        args.append((None, plan.kernel))
    elif plan.kernel != kernel_default:
        args.append(("kernel_size", plan.kernel))
    if plan.stride != 1:
        args.append(("stride", plan.stride))
    return args


def drop_path_argument(plan: BlockPlan) -> Argument:
    """`drop_path=dpr[n]`: the network computes every block's rate from `drop_path_rate`."""
    return ("drop_path", Code(f"dpr[{int(plan.number)}]"))


def activation_argument(activation: str, default: str) -> list[Argument]:
    """`act=` where a layer's activation is not the spec's default (`None`: identity)."""
    if activation == default:
        return []
    if activation == "identity":
        return [("act", None)]
    return [("act", Code(ACTIVATIONS[activation]))]
