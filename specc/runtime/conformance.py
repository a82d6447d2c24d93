"""The generated module against its IR: every IR node's parameters and output shape, found
on the module of the same path (`specc validate --strict`).

A block kind reports its numbers through its IR (`lower`) and builds its module through its
template (`emitter`); nothing but this check ties the two together. A plugin kind whose
template holds a layer its IR does not count, or whose IR names a module its template does
not build, would otherwise report numbers its module does not have. The module is built on
the meta device (no memory, no initialisation) and run once on a meta tensor; forward hooks
on the modules named like IR nodes record their output shapes.

Imports torch.
"""

from __future__ import annotations

from typing import Any

import torch

from specc.build.architecture import Architecture
from specc.diagnostics import UserError
from specc.ir.nodes import format_shape
from specc.runtime.model import instantiate

MAX_REPORTED = 20


def module_problems(arch: Architecture) -> list[str]:
    """Every disagreement between `arch`'s IR and its generated module, one line each:
    a node with parameters but no module of its path, a module whose parameter count
    differs from its node's, a module whose output shape differs from its node's, and a
    total that differs (parameters the IR does not count anywhere)."""
    try:
        with torch.device("meta"):
            model = instantiate(arch).eval()
    except Exception as error:  # a template that does not build is a plugin's bug
        return [f"the generated module cannot be built: {type(error).__name__}: {error}"]
    graph = arch.graph
    modules = dict(model.named_modules())
    problems = []
    for node, data in graph.nodes(data=True):
        params, module = data.get("params", 0), modules.get(node)
        if module is None:
            if params:
                problems.append(
                    f"{node}: the IR counts {params:,} parameters, the module has no {node}"
                )
            continue
        actual = sum(p.numel() for p in module.parameters())
        if actual != params:
            problems.append(f"{node}: the IR counts {params:,} parameters, the module {actual:,}")
    total = sum(p.numel() for p in model.parameters())
    if total != arch.params:
        problems.append(f"the IR counts {arch.params:,} parameters in all, the module {total:,}")
    return problems + _shape_problems(arch, model, modules)


def _shape_problems(arch: Architecture, model: Any, modules: dict[str, Any]) -> list[str]:
    graph = arch.graph
    expected = {n: tuple(d["shape"]) for n, d in graph.nodes(data=True)}
    # Block outputs (`stages.1.0`) too; the IR's "stem" output includes the stem's pool,
    # which the module holds apart (`stem_pool`).
    outputs = graph.graph["outputs"].items()
    expected |= {m: tuple(graph.nodes[n]["shape"]) for m, n in outputs if m != "stem"}
    seen: dict[str, tuple[int, ...]] = {}

    def hook(name: str) -> Any:
        def record(module: Any, inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                seen[name] = tuple(output.shape[1:])

        return record

    handles = [modules[n].register_forward_hook(hook(n)) for n in expected if n in modules]
    size, channels = arch.resolved.resolution, arch.resolved.in_channels
    try:
        with torch.no_grad():
            model(torch.empty(1, channels, size, size, device="meta"))
    except Exception as error:
        return [f"the generated module fails in forward: {type(error).__name__}: {error}"]
    finally:
        for handle in handles:
            handle.remove()
    return [
        f"{name}: the IR's output is {format_shape(expected[name])}, the module's "
        f"{format_shape(shape)}"
        for name, shape in seen.items()
        if shape != expected[name]
    ]


def check_module(arch: Architecture, label: str) -> None:
    """Raise UserError listing `module_problems(arch)` (at most MAX_REPORTED), if any."""
    problems = module_problems(arch)
    if problems:
        shown = problems[:MAX_REPORTED]
        if len(problems) > MAX_REPORTED:
            shown.append(f"... and {len(problems) - MAX_REPORTED} more")
        raise UserError(
            f"{label}: the generated module does not have the numbers its IR reports",
            details=shown,
            hint="a block kind's template and its `lower` disagree (for a plugin kind, "
            "fix the plugin)",
        )
