"""Memory sizes as users write them (`24GiB`, `24GB`, `500MiB`, `1.5T`, `1048576`) and as
specc prints them (`4.12 GiB`).

Binary units (KiB, MiB, GiB, TiB: powers of 1024) and decimal ones (kB, MB, GB, TB: powers
of 1000) mean what they say; a bare K/M/G/T (as `nvidia-smi` and PyTorch print) is binary;
a plain number is bytes. Case does not matter; spaces between number and unit are allowed.
"""

from __future__ import annotations

import math
import re

UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}  # fmt: skip
SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*([A-Za-z]*)\s*")


def parse_size(text: str) -> int:
    """Bytes of `text` (see the module docstring); ValueError with a message naming the
    problem and the accepted forms."""
    match = SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in UNITS:
        what = f"unknown unit {match.group(2)!r}" if match else "not a size"
        raise ValueError(
            f"{what} in {text!r}: write a number with a unit, e.g. 24GiB, 24GB, 500MiB "
            "(binary KiB/MiB/GiB/TiB, decimal kB/MB/GB/TB; a bare number is bytes)"
        )
    number = float(text.strip()[: len(text.strip()) - len(match.group(2))].strip())
    value = number * UNITS[unit]
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"the size must be positive, got {text!r}")
    return int(value)


def format_bytes(value: float) -> str:
    """'512 B', '3.25 MiB', '4.12 GiB': binary units, three significant digits."""
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(value) >= scale:
            amount = value / scale
            return f"{amount:.3g} {unit}" if amount < 1000 else f"{amount:.0f} {unit}"
    return f"{value:.0f} B"
