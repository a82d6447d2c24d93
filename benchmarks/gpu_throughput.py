"""Benchmark: generated models against torchvision (and timm) on one card, side by side.

For presets b0, b4, b7 and for phi = 6 (no reference has it), in one run, with identical
settings (bf16 autocast, channels_last, cudnn.benchmark, synthetic input already on the
device, CUDA events, warm-up, median of many steps):
- inference images/s of torchvision's model, timm's (when installed), the generated model
  and the fused generated model, eager and under torch.compile, timed interleaved;
- training-step images/s and peak memory (forward + cross-entropy + backward + RMSprop) of
  the same models, eager and compiled;
- `specc train --data synthetic --compile` on B0 against the bare compiled training step of
  the same generated model (via benchmarks/train_throughput.py).
Prints ratio tables (generated / torchvision) and writes benchmarks/results/
gpu_throughput-<device>[-quick].{json,md} with the card, driver, versions and command.

    python benchmarks/gpu_throughput.py --device cuda                 # the full run (GPU)
    python benchmarks/gpu_throughput.py --device cuda --models b0 --no-compile
    python benchmarks/gpu_throughput.py --device cpu --quick          # CI: checks the script
                                                        (eager only; b0 at 64 px)

On a GPU machine without specc's dependencies (pydantic, ...): benchmarks/gpu/run.sh
installs them from the wheels benchmarks/gpu/prepare.sh downloaded (see README, Deploy).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "benchmarks"))

import specc  # noqa: E402
from specc.runtime.deploy.bench import BenchConfig, time_interleaved  # noqa: E402
from specc.runtime.deploy.bench import environment as bench_environment  # noqa: E402
from specc.runtime.deploy.latency import Timing  # noqa: E402
from specc.runtime.model import load_model, open_folder  # noqa: E402

# name: (selector, torchvision/timm name or None, batch); the anchors' batches on an H200.
MODELS: dict[str, tuple[dict[str, Any], str | None, int]] = {
    "b0": ({"preset": "b0"}, "efficientnet_b0", 256),
    "b4": ({"preset": "b4"}, "efficientnet_b4", 64),
    "b7": ({"preset": "b7"}, "efficientnet_b7", 32),
    "phi6": ({"phi": 6.0}, None, 32),
}
QUICK_RESOLUTION = {"b0": 64, "phi6": 28}  # phi = 6 scales 28 px to 65 px


def build(name: str, folder: Path, quick: bool) -> Path:
    selector = dict(MODELS[name][0])
    overrides = []
    if quick:
        overrides.append(f"input.resolution={QUICK_RESOLUTION[name]}")
        selector.pop("preset", None)  # a preset fixes its own resolution
    arch = specc.compile(ROOT / "specs" / "b0.yaml", overrides=overrides, **selector)
    specc.write(arch, folder / name)
    return folder / name


def references(name: str) -> dict[str, torch.nn.Module]:
    reference = MODELS[name][1]
    if reference is None:
        return {}
    import torchvision

    found = {"torchvision": torchvision.models.get_model(reference)}
    try:
        import timm

        found["timm"] = timm.create_model(reference)
    except ImportError:
        pass
    return found


def inference(modules: dict[str, torch.nn.Module], x: torch.Tensor, config: BenchConfig,
              use_compile: bool) -> dict[str, Timing]:  # fmt: skip
    forwards = {}
    for label, module in modules.items():
        module = module.eval().to(x.device, memory_format=torch.channels_last)
        variants = [(label, module)]
        if use_compile:
            variants.append((f"{label} compiled", torch.compile(module)))
        for key, fn in variants:
            forwards[key] = _autocast(fn, x.device.type)
    return time_interleaved(forwards, x, config)


def _autocast(fn: Any, device: str) -> Any:
    def forward(x: torch.Tensor) -> Any:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            return fn(x)

    return forward


def train_step_rate(module: torch.nn.Module, x: torch.Tensor, steps: int, warmup: int,
                    use_compile: bool) -> tuple[Timing, float | None]:  # fmt: skip
    """Per-step time and peak GiB of a bare training step (the anchors' definition)."""
    device = x.device
    module = module.train().to(device, memory_format=torch.channels_last)
    model = torch.compile(module) if use_compile else module
    optimizer = torch.optim.RMSprop(module.parameters(), lr=0.016, alpha=0.9, eps=1e-3,
                                    momentum=0.9)  # fmt: skip
    y = torch.randint(0, 1000, (x.shape[0],), device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    samples = []
    for _ in range(steps):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(True)
            start.record()
            step()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end))
        else:
            import time

            begin = time.perf_counter()
            step()
            samples.append((time.perf_counter() - begin) * 1e3)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    return Timing.from_samples(samples), peak


