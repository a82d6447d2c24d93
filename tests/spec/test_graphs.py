"""Hostile YAML block graphs: every problem is a located error (file:line and the dotted
field), exit 1, no traceback, nothing written; a mistake is reported once, without
knock-on errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli import main

CSP = Path(__file__).resolve().parents[1] / "data" / "zoo" / "cspresnet50.yaml"

# case -> (text of the spec, replacement, message, the changed line's text (to locate))
CASES = {
    "cycle": (
        "- {name: conv_transition_b, op: conv, out: half, kernel: 1}",
        "- {name: conv_transition_b, op: conv, out: half, kernel: 1, in: cat}",
        "reads 'cat', which is defined later",
    ),
    "unknown node": (
        "in: [xs, conv_transition_b]", "in: [xs, conv_transtion_b]",
        "unknown node 'conv_transtion_b' (did you mean 'conv_transition_b'?)",
    ),
    "duplicate node": (
        "- {name: conv2, op: conv, kernel: 3}", "- {name: conv1, op: conv, kernel: 3}",
        "node 'conv1' repeats the name of a node",
    ),
    "dangling node": (
        "- {name: cat, op: concat, in: [xs, conv_transition_b]}",
        "- {name: cat, op: concat, in: [xs, blocks]}",
        "'conv_transition_b' is never read",
    ),
    "division by zero": (
        "half: exp // 2", "half: exp // (expand_ratio - 2)", "division by zero",
    ),
    "negative width": ("half: exp // 2", "half: exp // 2 - 1000", "widths are positive"),
    "fractional width": ("half: exp // 2", "half: exp / 3", "not a whole number"),
    "split not covering": (
        "sizes: [half, half]", "sizes: [half, half - 8]",
        "split sizes 128 + 120 = 248 do not cover its input's 256 channels",
    ),
    "add mismatch": (
        "- {name: conv3, op: conv, out: out_channels, kernel: 1, act: identity}",
        "- {name: conv3, op: conv, out: mid, kernel: 1, act: identity}",
        "add of inputs of different shapes",
    ),
    "concat mismatch": (
        "- {name: conv_transition_b, op: conv, out: half, kernel: 1}",
        "- {name: conv_transition_b, op: conv, out: half, kernel: 1, stride: 2}",
        "concat of inputs of different sizes",
    ),
    "activation typo": (
        "kernel: 1, act: identity}\n      - {name: add",
        "kernel: 1, act: idenity}\n      - {name: add",
        "unknown activation 'idenity'",
    ),
    "op typo": ("op: concat", "op: concatt", "unknown op 'concatt'"),
    "class clash": ("csp_bottleneck", "conv_norm_act", "which model.py already defines"),
    "built-in name": ("csp_bottleneck", "mbconv", "is a built-in block kind"),
    "unread stride": (
        "{block: csp_stage, stride: 1, channels: 128, depth: 3}",
        "{block: csp_bottleneck, stride: 2, channels: 128}",
        "never reads `stride`",
    ),
    "default of the wrong type": (
        "expand_ratio: {type: float, default: 2.0}",
        "expand_ratio: {type: float, default: \"2\"}",
        "default '2' is not a number",
    ),
    "unknown param": ("channels: 128, depth: 3}", "channels: 128, dept: 3}",
                      "has no param 'dept') (did you mean 'depth'?)"),
    "unknown kind": ("{block: csp_stage, stride: 2, channels: 256",
                     "{block: csp_stag, stride: 2, channels: 256", "did you mean 'csp_stage'?"),
    "code in an expression": ("mid: round(out_channels * bottle_ratio)",
                              "mid: __import__('os')", "unknown function '__import__'"),
    "kind containing itself": ("kind: csp_bottleneck", "kind: csp_stage", "contains itself"),
    "huge depth": ("channels: 128, depth: 3}", "channels: 128, depth: 1000000}",
                   "from 1 to 10,000"),
    "a node left out changes the width": (
        "when: stride > 1}", "when: stride > 1, out: half}", "`when` leaves this node out",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_graphs_are_located_errors_and_nothing_is_written(tmp_path, case):
    old, new, message = CASES[case]
    text = CSP.read_text()
    assert old in text
    path = tmp_path / "bad.yaml"
    # A kind's name is replaced everywhere (its definition and its uses), the rest once.
    path.write_text(text.replace(old, new, -1 if old.isidentifier() else 1))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(path), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output  # no knock-on errors
    assert errors[0].startswith(f"error: {path}:"), errors[0]
    assert not out.exists()


def test_the_size_guard_counts_the_blocks_inside_chains(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text(
        CSP.read_text().replace("channels: 512, depth: 5}", "channels: 512, depth: 9000}")
    )
    result = CliRunner().invoke(main, ["show", str(path)])
    assert result.exit_code == 1
    assert "absurdly large model: 9,0" in result.output
    result = CliRunner().invoke(main, ["show", str(path), "--phi", "30", "--allow-large"])
    assert result.exit_code == 1
    assert "scales to" in result.output and "Traceback" not in result.output
