"""Benchmark: predicted against measured training memory.

For each model, resolution, batch and setting (fp32, bf16 autocast, bf16 autocast with
channels-last), the IR's prediction (`specc.passes.memory`) of the bytes autograd saves
for backward, beside the bytes PyTorch saves in one training step of the generated module
(`specc.runtime.memory.measure_saved`: saved_tensors_hooks, counted once per storage).
Where CUDA is present, each step also records torch.cuda.max_memory_allocated beside
the predicted peak (`specc.passes.step_memory`, without optimiser and EMA, which a bare
forward/backward does not allocate).

    python benchmarks/train_memory.py [--device cpu|cuda] [--quick]

Models at reduced resolution on the CPU (EfficientNet-B7 at 600 px saves 3.9 GB per image
in fp32). Writes benchmarks/results/train_memory.{json,md} (`--device cuda`:
train_memory-cuda.{json,md}).
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
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import specc  # noqa: E402
from specc.passes.memory import Setting, saved_bytes  # noqa: E402
from specc.runtime.memory import measure_saved  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
# name, spec, preset, (CPU resolutions), (CUDA resolutions)
MODELS = [
    ("B0", "specs/b0.yaml", "b0", (48, 64), (224, 224)),
    ("B4", "specs/b0.yaml", "b4", (48, 64), (380, 380)),
    ("B7", "specs/b0.yaml", "b7", (48, 64), (600, 600)),
    ("ResNet-50", "specs/resnet50.yaml", None, (48, 64), (224, 224)),
    ("ConvNeXt-T", "specs/convnext_tiny.yaml", None, (48, 64), (224, 224)),
    ("MobileNetV3-L", "specs/mobilenet_v3_large.yaml", None, (48, 64), (224, 224)),
    ("MixNet-S", "specs/mixnet_s.yaml", None, (48, 64), (224, 224)),
    ("digits", "tests/data/digits.yaml", None, (32, 48), (32, 64)),
]
SETTINGS = [("float32", False), ("bfloat16", False), ("bfloat16", True)]


def compile_at(spec: str, preset: str | None, resolution: int) -> Any:
    key = f"presets.{preset}.resolution" if preset else "input.resolution"
    return specc.compile(ROOT / spec, preset=preset, overrides=[f"{key}={resolution}"])


def run(device: str, quick: bool, done: Any = None) -> list[dict[str, object]]:
    """Every measurement, the first resolution of every model before the second ones (so
    an interrupted run covers every model); `done(rows)` after each row."""
    rows: list[dict[str, object]] = []
    batches = (1, 2) if device == "cpu" else (8, 16)
    models = MODELS[:2] if quick else MODELS
    for which in (0, 1):
        for name, spec, preset, cpu_res, cuda_res in models:
            resolution = (cpu_res if device == "cpu" else cuda_res)[which]
            if which == 1 and resolution == (cpu_res if device == "cpu" else cuda_res)[0]:
                continue
            rows += measure_model(name, spec, preset, resolution, device, batches)
            if done is not None:
                done(rows)
    return rows


def measure_model(
    name: str, spec: str, preset: str | None, resolution: int, device: str, batches: tuple[int, ...]
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    arch = compile_at(spec, preset, resolution)
    torch.manual_seed(0)
    model = specc.instantiate(arch).to(device)
    same = arch.resolved.defaults.padding == "same"
    for precision, channels_last in SETTINGS:
        setting = Setting(precision, device)
        predicted = saved_bytes(arch.graph, setting, same_padding=same)
        layout = torch.channels_last if channels_last else torch.contiguous_format
        model = model.to(memory_format=layout)  # type: ignore[call-overload]
        for batch in batches:
            x = torch.randn(batch, *arch.input_shape, device=device)
            x = x.contiguous(memory_format=layout)
            start = time.perf_counter()
            measured = measure_saved(model, x, precision=precision)
            row: dict[str, object] = {
                "model": name, "resolution": resolution, "batch": batch,
                "precision": precision, "channels_last": channels_last,
                "predicted": predicted.at(batch), "measured": measured.saved,
                "difference": predicted.at(batch) - measured.saved,
                "seconds": round(time.perf_counter() - start, 2),
            }  # fmt: skip
            if measured.cuda_peak is not None:
                step = arch.step_memory(precision, grad_checkpointing=False, device=device)
                row["cuda_max_memory_allocated"] = measured.cuda_peak
                # a bare forward/backward: weights, gradients, activations, transient
                row["predicted_peak_no_optimiser"] = (
                    step.weights + step.gradients + step.saved.at(batch)
                    + step.transient_per_image * batch
                )  # fmt: skip
            rows.append(row)
            print(_line(row), flush=True)
    return rows


def _line(row: dict[str, object]) -> str:
    layout = " CL" if row["channels_last"] else ""
    text = (
        f"{row['model']:<14} {row['resolution']:>4}px b{row['batch']:<3} "
        f"{row['precision']:<8}{layout:<3} predicted {row['predicted']:>13,} "
        f"measured {row['measured']:>13,} diff {row['difference']:+,}"
    )
    if "cuda_max_memory_allocated" in row:
        text += f" cuda peak {row['cuda_max_memory_allocated']:,}"
    return text


def machine(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    text = f"{platform.system()} {cpu}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    if device == "cuda":
        text += f", {torch.cuda.get_device_name()}"
    return text


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def write(rows: list[dict[str, object]], device: str, command: str, stem: str = "") -> None:
    exact = sum(1 for row in rows if row["difference"] == 0)
    worst = max(abs(int(row["difference"])) / int(row["measured"]) for row in rows)  # type: ignore[call-overload]
    summary = f"{exact}/{len(rows)} exact; largest difference {worst:.2%} of the measured bytes"
    stem = stem or ("train_memory" if device == "cpu" else "train_memory-cuda")
    data = {
        "command": command,
        "machine": machine(device),
        "commit": commit(),
        "summary": summary,
        "rows": rows,
    }
    (RESULTS / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n")
    lines = [
        "# Training memory: predicted vs measured saved activations",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine(device)}; commit {commit()}  ",
        f"Result: **{summary}**",
        "",
        "Saved bytes: what autograd holds for backward after one training forward "
        "(saved_tensors_hooks, counted once per storage; weights excluded). CL: channels-last.",
        "",
        "| model | px | batch | precision | predicted | measured | difference |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        precision = f"{row['precision']}{' CL' if row['channels_last'] else ''}"
        lines.append(
            f"| {row['model']} | {row['resolution']} | {row['batch']} | {precision} | "
            f"{row['predicted']:,} | {row['measured']:,} | {row['difference']:+,} |"
        )
    cuda = [row for row in rows if "cuda_max_memory_allocated" in row]
    if cuda:
        lines += [
            "",
            "GPU: torch.cuda.max_memory_allocated over a bare forward/backward beside the "
            "predicted weights + gradients + saved activations + transient.",
            "",
            "| model | px | batch | precision | predicted peak | max_memory_allocated |",
            "|---|---:|---:|---|---:|---:|",
        ]
        lines += [
            f"| {row['model']} | {row['resolution']} | {row['batch']} | {row['precision']}"
            f"{' CL' if row['channels_last'] else ''} | {row['predicted_peak_no_optimiser']:,} | "
            f"{row['cuda_max_memory_allocated']:,} |"
            for row in cuda
        ]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--quick", action="store_true", help="B0 and B4 only, no results written")
    parser.add_argument("--models", help="comma-separated names (default: all), e.g. B0,digits")
    parser.add_argument("--results", default="", help="results file stem (default train_memory)")
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    if args.models:
        MODELS[:] = [m for m in MODELS if m[0] in args.models.split(",")]
    flags = " --device cuda" if args.device == "cuda" else ""
    command = f"python benchmarks/train_memory.py{flags}"
    # results are rewritten after every model, so an interrupted run keeps what it measured
    run(
        args.device,
        args.quick,
        None if args.quick else lambda rows: write(rows, args.device, command, args.results),
    )


if __name__ == "__main__":
    main()
