"""architecture.json: the one schema of a built Architecture, for other tools.

Keys in a stable order: identity (schema version, specc version, name, class, spec file and
hash, overrides), selector, multipliers, resolution, input, classes, dropout and drop path,
defaults, rules, stem, stages, head, features, layers (one row per IR node), totals, nearest
preset. `specc show --json` prints the same record without the layers (`SUMMARY_KEYS` of
`specc.emit.summary`).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import networkx as nx

from specc import __version__
from specc.blocks.kind import KernelSize, kernel_text
from specc.blocks.parts.conv_norm_act import LayerPlan

if TYPE_CHECKING:
    from specc.build.architecture import Architecture

SCHEMA_VERSION = 1


def record(arch: Architecture, *, layers: bool = True) -> dict[str, Any]:
    """architecture.json as a dict; `layers=False` leaves out the per-layer list (and its
    cost)."""
    r = arch.resolved
    return {
        "schema": SCHEMA_VERSION,
        "specc": __version__,
        "name": r.name,
        "class_name": r.class_name,
        "spec": {
            "file": PurePath(r.file).name,
            "sha256": r.spec_hash,
            "overrides": list(r.overrides),
        },
        "selector": r.selector.to_dict(),
        "multipliers": r.multipliers.to_dict(),
        "resolution": r.resolution,
        "input": list(arch.input_shape),
        "num_classes": r.num_classes,
        "dropout": r.dropout,
        "drop_path": r.drop_path,
        "defaults": r.defaults.model_dump(mode="json"),
        "rules": r.rules,
        "stem": _layer_row(arch, r.stem),
        "stages": stage_rows(arch),
        "head": _layer_row(arch, r.head) if r.head is not None else None,
        "features": [
            {"module": e.label, "reduction": e.reduction, "shape": list(e.shape)}
            for e in arch.endpoints()
        ],
        "layers": layer_rows(arch) if layers else None,
        "totals": totals(arch),
        "train_memory": train_memory(arch),
        "nearest_preset": arch.nearest_preset.to_dict() if arch.nearest_preset else None,
    }


def stage_rows(arch: Architecture) -> list[dict[str, Any]]:
    """One row per stage: kind, label, kernel, stride, the kind's columns, widths, repeats,
    output shape and counts."""
    rows = []
    for stage in arch.resolved.stages:
        counts = arch.analysis.by_stage[stage.index]
        rows.append(
            {
                "index": stage.index,
                "block": stage.kind,
                "label": stage.label,
                "kernel": _kernel(stage.kernel),
                "stride": stage.stride,
                "expand": stage.columns.expand,
                "se": stage.columns.se,
                "in_channels": stage.in_channels,
                "out_channels": stage.out_channels,
                "repeats": stage.repeats,
                "output": list(arch.shape_of(stage.output)),
                "params": counts.params,
                "macs": counts.macs,
            }
        )
    return rows


def layer_rows(arch: Architecture) -> list[dict[str, Any]]:
    """One row per IR node in topological order: name, op, scope, inputs, shapes, kernel,
    stride, groups and counts."""
    rows = []
    for node in nx.topological_sort(arch.graph):
        data = arch.graph.nodes[node]
        attrs = data["op"].attributes()
        inputs = [list(arch.graph.nodes[i]["shape"]) for i in data["inputs"]]
        rows.append(
            {
                "name": node,
                "op": data["op"].name,
                "scope": data["scope"].to_dict(),
                "inputs": list(data["inputs"]),
                "in_shape": inputs[0] if inputs else None,
                "out_shape": list(data["shape"]),
                "kernel": kernel_text(tuple(attrs["kernels"]))
                if "kernels" in attrs
                else attrs.get("kernel"),
                "stride": attrs.get("stride"),
                "groups": attrs.get("groups"),
                "params": data["params"],
                "macs": data["macs"],
                "activations": data["activations"],
            }
        )
    return rows


def _kernel(kernel: KernelSize) -> int | str:
    """An int, or a mixed kernel's sizes ("3,5,7")."""
    return kernel if isinstance(kernel, int) else kernel_text(kernel)


def totals(arch: Architecture) -> dict[str, int]:
    total = arch.analysis.total
    return {
        "params": total.params,
        "macs": total.macs,
        "flops": 2 * total.macs,
        "activations": total.activations,
        "blocks": len(arch.resolved.blocks),
        "layers": arch.graph.number_of_nodes(),
    }


def train_memory(arch: Architecture) -> dict[str, Any]:
    """Predicted training memory in bytes (`specc.passes.step_memory`): saved activations
    per image for each precision (fp32, and bf16/fp16 autocast), the recipe's step at its
    batch without and with gradient checkpointing, and checkpointing's extra compute (a
    fraction of a step)."""
    batch = arch.train_batch
    plain = arch.step_memory(grad_checkpointing=False)
    checkpointed = arch.step_memory(grad_checkpointing=True)
    return {
        "saved_activations_per_image": {
            precision: arch.step_memory(precision, grad_checkpointing=False).saved.per_image
            for precision in ("float32", "bfloat16", "float16")
        },
        "without_checkpointing": plain.to_dict(batch),
        "with_checkpointing": checkpointed.to_dict(batch),
        "checkpointing_extra_compute": round(arch.checkpoint_cost(), 4),
    }


def _layer_row(arch: Architecture, layer: LayerPlan) -> dict[str, Any]:
    counts = arch.analysis.by_part[layer.name]
    return {
        "kernel": layer.kernel,
        "stride": layer.stride,
        "in_channels": layer.in_channels,
        "out_channels": layer.out_channels,
        "activation": layer.activation,
        "output": list(arch.shape_of(layer.name)),
        "params": counts.params,
        "macs": counts.macs,
    }
