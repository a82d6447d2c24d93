"""End-to-end: `specc diff`, `specc sweep`, `specc graph`, `specc show --layers`, report.md."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pydot
import pytest
from click.testing import CliRunner

import specc
from specc.cli import main

ROOT = Path(__file__).resolve().parents[2]
B0 = str(ROOT / "specs" / "b0.yaml")
PHI6, B6 = f"{B0}@phi=6", f"{B0}@preset=b6"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def specc_process(*args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "specc", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def first_lines(output: str) -> dict[str, str]:
    """Lines by their first word, the first such line winning (table rows come first)."""
    lines: dict[str, str] = {}
    for line in output.splitlines():
        if line.strip():
            lines.setdefault(line.split()[0], line)
    return lines


@pytest.fixture(scope="module")
def phi6_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("built") / "phi6"
    assert run("build", B0, "--phi", "6", "--out", str(folder)).exit_code == 0
    return folder


# --- acceptance 1: phi = 6 is not B6 ------------------------------------------------


def test_diff_phi6_against_b6_shows_the_table_deltas_and_causes():
    result = run("diff", PHI6, B6)
    assert result.exit_code == 1, result.output
    out = result.output
    assert max(len(line) for line in out.splitlines()) <= 80  # a pipe's 80 columns
    flat = " ".join(out.split())  # long lines fold at 80 columns
    assert "repeats 3 6 6 9 9 12 3 vs 3 6 6 8 8 11 3" in flat
    stage = first_lines(out)
    assert "9 → 8" in stage["3"] and "12 → 11" in stage["5"]
    assert "568 → 576" in stage["6"] and "2264 → 2304" in stage["head"]
    assert "259x259 → 264x264" in stage["stem"]
    params = stage["params"].split()
    assert params[1:3] == ["45,464,648", "43,040,704"] and "(−5.33%)" in stage["params"]
    assert stage["resolution"].split()[1:4] == ["518", "528", "+10"]
    assert "depth multiplier 2.986 (1.2^6) vs 2.6 (preset b6)" in flat
    assert "width multiplier 1.772 (1.1^6) vs 1.8 (preset b6)" in flat
    assert "stage 6 channels 568 vs 576, head channels 2264 vs 2304" in flat
    assert "48 removed" in out and "--layers lists them" in out


def test_diff_json_is_the_same_report_as_a_list_of_changes():
    result = run("diff", PHI6, B6, "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    changes = {c["path"]: c for c in data["changes"]}
    a = [changes.get(f"stages[{i}].repeats", {}).get("a", "same") for i in range(7)]
    b = [changes.get(f"stages[{i}].repeats", {}).get("b", "same") for i in range(7)]
    assert a == ["same", "same", "same", 9, 9, 12, "same"]
    assert b == ["same", "same", "same", 8, 8, 11, "same"]
    assert (changes["stages[6].out_channels"]["a"], changes["stages[6].out_channels"]["b"]) == (
        568,
        576,
    )
    assert (changes["head.out_channels"]["a"], changes["head.out_channels"]["b"]) == (2264, 2304)
    params = changes["totals.params"]
    assert (params["a"], params["b"], params["delta"]) == (45_464_648, 43_040_704, -2_423_944)
    assert (changes["resolution"]["a"], changes["resolution"]["b"]) == (518, 528)
    assert changes["stages[3].repeats"]["because"] == ["multipliers.depth"]
    assert data["same"] is False and data["a"]["selector"]["label"] == "phi6"
    texts = [e["text"] for e in data["explanations"]]
    assert any("repeats 3 6 6 9 9 12 3 vs 3 6 6 8 8 11 3" in text for text in texts)


def test_diff_layers_lists_the_removed_blocks():
    result = run("diff", PHI6, B6, "--layers")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "  - stages.3.8.expand.conv (conv): 864x33x33" in lines
    assert any(line.startswith("  ~ head.conv (conv): ") and "2264x17x17 → 2304x17x17" in line
               for line in lines)  # fmt: skip
    assert "stage 5:" in lines and "classifier:" in lines


def test_unified_diff_of_the_model_sources(phi6_folder):
    result = run("diff", str(phi6_folder), B6, "--format", "unified")
    assert result.exit_code == 1
    assert result.output.startswith(f"--- a: {phi6_folder} (model.py)\n+++ b: {B6} (model.py)\n")
    lines = result.output.splitlines()
    assert "-Rebuild: specc build b0.yaml --phi 6" in lines
    assert "+Rebuild: specc build b0.yaml --preset b6" in lines
    same = run("diff", str(phi6_folder), PHI6, "--format", "unified")
    assert same.exit_code == 0 and same.output == ""


# --- acceptance 2: a spec and its folder; missing or corrupt records --------------------


def test_a_spec_and_its_own_generated_folder_are_the_same(phi6_folder):
    result = run("diff", PHI6, str(phi6_folder))
    assert result.exit_code == 0, result.output
    assert "no differences" in result.output
    committed = run("diff", PHI6, str(ROOT / "generated" / "efficientnet-phi6"), "--json")
    assert committed.exit_code == 0 and json.loads(committed.output)["same"] is True


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing", "architecture.json: no architecture.json here"),
        ("truncated", "architecture.json:2:1: not valid JSON"),
        ("wrong type", "architecture.json: resolution: Input should be a valid integer"),
    ],
)
def test_a_missing_or_corrupt_record_exits_2_with_a_clear_message(tmp_path, damage, message):
    folder = tmp_path / "out"
    assert run("build", B0, "--out", str(folder)).exit_code == 0
    record = folder / "architecture.json"
    if damage == "missing":
        record.unlink()
    elif damage == "truncated":
        record.write_text("{\n")
    else:
        record.write_text(record.read_text().replace('"resolution": 224,', '"resolution": "224",'))
    result = specc_process("diff", B0, str(folder))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((f"{B0}@phi=six", B6), "phi must be a number"),
        ((f"{B0}@preset=b66", B6), "unknown preset 'b66'"),
        ((str(ROOT / "nowhere"), B6), "no such file or folder"),
        ((PHI6, B6, "--format", "unified", "--json"), "--format unified"),
        ((PHI6,), "Missing argument 'B'"),
    ],
)
def test_diff_trouble_exits_2(args, message):
    result = specc_process("diff", *args)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_colour_marks_changes_on_a_terminal_and_no_color_turns_it_off():
    coloured = specc_process("diff", PHI6, B6, env={"FORCE_COLOR": "1"})
    assert "\x1b[1;33m9 → 8\x1b[0m" in coloured.stdout
    plain = specc_process("diff", PHI6, B6, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "9 → 8" in plain.stdout and "33m" not in plain.stdout
    piped = specc_process("diff", PHI6, B6)
    assert "\x1b[" not in piped.stdout and "9 → 8" in piped.stdout


# --- acceptance 3: sweep ---------------------------------------------------------------


def test_sweep_values_equal_what_build_reports(tmp_path):
    result = run("sweep", B0, "--phi", "5:6", "--json")
    assert result.exit_code == 0, result.output
    points = {p["point"]: p for p in json.loads(result.output)}
    assert list(points)[:2] == ["phi=5", "phi=6"] and "b3" in points and "l2" in points
    for name, args in (("phi=5", ["--phi", "5"]), ("phi=6", ["--phi", "6"]),
                       ("b3", ["--preset", "b3"])):  # fmt: skip
        built = json.loads(run("build", B0, *args, "--json", "--out", str(tmp_path / name)).output)
        point = points[name]
        assert (point["params"], point["macs"]) == (built["params"], built["macs"])
        assert point["resolution"] == built["resolution"]
        assert point["blocks"] == built["totals"]["blocks"]
        m = built["multipliers"]
        assert (point["depth"], point["width"], point["resolution_multiplier"]) == (
            m["depth"],
            m["width"],
            m["resolution"],
        )


def test_sweep_writes_a_csv_and_a_png(tmp_path):
    table, plot = tmp_path / "sweep.csv", tmp_path / "sweep.png"
    result = run("sweep", B0, "--phi", "0:8:2", "--csv", str(table), "--plot", str(plot))
    assert result.exit_code == 0, result.output
    assert f"wrote {table}" in result.output and f"wrote {plot}" in result.output
    with open(table, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["point"] for row in rows[:5]] == ["phi=0", "phi=2", "phi=4", "phi=6", "phi=8"]
    assert int(rows[3]["params"]) == 45_464_648
    assert rows[-1]["point"] == "l2" and rows[-1]["kind"] == "preset"
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    lines = {line.split()[0]: line.split() for line in result.output.splitlines() if line.strip()}
    assert lines["phi=6"][-3] == "45,464,648" and lines["b6"][1] == "≈5.66"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--phi", "8:0"), 2, "the range ends before it starts"),
        (("--phi", "0:8:0"), 2, "the step must be positive"),
        (("--phi", "14", "--no-presets"), 1, "absurdly large"),
        (("--plot", "/nonexistent/dir/plot.png", "--phi", "0", "--no-presets"), 1, "cannot write"),
    ],
)
def test_sweep_problems(args, code, message):
    result = specc_process("sweep", B0, *args)
    assert result.returncode == code and message in result.stderr
    assert "Traceback" not in result.stderr


# --- acceptance 4: graph export --------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydot's use of pyparsing
def test_graph_dot_is_valid_and_has_one_node_per_ir_node():
    result = run("graph", B0, "--preset", "b0", "--format", "dot")
    assert result.exit_code == 0
    (graph,) = pydot.graph_from_dot_data(result.output)

    def nodes(g: pydot.Dot | pydot.Subgraph) -> list[str]:
        own = [n.get_name().strip('"') for n in g.get_nodes()]
        return [n for n in own if n not in ("node", "edge", "graph")] + [
            name for sub in g.get_subgraphs() for name in nodes(sub)
        ]

    ir = specc.compile(B0, preset="b0").graph
    names = nodes(graph)
    assert len(names) == ir.number_of_nodes() and set(names) == set(ir.nodes)


def test_graph_json_to_a_file(tmp_path):
    out = tmp_path / "graph.json"
    result = run("graph", B0, "--phi", "1", "--set", "stages[0].repeats=2", "--format", "json",
                 "-o", str(out))  # fmt: skip
    assert result.exit_code == 0
    data = json.loads(out.read_text())
    ir = specc.compile(specc.load(B0, ["stages[0].repeats=2"]), phi=1).graph
    assert [node["id"] for node in data["nodes"]] == list(ir.nodes)
    assert len(data["edges"]) == ir.number_of_edges()
    assert data["graph"]["selector"]["label"] == "phi1"


def test_graph_spec_errors_are_located():
    result = specc_process("graph", B0, "--preset", "b66")
    assert result.returncode == 1 and "unknown preset 'b66'" in result.stderr
    assert "Traceback" not in result.stderr


# --- reports ---------------------------------------------------------------------------


def test_show_layers_prints_a_row_per_layer_with_totals():
    narrow = run("show", B0, "--preset", "b0", "--layers")  # a pipe: 80 columns
    assert narrow.exit_code == 0
    lines = narrow.output.splitlines()
    assert "activations" not in lines[1] and all(line == line.rstrip() for line in lines)
    result = CliRunner().invoke(main, ["show", B0, "--preset", "b0", "--layers"],
                                env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0
    ir = specc.compile(B0, preset="b0").graph
    rows = {line.split()[0]: line.split() for line in result.output.splitlines() if line.strip()}
    assert set(ir.nodes) <= set(rows)
    assert rows["stem.conv"][1:7] == ["conv", "3x224x224", "32x112x112", "3", "2", "1"]
    assert rows["stem.conv"][7:] == ["864", "10,838,016", "401,408"]
    total = rows["total"]
    assert total[1:3] == ["(250", "layers)"] and "5,288,548" in total


def test_show_markdown_prints_report_md_and_the_layer_table():
    report = run("show", B0, "--phi", "6", "--format", "markdown")
    assert report.exit_code == 0
    assert report.output == specc.api.report_markdown(specc.compile(B0, phi=6))
    layers = run("show", B0, "--format", "markdown", "--layers")
    assert "| stem.conv | conv | 3x224x224 | 32x112x112 | 3 | 2 | 1 | 864 |" in layers.output
    both = run("show", B0, "--format", "markdown", "--json")
    assert both.exit_code == 2 and "exclude each other" in both.output


def test_show_json_layers_adds_the_layer_list():
    data = json.loads(run("show", B0, "--json", "--layers").output)
    assert len(data["layers"]) == data["totals"]["layers"] == 250


def test_build_writes_report_md(tmp_path):
    out = tmp_path / "o"
    result = run("build", B0, "--phi", "6", "--out", str(out))
    assert result.exit_code == 0 and f"wrote {out / 'report.md'}" in result.output
    report = (out / "report.md").read_text()
    assert report.startswith("# EfficientNet, phi = 6\n") and "nearest by distance" in report


def test_inspection_commands_import_no_torch(tmp_path):
    probe = (
        "import sys; from specc.cli import main\n"
        "assert 'specc.tools.diff' not in sys.modules, 'importing the CLI loaded the tools'\n"
        "for args in sys.argv[1:]:\n"
        "    try:\n        main(args.split('|'))\n"
        "    except SystemExit as e:\n        assert e.code in (0, 1, None), (args, e.code)\n"
        "assert 'torch' not in sys.modules, 'an inspection command imported torch'\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib without --plot'\n"
    )
    commands = [
        f"diff|{PHI6}|{B6}|--format|unified",
        f"diff|{PHI6}|{B6}|--layers",
        f"sweep|{B0}|--phi|0:1",
        f"graph|{B0}|--format|json|-o|{tmp_path / 'g.json'}",
        f"show|{B0}|--layers",
    ]
    result = subprocess.run([sys.executable, "-c", probe, *commands], capture_output=True)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
