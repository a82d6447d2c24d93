"""`specc search` resolves the caller's relative paths before launching anything (issue 22):
every evaluation runs in its own folder, so `--data ../digits` or `python eval.py` must
mean what they mean where the user typed them, and a path that is wrong stops the search
before the first candidate (nothing recorded, nothing to --retry-failed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli import main
from specc.tools.search.evaluators import CommandEvaluator, TrainEvaluator, train_command

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "tests" / "data" / "digits_search.yaml")
SMALL = ["--step", "0.1", "--tolerance", "0.05", "--limit", "1"]

EVAL = """
import json, sys
config = json.load(open(sys.argv[1]))
print(json.dumps({"metric": config["alpha"]}))
"""


def test_a_relative_data_folder_is_the_callers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evaluator = TrainEvaluator("../digits")
    assert evaluator.data == str((tmp_path / ".." / "digits").resolve())
    argv = train_command(Path("/w/model/train.yaml"), evaluator.data, Path("/w/run"), 1, None)
    assert argv[argv.index("--data") + 1] == str(tmp_path.parent / "digits")


def test_relative_paths_of_an_eval_command_are_the_callers(tmp_path, monkeypatch):
    (tmp_path / "eval.py").write_text(EVAL)
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    command = CommandEvaluator("python eval.py {config} --data=data --flag data2")
    argv = command.argv(Path("/c.json"))
    assert argv == ["python", str(tmp_path / "eval.py"), "/c.json", f"--data={tmp_path / 'data'}",
                    "--flag", "data2"]  # fmt: skip


def test_a_search_from_another_folder_runs_its_relative_eval_script(tmp_path, monkeypatch):
    (tmp_path / "eval.py").write_text(EVAL)
    monkeypatch.chdir(tmp_path)
    args = ["search", SPEC, *SMALL, "--eval", f"{sys.executable} eval.py {{config}}", "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["status"] for row in rows] == ["ok"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--eval", "no-such-program-xyz {config}"], "--eval: no-such-program-xyz: no such"),
        (["--data", "missing-folder"], "no such folder"),
        (["--eval", "true {config}", "--plot", "nofolder/p.png"], "--plot: nofolder/p.png: no"),
        (["--eval", "true {config}", "--results", "nofolder/r.jsonl"], "--results: nofolder"),
    ],
)
def test_a_wrong_path_stops_the_search_before_it_launches(tmp_path, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["search", SPEC, *SMALL, *extra])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert list(tmp_path.iterdir()) == []  # no results file, no runs folder