def _free() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def measure_model(name: str, folder: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    device = torch.device(args.device)
    batch = args.batch or (2 if args.quick else MODELS[name][2])
    shape = open_folder(folder).require_record()[0]
    x = torch.randn(batch, *shape, device=device)
    x = x.contiguous(memory_format=torch.channels_last)
    rows = []
    config = BenchConfig(device=args.device, batches=(batch,), rounds=args.rounds,
                         iters=args.iters, warmup=args.warmup)  # fmt: skip
    modules = {**references(name), "generated": load_model(folder).eval(),
               "fused": load_model(folder, fuse=True)}  # fmt: skip
    for label, timing in inference(modules, x, config, args.compile).items():
        rows.append(_row(name, "inference", label, batch, timing))
    del modules
    _free()
    trainable = {**references(name), "generated": load_model(folder).eval()}
    for label, module in trainable.items():
        for use_compile in (False, True) if args.compile else (False,):
            timing, peak = train_step_rate(module, x, args.steps, args.warmup, use_compile)
            key = f"{label} compiled" if use_compile else label
            rows.append(_row(name, "training", key, batch, timing, peak))
            _free()
    return rows


def _row(model: str, mode: str, candidate: str, batch: int, timing: Timing,
         peak: float | None = None) -> dict[str, Any]:  # fmt: skip
    return {"model": model, "mode": mode, "candidate": candidate, "batch": batch,
            "images_per_s": batch / (timing.median_ms / 1e3), "median_ms": timing.median_ms,
            "iqr_pct": 100 * timing.spread, "runs": timing.runs, "peak_gib": peak}  # fmt: skip


def trainer_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """`specc train --data synthetic` (compiled when --compile) on B0, against the bare
    compiled step of the same generated model at the same batch and resolution."""
    from train_throughput import specc_rate

    batch = args.batch or (2 if args.quick else MODELS["b0"][2])
    size = QUICK_RESOLUTION["b0"] if args.quick else None
    rate, peak = specc_rate(batch, args.steps, args.compile, size)
    peak = peak if peak == peak else None  # NaN on the CPU
    with tempfile.TemporaryDirectory() as tmp:
        folder = build("b0", Path(tmp), args.quick)
        shape = open_folder(folder).require_record()[0]
        x = torch.randn(batch, *shape, device=args.device)
        x = x.contiguous(memory_format=torch.channels_last)
        timing, bare_peak = train_step_rate(load_model(folder).eval(), x, args.steps,
                                            args.warmup, args.compile)  # fmt: skip
    bare = _row("b0", "trainer", "bare step" + (" compiled" if args.compile else ""), batch,
                timing, bare_peak)  # fmt: skip
    label = "specc train synthetic" + (" --compile" if args.compile else "")
    return [bare, {"model": "b0", "mode": "trainer", "candidate": label, "batch": batch,
                   "images_per_s": rate, "median_ms": batch / rate * 1e3, "iqr_pct": None,
                   "runs": args.steps, "peak_gib": peak}]  # fmt: skip


def ratios(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines: each candidate's images/s (and peak memory) over torchvision's
    of the same model, mode and compilation; fused over torchvision's inference."""
    lines = ["| model | mode | candidate | images/s | IQR % | peak GiB | vs torchvision |",
             "|---|---|---|---:|---:|---:|---:|"]  # fmt: skip
    index = {(r["model"], r["mode"], r["candidate"]): r for r in rows}
    for r in rows:
        compiled = " compiled" if r["candidate"].endswith("compiled") else ""
        base = index.get((r["model"], r["mode"], "torchvision" + compiled))
        if r["mode"] == "trainer":
            bare = "bare step" + (" compiled" if "compile" in r["candidate"] else "")
            base = index.get(("b0", "trainer", bare))
        ratio = "" if base is None else f"{r['images_per_s'] / base['images_per_s']:.3f}x"
        if base is not None and r["peak_gib"] and base["peak_gib"]:
            ratio += f" (mem {r['peak_gib'] / base['peak_gib']:.2f}x)"
        iqr = "" if r["iqr_pct"] is None else f"{r['iqr_pct']:.0f}"
        peak = "" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
        lines.append(f"| {r['model']} | {r['mode']} | {r['candidate']} | "
                     f"{r['images_per_s']:,.1f} | {iqr} | {peak} | {ratio} |")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    parser.add_argument("--models", help="comma-separated (default b0,b4,b7,phi6; quick: b0)")
    parser.add_argument("--batch", type=int, help="one batch for every model (default: per model)")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved inference rounds")
    parser.add_argument("--iters", type=int, default=5, help="inference calls per round")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument("--no-trainer", dest="trainer", action="store_false")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--quick", action="store_true", help="CI: b0 at 64 px, eager only")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available (use --device cpu --quick)")
    if args.quick:
        # compiling on a CPU takes minutes per graph: quick mode checks the eager paths
        args.rounds, args.iters, args.steps, args.warmup = 2, 1, 2, 1
        args.models = args.models or "b0"
        args.compile = False
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
    models = (args.models or "b0,b4,b7,phi6").split(",")
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}: choose from {sorted(MODELS)}")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            rows += measure_model(name, build(name, Path(tmp), args.quick), args)
            print("\n".join(ratios([r for r in rows if r["model"] == name])), flush=True)
    if args.trainer:
        rows += trainer_rows(args)
    write_results(args, rows, argv)
    return 0


def write_results(args: argparse.Namespace, rows: list[dict[str, Any]], argv: list[str] | None
                  ) -> None:  # fmt: skip
    command = " ".join(["python", "benchmarks/gpu_throughput.py", *(argv or sys.argv[1:])])
    env = bench_environment(args.device)
    stem = f"gpu_throughput-{args.device}" + ("-quick" if args.quick else "")
    settings = {k: getattr(args, k) for k in ("rounds", "iters", "steps", "warmup", "compile")}
    args.results.mkdir(parents=True, exist_ok=True)
    data = {"command": command, "environment": env, "settings": settings, "rows": rows}
    (args.results / f"{stem}.json").write_text(json.dumps(data, indent=2) + "\n")
    table = "\n".join(ratios(rows))
    header = (
        f"# Generated vs torchvision on {env.get('gpu') or env['cpu']}\n\n"
        f"Command: `{command}`\n\nEnvironment: {env}\n\nSettings: {settings}\n\n"
    )
    (args.results / f"{stem}.md").write_text(header + table + "\n")
    print(table)
    print(f"wrote {args.results / stem}.json and .md")


if __name__ == "__main__":
    sys.exit(main())
