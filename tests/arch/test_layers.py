"""specc's layering (../shared/ARCHITECTURE.md): imports point down, never up, never round.

Layers, lowest first: vocabulary, block schemas, the language, rules (scaling), the IR and
its passes, block behaviour, the pipeline (build), emission, tools, the runtime, entry
points. A module may import from its own layer or below (typing-only imports aside); the
import graph has no cycle, function-level imports included; and loading a spec, or running
`specc build`, loads only what it needs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import import_graph
import networkx as nx
import pytest
from import_graph import edges, modules

ROOT = Path(__file__).resolve().parents[2]
KIND_FOLDERS = "conv|mbconv|fused_mbconv|dsconv|bottleneck|basic|convnext"

# (layer, name, pattern of module names); a module takes the first layer it matches.
LAYERS = [
    (0, "package", r"specc$"),
    (1, "vocabulary", r"specc\.(diagnostics|lang\.types|lang\.parts|blocks\.kind|blocks)$"),
    (
        2,
        "block schemas",
        rf"specc\.blocks\.(\w+\.schema|schemas|plugins|{KIND_FOLDERS})$",
    ),
    (3, "language", r"specc\.lang(\.\w+)?$"),
    (4, "rules", r"specc\.scaling(\.\w+)?$"),
    (5, "IR", r"specc\.(ir|passes)(\.\w+)?$"),
    (6, "block behaviour", r"specc\.blocks(\.\w+)*$"),
    (7, "pipeline", r"specc\.build(\.\w+)?$"),
    (8, "emission", r"specc\.emit(\.\w+)*$"),
    (9, "tools", r"specc\.tools(\.\w+)*$"),
    (10, "runtime", r"specc\.runtime(\.\w+)*$"),
    (11, "entry points", r"specc\.(api|cli|__main__|train)(\.\w+)*$"),
]


def layer_of(module: str) -> tuple[int, str]:
    for number, name, pattern in LAYERS:
        if re.fullmatch(pattern, module):
            return number, name
    raise AssertionError(f"{module} belongs to no layer: place it in LAYERS")


def test_every_module_has_a_layer():
    for module in modules():
        layer_of(module)


def test_no_import_goes_up_a_layer():
    upward = []
    for module, targets in sorted(edges().items()):
        here = layer_of(module)
        for target in sorted(targets):
            there = layer_of(target)
            if there[0] > here[0]:
                upward.append(f"{module} ({here[1]}) imports {target} ({there[1]})")
    assert upward == []


def test_the_import_graph_has_no_cycle():
    graph = nx.DiGraph([(a, b) for a, targets in edges().items() for b in targets])
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert cycles == []


def test_the_layering_test_sees_an_upward_import(tmp_path, monkeypatch):
    """The walker finds function-level imports and skips typing-only ones."""

    package = tmp_path / "specc"
    (package / "lang").mkdir(parents=True)
    (package / "emit").mkdir()
    (package / "__init__.py").write_text("")
    (package / "lang" / "__init__.py").write_text("")
    (package / "emit" / "__init__.py").write_text("")
    (package / "emit" / "table.py").write_text("X = 1\n")
    (package / "lang" / "load.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from specc.emit import table as typing_only\n"
        "def f():\n    from specc.emit.table import X\n    return X\n"
    )
    monkeypatch.setattr(import_graph, "PACKAGE", package)
    assert import_graph.edges()["specc.lang.load"] == {"specc.emit.table"}


def _loaded_after(code: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_loading_a_spec_loads_no_rules_ir_behaviour_build_or_emission():
    loaded = _loaded_after("import specc.lang.load; specc.lang.load.load('specs/b0.yaml')")
    heavy = ("specc.scaling", "specc.ir", "specc.passes", "specc.build", "specc.emit")
    behaviour = re.compile(
        rf"specc\.blocks\.(parts|registry|({KIND_FOLDERS})\.(plan|lower|emit|kind))"
    )
    assert [m for m in loaded if m.startswith(heavy) or behaviour.match(m)] == []
    assert "networkx" not in loaded and "jinja2" not in loaded and "torch" not in loaded


@pytest.mark.parametrize(
    "module",
    [
        "specc.blocks.kind",
        "specc.blocks.parts.conv_norm_act",
        "specc.blocks.parts.squeeze_excite",
        "specc.blocks.parts.residual",
        "specc.blocks.parts.expansion",
        "specc.blocks.parts.arguments",
        "specc.ir.nodes",
        "specc.ir.graph",
        "specc.lang.parts",
    ],
)
def test_what_a_plugin_imports_does_not_load_the_language(module):
    """Plugins are imported while the language builds its stage union, so the modules of
    the plugin contract must not import `specc.lang.schema` (a circular import)."""
    assert "specc.lang.schema" not in _loaded_after(f"import {module}")
