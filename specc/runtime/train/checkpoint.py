"""Training checkpoints: everything needed to continue exactly, written atomically.

A checkpoint holds the model, EMA, optimiser, scheduler and grad-scaler states, epoch and
step, every random-number state (torch CPU and CUDA, Python), and the identity of what it
belongs to: a hash of the architecture (state-dict names and shapes) and of the recipe.
Resuming under another architecture or recipe is refused with both hashes named, instead
of silently training something else.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import torch

from specc.diagnostics import UserError
from specc.runtime.model import architecture_hash, read_checkpoint
from specc.runtime.weights import save_atomically

FORMAT = 1


def identity(model: torch.nn.Module, recipe: dict[str, Any], built: str = "") -> dict[str, str]:
    """The architecture (every state-dict name and shape) and the recipe a run trains (its
    hash, and the recipe itself as JSON so that a refused resume can name what differs);
    `built`: what the model was built from, in words ("digits phi1, spec sha256 ...")."""
    text = json.dumps(recipe, sort_keys=True)
    return {
        "model_sha256": architecture_hash(model),
        "recipe_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "recipe": text,
        "built": built,
    }


def _recipe_changes(found: dict[str, Any], expected: dict[str, str]) -> str:
    """'hflip: 0.0 in the checkpoint, 0.5 now; ...' where both recipes are known."""
    try:
        before, now = json.loads(found["recipe"]), json.loads(expected["recipe"])
    except (KeyError, TypeError, ValueError):
        return ""
    keys = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    changes = "; ".join(f"{k}: {before.get(k)} in the checkpoint, {now.get(k)} now" for k in keys)
    return f": {changes} (pass the same --set values when resuming)" if changes else ""


def _only_new_defaults(found: dict[str, Any], expected: dict[str, str]) -> bool:
    """Whether the recipes differ only in keys the checkpoint's specc did not have yet, each
    at its default now (a newer specc added them): the same training, resumable."""
    from specc.runtime.train.config import TrainConfig

    try:
        before, now = json.loads(found["recipe"]), json.loads(expected["recipe"])
    except (KeyError, TypeError, ValueError):
        return False
    fields = TrainConfig.model_fields
    changed = {k for k in before.keys() | now.keys() if before.get(k) != now.get(k)}
    return all(
        k not in before and k in fields and now.get(k) == _json(fields[k].default) for k in changed
    )


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuple(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(value: Any) -> Any:
    # weights_only loading hands tuples back as lists; random.setstate needs tuples.
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value


def save(path: Path, state: dict[str, Any]) -> Path:
    return save_atomically({"format": FORMAT, **state}, path)


def load(path: Path, expected: dict[str, str]) -> dict[str, Any]:
    """Load a checkpoint and check that it belongs to this model and recipe."""
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint")
    state = read_checkpoint(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path}: not a specc training checkpoint")
    found = state.get("identity", {})
    for key, label in (("model_sha256", "architecture"), ("recipe_sha256", "training recipe")):
        if found.get(key) != expected[key]:
            if key == "recipe_sha256" and _only_new_defaults(found, expected):
                continue
            changes = _recipe_changes(found, expected) if key == "recipe_sha256" else ""
            built = f", built as {found['built']}" if found.get("built") else ""
            raise UserError(
                f"{path} was written for another {label} "
                f"({str(found.get(key))[:12]} there{built}, {expected[key][:12]} "
                f"now){changes}; refusing to resume"
            )
    return state


def run_record(path: Path) -> dict[str, Any]:
    """The run's own flags a checkpoint recorded (`specc.runtime.train.precheck.run_record`;
    empty for checkpoints written before specc recorded them)."""
    state = read_checkpoint(path)
    record = state.get("run") if isinstance(state, dict) else None
    return record if isinstance(record, dict) else {}
