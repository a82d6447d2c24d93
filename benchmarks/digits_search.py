"""Example and benchmark: the paper's step 1 on a real (small) data set, end to end.

scikit-learn's digits (1,797 8x8 images, 10 classes) written as an ImageFolder of 16 px RGB
PNGs (every fifth image of a class in val/), the tiny baseline tests/data/digits_search.yaml, and

    specc search tests/data/digits_search.yaml --step 0.1 --tolerance 0.05 --data DIGITS \\
        --epochs E --jobs J --plot ... --results ...

which trains every candidate of the grid (10, of which two build the same network: 9
trainings) with specc's trainer on the CPU and ranks them by validation top-1.

    python benchmarks/digits_search.py [--epochs 4] [--jobs 2]

Writes benchmarks/results/digits_search.{md,png,jsonl}: the ranked table with params,
MACs, resolution, wall time per candidate, the whole search's wall time, the machine and
the command; the plot of accuracy against MACs with the Pareto front.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPEC = ROOT / "tests" / "data" / "digits_search.yaml"


def write_digits(root: Path, size: int = 16) -> Path:
    """load_digits as RGB PNGs upscaled to `size`: root/{train,val}/<digit>/NNNN.png."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    counts: dict[int, int] = {}
    for pixels, label in zip(digits.images, digits.target, strict=True):
        index = counts[label] = counts.get(label, 0) + 1
        folder = root / ("val" if index % 5 == 0 else "train") / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        gray = Image.fromarray((pixels * (255 / 16)).astype("uint8"), mode="L")
        image = gray.resize((size, size), Image.Resampling.BILINEAR).convert("RGB")
        image.save(folder / f"{index:04d}.png")
    return root


def markdown(
    rows: list[dict], command: str, wall: float, args: argparse.Namespace, progress: list[str]
) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "# Coefficient search on scikit-learn's digits",
        "",
        f"Command: `{command}` (via `python benchmarks/digits_search.py --epochs {args.epochs} "
        f"--jobs {args.jobs}`); machine: {os.cpu_count()} CPUs ({cpu}), no GPU, shared with "
        f"other work; {args.jobs} candidates at a time, one thread each. Whole search: "
        f"{wall:.0f} s wall.",
        "",
        "Candidates at phi = 1, ranked by validation top-1 (raw weights, last epoch). "
        "`duplicate`: builds the same network as another candidate, trained once.",
        "",
        "| rank | alpha | beta | gamma | resolution | params | MMACs | MACs ratio "
        "| val top-1 | EMA top-1 | wall s | status |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for index, r in enumerate(rows, 1):
        top1 = "" if r["metric"] is None else f"{r['metric']:.4f}"
        ema = "" if r["ema_top1"] is None else f"{r['ema_top1']:.4f}"
        lines.append(
            f"| {index} | {r['alpha']:g} | {r['beta']:g} | {r['gamma']:g} | {r['resolution']} "
            f"| {r['params']:,} | {r['macs'] / 1e6:.3f} | {r['macs_ratio']:.3f} | {top1} "
            f"| {ema} | {r['wall_s'] or 0:.1f} | {r['status']} |"
        )
    lines += ["", "Progress lines, as printed while it ran:", "", "```", *progress, "```"]
    lines += ["", "![accuracy against MACs](digits_search.png)", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = write_digits(Path(tmp) / "digits")
        results = Path(tmp) / "search.jsonl"
        plot = RESULTS / "digits_search.png"
        argv = ["specc", "search", "tests/data/digits_search.yaml", "--step", "0.1", "--tolerance",
                "0.05", "--data", "DIGITS", "--epochs", str(args.epochs), "--jobs",
                str(args.jobs), "--results", "search.jsonl", "--plot",
                "benchmarks/results/digits_search.png", "--json"]  # fmt: skip
        real = [str(data) if a == "DIGITS" else a for a in argv[1:]]
        real = [str(results) if a == "search.jsonl" else a for a in real]
        real = [str(plot) if a.endswith("digits_search.png") else a for a in real]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "specc", *real], cwd=ROOT, env=env,
                              capture_output=True, text=True)  # fmt: skip
        wall = time.monotonic() - started
        sys.stderr.write(done.stderr)
        if done.returncode != 0:
            sys.exit(f"the search failed (exit {done.returncode})")
        rows = json.loads(done.stdout)
        progress = [line for line in done.stderr.splitlines() if line.startswith("[")]
        with (RESULTS / "digits_search.jsonl").open("w") as handle:  # for replotting
            for row in rows:
                run = "/".join(Path(row["run"]).parts[-2:])  # <key>/run, under the runs folder
                handle.write(json.dumps({**row, "run": run}) + "\n")
    text = markdown(rows, " ".join(argv), wall, args, progress)
    (RESULTS / "digits_search.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
