"""Benchmark and example: compound scaling of one small baseline on a user's own data.

scikit-learn's bundled digits (1,797 8x8 grayscale images, 10 classes) are written as an
ImageFolder (every fifth image to val/), the 1-channel baseline tests/data/digits.yaml is
built at phi = -1, 0 and 1, and each build is trained with its own train.yaml by
`specc train` on the CPU (one thread, fixed seed, the spec's 5 epochs). The table gives
each member's parameters, MACs, input size, final validation top-1 and training wall time.

    python benchmarks/digits_scaling.py [--phis -1,0,1] [--epochs 5] [--threads 1]

Writes benchmarks/results/digits_scaling.{json,md} with the machine and the command.
Needs torch, torchvision and scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPEC = ROOT / "tests" / "data" / "digits.yaml"


def write_digits(root: Path) -> Path:
    """<split>/<digit>/<index>.png, every fifth image to val/."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for index, (pixels, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = root / ("val" if index % 5 == 0 else "train") / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((pixels * 255 / 16).astype(np.uint8), "L").save(folder / f"{index}.png")
    return root


def train_member(phi: float, data: Path, work: Path, epochs: int) -> dict[str, object]:
    import specc
    from specc.runtime.train.setup import TrainOptions
    from specc.runtime.train.trainer import train

    arch = specc.compile(SPEC, phi=phi)
    folder = work / arch.label
    specc.write(arch, folder)
    out = work / "runs" / arch.label
    options = TrainOptions(folder / "train.yaml", str(data), epochs=epochs, out=out)
    started = time.perf_counter()
    state = train(options)
    wall = time.perf_counter() - started
    return {
        "phi": phi,
        "label": arch.label,
        "params": arch.params,
        "macs": arch.macs,
        "resolution": arch.resolved.resolution,
        "val_top1": state.history[-1].get("eval_top1"),
        "wall_s": round(wall, 1),
    }


def markdown(rows: list[dict[str, object]], command: str, machine: str) -> str:
    lines = [
        "# digits_scaling: one baseline at three phis on scikit-learn's digits",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine}",
        "",
        "| phi | model | params | MACs | input px | val top-1 | wall (s) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['phi']} | {r['label']} | {r['params']:,} | {r['macs']:,} | "
            f"{r['resolution']} | {r['val_top1']:.3f} | {r['wall_s']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phis", default="-1,0,1", help="comma-separated phis")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    phis = [float(p) if "." in p else int(p) for p in args.phis.split(",")]
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        data = write_digits(work / "data")
        rows = [train_member(phi, data, work, args.epochs) for phi in phis]
    machine = (
        f"{platform.machine()} CPU, {os.cpu_count()} cores (shared with other jobs), "
        f"{torch.get_num_threads()} torch thread(s); Python {platform.python_version()}, "
        f"torch {torch.__version__}"
    )
    command = "python benchmarks/digits_scaling.py " + " ".join(sys.argv[1:])
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {"command": command.strip(), "machine": machine, "rows": rows}
    (RESULTS / "digits_scaling.json").write_text(json.dumps(record, indent=2) + "\n")
    text = markdown(rows, command.strip(), machine)
    (RESULTS / "digits_scaling.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
