"""Which member of a family to build: compound scaling with phi, or a named preset."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Selector:
    """Which member of the family to build: compound scaling with `phi`, or a preset."""

    phi: float | None = None
    preset: str | None = None

    def __post_init__(self) -> None:
        if self.phi is not None and self.preset is not None:
            raise ValueError("phi and preset exclude each other")
        if self.phi is not None and not math.isfinite(self.phi):
            raise ValueError(f"phi must be a finite number, got {self.phi}")

    @property
    def is_preset(self) -> bool:
        return self.preset is not None

    @property
    def phi_value(self) -> float:
        return 0.0 if self.phi is None else float(self.phi)

    @property
    def label(self) -> str:
        """Filesystem-safe and unambiguous: phi6, phi0p5, phim1, phi1em05, b6."""
        if self.preset is not None:
            return self.preset
        return "phi" + self.phi_text.replace("-", "m").replace(".", "p").replace("+", "")

    @property
    def phi_text(self) -> str:
        """phi as the shortest text that reads back to the same float: 6, 0.5, -1, 1e-05."""
        return repr(self.phi_value).removesuffix(".0")

    def describe(self) -> str:
        return f"preset {self.preset}" if self.preset is not None else f"phi = {self.phi_text}"

    def to_dict(self) -> dict[str, Any]:
        if self.preset is not None:
            return {"mode": "preset", "preset": self.preset, "label": self.label}
        return {"mode": "phi", "phi": self.phi_value, "label": self.label}
