"""Every file of a generated folder, rendered in memory (the writer is
`specc.build.folder`): model.py, architecture.json, report.md and train.yaml."""

from __future__ import annotations

from specc.build.architecture import Architecture
from specc.build.folder import MARKER
from specc.emit import jsonfmt
from specc.emit.markdown import report_markdown
from specc.emit.pytorch.emit import emit_pytorch
from specc.emit.training import emit_training


def render(arch: Architecture) -> dict[str, str]:
    """Every file of the generated folder, by name, as text (the manifest excepted)."""
    return {
        "model.py": emit_pytorch(arch),
        MARKER: jsonfmt.dumps(arch.to_dict()) + "\n",
        "report.md": report_markdown(arch),
        "train.yaml": emit_training(arch),
    }
