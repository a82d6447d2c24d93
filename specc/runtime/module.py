"""Load a generated `model.py` and instantiate its network (imports torch).

Generated sources are executed as fresh modules with a unique name, so two models with
the same class name can live side by side in one process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any


def load_source(source: str, name: str | None = None) -> types.ModuleType:
    """Execute generated source as a module registered in `sys.modules`."""
    name = name or "specc_generated_" + hashlib.sha256(source.encode()).hexdigest()[:16]
    module = types.ModuleType(name)
    module.__file__ = f"<specc:{name}>"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def load_file(path: str | Path) -> types.ModuleType:
    path = Path(path)
    if path.is_dir():
        path = path / "model.py"
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    spec = importlib.util.spec_from_file_location(f"specc_generated_{digest}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def instantiate(source: Any, **kwargs: Any) -> Any:
    """An instance of the network in `source`: generated text, a model.py, its folder,
    or an Architecture (emitted on the fly)."""
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source):
        module = load_file(source)
    elif isinstance(source, str):
        module = load_source(source)
    else:
        from specc.backends.pytorch.emit import emit_pytorch

        module = load_source(emit_pytorch(source))
    return getattr(module, module.__all__[0])(**kwargs)
