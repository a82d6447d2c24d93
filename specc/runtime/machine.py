"""This machine's memory, and refusing inputs that could never fit in it.

A batch of 10^9 images is not a slow run but an allocation of terabytes: refused before
it is attempted, naming the batch, its size and the machine's memory. Imports no torch.
"""

from __future__ import annotations

import os

from specc.diagnostics import UserError


def machine_memory() -> int | None:
    """Physical memory in bytes (None where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def require_input_fits(batch: int, shape: tuple[int, ...], what: str, hint: str) -> None:
    """UserError when `batch` float32 inputs of `shape` alone would take more than half of
    this machine's memory (activations need more still): `what` names the setting."""
    size = batch * 4
    for dimension in shape:
        size *= dimension
    memory = machine_memory()
    if memory is not None and size > memory / 2:
        pixels = "x".join(str(d) for d in shape)
        raise UserError(
            f"{what}: {batch:,} inputs of {pixels} are {size / 2**30:,.1f} GiB, more than half "
            f"of this machine's {memory / 2**30:,.1f} GiB of memory",
            hint=hint,
        )
