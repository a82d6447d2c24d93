"""specc: a declarative architecture-spec compiler for compound-scaled ConvNets.

The Python API mirrors the CLI:

    import specc
    loaded = specc.load("specs/b0.yaml", overrides=["defaults.norm.eps=1e-5"])
    arch = specc.compile(loaded, phi=6)            # or preset="b6"
    source = specc.emit_pytorch(arch)              # model.py as a string
    specc.write(arch, "generated/efficientnet-phi6")
    model = specc.instantiate(source)              # needs torch
    model = specc.load_model("generated/efficientnet-b0", weights="runs/efficientnet-b0/best.pt")

Attributes are imported lazily so that `import specc` stays cheap and never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from specc.api import (
        compile,
        diff,
        emit_pytorch,
        export,
        instantiate,
        load,
        load_model,
        sweep,
        validate_spec,
        write,
    )
    from specc.diagnostics import Diagnostic, SpecError, UserError

__all__ = [
    "Diagnostic",
    "SpecError",
    "UserError",
    "__version__",
    "compile",
    "diff",
    "emit_pytorch",
    "export",
    "instantiate",
    "load",
    "load_model",
    "sweep",
    "validate_spec",
    "write",
]

_LAZY = {
    "diff": "specc.api",
    "sweep": "specc.api",
    "validate_spec": "specc.api",
    "load": "specc.api",
    "compile": "specc.api",
    "emit_pytorch": "specc.api",
    "export": "specc.api",
    "write": "specc.api",
    "instantiate": "specc.api",
    "load_model": "specc.api",
    "Diagnostic": "specc.diagnostics",
    "SpecError": "specc.diagnostics",
    "UserError": "specc.diagnostics",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'specc' has no attribute {name!r}")
