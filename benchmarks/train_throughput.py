"""Benchmark: training throughput of specc's trainer against a bare training step.

Measured in one run, on one device:
- bare: torchvision's efficientnet_b0, random input already on the device, bf16 autocast,
  channels_last, forward + cross-entropy + backward + RMSprop step, nothing else;
- specc: `specc train` on generated/efficientnet-b0/train.yaml with `--data synthetic`
  (a fixed batch on the device), eager and with --compile. Its step also updates the
  learning rate and the EMA of the weights and applies label smoothing: that is the
  trainer's own work, and its cost is what the ratio shows (target: within 5%).

    python benchmarks/train_throughput.py [--batch 256] [--steps 30] [--compile]

Writes benchmarks/results/train_throughput.{json,md} with the card and the versions. On a
machine without a GPU it runs a small CPU smoke configuration (batch 8, 96 px) that checks
the script, not the target.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def bare_step_rate(batch: int, size: int, steps: int, device: torch.device) -> tuple[float, float]:
    """Images/s and peak GiB of torchvision's efficientnet_b0 bare training step."""
    import torchvision

    model = torchvision.models.efficientnet_b0().to(device)
    cuda = device.type == "cuda"
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.016, alpha=0.9, eps=1e-3, momentum=0.9)
    x = torch.randn(batch, 3, size, size, device=device)
    if cuda:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=device)
    times = []
    for index in range(steps + 5):
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if cuda:
            torch.cuda.synchronize()
        if index >= 5:  # warm-up steps excluded
            times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else float("nan")
    return batch / statistics.median(times), peak


def specc_rate(batch: int, steps: int, use_compile: bool, size: int | None) -> tuple[float, float]:
    """Images/s and peak GiB of `specc train --data synthetic` on generated efficientnet-b0."""
    import specc
    from specc.runtime.train.setup import TrainOptions
    from specc.runtime.train.trainer import train

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "b0"
        overrides = [f"training.batch_size={batch}", f"training.log_interval={10**9}"]
        if size is not None:
            overrides.append(f"input.resolution={size}")
        specc.write(specc.compile(ROOT / "specs" / "b0.yaml", preset="b0" if size is None else None,
                                  overrides=overrides), folder)  # fmt: skip
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        # Two epochs: the first warms up (cudnn autotuning, compilation), the second is timed.
        options = TrainOptions(folder / "train.yaml", data="synthetic", epochs=2,
                               synthetic_images=batch * steps, out=Path(tmp) / "run",
                               compile="inductor" if use_compile else None)  # fmt: skip
        state = train(options)
    row = state.history[-1]
    return float(row["images_per_s"]), float(row.get("peak_memory_gib") or float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--compile", action="store_true", help="also time specc train --compile")
    args = parser.parse_args()

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    batch, steps, size = (args.batch, args.steps, 224) if cuda else (8, 5, 96)
    card = torch.cuda.get_device_name(0) if cuda else f"CPU ({platform.processor() or 'unknown'})"
    rows = []
    bare, bare_peak = bare_step_rate(batch, size, steps, device)
    rows.append(("torchvision efficientnet_b0, bare step", bare, bare_peak))
    for use_compile in (False, True) if args.compile else (False,):
        rate, peak = specc_rate(batch, steps, use_compile, None if cuda else size)
        label = "specc train (synthetic)" + (" --compile" if use_compile else "")
        rows.append((label, rate, peak))

    lines = ["| run | images/s | peak GiB | vs bare |", "|---|---:|---:|---:|"]
    lines += [
        f"| {name} | {rate:,.1f} | {peak:.2f} | {rate / bare:.3f} |" for name, rate, peak in rows
    ]
    table = "\n".join(lines)
    print(table)
    command = " ".join(["python", "benchmarks/train_throughput.py", *sys.argv[1:]])
    versions = {"torch": torch.__version__, "python": platform.python_version()}
    try:
        import torchvision

        versions["torchvision"] = torchvision.__version__
    except ImportError:
        pass
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "train_throughput.json").write_text(json.dumps({
        "command": command, "card": card, "versions": versions, "batch": batch, "size": size,
        "rows": [{"run": n, "images_per_s": r, "peak_gib": p} for n, r, p in rows],
    }, indent=2) + "\n")  # fmt: skip
    note = (
        ""
        if cuda
        else (
            "\n**CPU smoke run** (no GPU on this machine): batch 8 at 96 px; it checks that the "
            "script works and is not the 5% target measurement, which needs a GPU.\n"
        )
    )
    header = (
        f"# Training throughput\n\nCommand: `{command}`; card: {card}; "
        f"versions: {versions}.\n{note}\n"
    )
    (RESULTS / "train_throughput.md").write_text(header + table + "\n")


if __name__ == "__main__":
    main()
