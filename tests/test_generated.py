"""generated/ holds what the README shows, and is what the current compiler emits.

To refresh after a reviewed change: run the README's build commands from the repository
root (CI runs them with --check and fails on any difference).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import specc
from specc.build.folder import MARKER

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = sorted(p for p in (ROOT / "generated").iterdir() if (p / MARKER).exists())


def test_readme_outputs_are_committed():
    names = {p.name for p in FOLDERS}
    assert {"efficientnet-phi6", "efficientnet-b6"} <= names
    readme = (ROOT / "README.md").read_text()
    for name in names:
        assert f"generated/{name}" in readme


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_generated_folder_is_fresh(folder):
    data = json.loads((folder / MARKER).read_text())
    selector = data["selector"]
    spec = ROOT / "specs" / data["spec"]["file"]
    kwargs = (
        {"preset": selector["preset"]} if selector["mode"] == "preset" else {"phi": selector["phi"]}
    )
    arch = specc.compile(specc.load(spec, data["spec"]["overrides"]), **kwargs)
    result = specc.write(arch, folder, check=True)
    assert not result.stale, "\n".join(result.changed)
