"""Training backend: `train.yaml`, the spec's recipe resolved for one built model.

Adds to the spec's `training:` section what only the build knows: the model file and
class, the input size, the classifier dropout and drop-path the model was built with, and
the identity of the build (spec hash, selector) that checkpoints are matched against. The
learning rate stays per `lr_base_size` images: the global batch is known only when a run
starts, where the trainer scales it (and logs the result).

Deterministic text (stable key order, no timestamps); reads an Architecture only.
"""

from __future__ import annotations

from typing import Any

import yaml

from specc import __version__
from specc.build.architecture import Architecture


def resolved_training(arch: Architecture) -> dict[str, Any]:
    r = arch.resolved
    build = {
        "model": "model.py",
        "model_class": r.class_name,
        "num_classes": r.num_classes,
        "in_chans": r.in_channels,
        "img_size": r.resolution,
        # Baked into model.py by the build; recorded so the recipe is complete.
        "drop": r.dropout,
        "drop_path": r.drop_path,
        "spec": {"name": r.name, "sha256": r.spec_hash, "selector": r.selector.label},
        # What model.py was built with: the trainer tells edits of the keys above from it.
        "built": {
            "num_classes": r.num_classes,
            "in_chans": r.in_channels,
            "img_size": r.resolution,
            "drop": r.dropout,
            "drop_path": r.drop_path,
        },
    }
    return {**build, **r.training}


def emit_training(arch: Architecture) -> str:
    r = arch.resolved
    header = (
        f"# Training recipe for {arch.label}, resolved by specc {__version__}.\n"
        f"# Run: specc train train.yaml --data DIR   (or --data synthetic)\n"
        f"# Several GPUs: torchrun --nproc-per-node N -m specc.train train.yaml --data DIR\n"
        f"# lr = lr_base * global_batch / lr_base_size; {r.selector.describe()}.\n"
    )
    body: str = yaml.safe_dump(resolved_training(arch), sort_keys=False, default_flow_style=False)
    return header + body
