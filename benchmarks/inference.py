"""Benchmark: inference speed of generated models against torchvision's, in one run.

Per model (EfficientNet-B0, B4 and MobileNetV2 built from specs/), images/s and latency of
torchvision's model, the generated model, the fused generated model (`model.fuse()`), each
eager and (with --compile) under torch.compile, and onnxruntime on the exported fused ONNX;
ratios are to torchvision eager in the same run. Candidates are timed interleaved, round by
round, so that a shared machine's noise falls on all of them alike (specc.runtime.deploy.bench).

    python benchmarks/inference.py --device cpu [--batches 1,8] [--compile] [--threads N]
    python benchmarks/inference.py --device cpu --quick      # CI: B0 at 64 px, seconds
    python benchmarks/inference.py --device cuda --batches 1,64,256 --compile

CPU target: fused generated >= 1.2x torchvision eager at batch 1 and 8 on B0.
Unless --no-fit, a live `specc fit --target-latency` follows on the same device: the largest
phi of specs/b0.yaml whose fused model at batch 1 is within 1.5x the fused B0's latency just
measured (a fresh cache, so every model is timed).
Writes benchmarks/results/inference-<device>[-quick].{json,md} with the machine, versions
and command (--results DIR to write elsewhere).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import specc  # noqa: E402
from specc.runtime.deploy.bench import BenchConfig, bench_folder, environment, markdown, row_json  # noqa: E402

# name: (spec, selector, torchvision model, --set overrides)
MODELS = {
    "b0": ("b0.yaml", {"preset": "b0"}, "efficientnet_b0", ["defaults.norm.eps=1e-5"]),
    "b4": ("b0.yaml", {"preset": "b4"}, "efficientnet_b4", ["defaults.norm.eps=1e-5"]),
    "mobilenet_v2": ("mobilenet_v2.yaml", {}, "mobilenet_v2", []),
}


def build(name: str, folder: Path, resolution: int | None) -> Path:
    spec, selector, _, overrides = MODELS[name]
    overrides = overrides + ([f"input.resolution={resolution}"] if resolution else [])
    if resolution:  # a preset fixes its own resolution; a phi of 0 keeps the override
        selector = {}
    arch = specc.compile(ROOT / "specs" / spec, overrides=overrides, **selector)
    specc.write(arch, folder / name)
    return folder / name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--models", default="b0,b4,mobilenet_v2")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--no-onnx", action="store_true", help="leave onnxruntime out")
    parser.add_argument("--threads", type=int, help="torch and onnxruntime threads (CPU)")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction)
    parser.add_argument("--no-fit", dest="fit", action="store_false", help="skip the live fit")
    parser.add_argument("--profile", action="store_true", help="per-op time shares of B0, eager")
    parser.add_argument("--quick", action="store_true", help="CI: B0 at 64 px, few rounds")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--name", help="results file stem (default inference-DEVICE[-quick])")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    models = ["b0"] if args.quick else args.models.split(",")
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}: choose from {sorted(MODELS)}")
    config = BenchConfig(
        device=args.device,
        batches=(1, 2) if args.quick else tuple(int(b) for b in args.batches.split(",")),
        rounds=3 if args.quick else args.rounds,
        iters=1 if args.quick else args.iters,
        warmup=1 if args.quick else 3,
        compile=args.compile,
        onnx=not args.no_onnx,
        channels_last=args.channels_last,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            folder = build(name, Path(tmp), 64 if args.quick else None)
            rows += bench_folder(folder, name, MODELS[name][2], config)
            print(markdown([r for r in rows if r.model == name]), flush=True)
    fitted = live_fit(rows, args.device) if args.fit and not args.quick and "b0" in models else None
    shares = profile_b0(config) if args.profile else None
    write_results(args, config, rows, argv, fitted, shares)
    return 0


def profile_b0(config: BenchConfig) -> str:
    """Markdown: the ops torchvision's and the fused B0 spend their CPU time in, eager."""
    from specc.runtime.deploy.bench import op_shares, torchvision_model
    from specc.runtime.model import load_model

    lines = ["| batch | model | op: share of CPU time (calls per forward) |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        fused = load_model(build("b0", Path(tmp), None), fuse=True)
    models = {"torchvision": torchvision_model("efficientnet_b0").eval(), "fused": fused}
    for batch in config.batches:
        x = torch.randn(batch, 3, 224, 224)
        for name, model in models.items():
            ops = "; ".join(
                f"{op} {100 * share:.0f}% ({n})" for op, share, n in op_shares(model, x)
            )
            lines.append(f"| {batch} | {name} | {ops} |")
    text = "\n".join(lines) + "\n"
    print(text)
    return text


def live_fit(rows: list, device: str) -> dict:
    """`fit --target-latency` at 1.5x the fused B0's batch-1 latency, measured live."""
    from dataclasses import asdict

    from specc.runtime.deploy.latency import LatencyCache, ModelLatency
    from specc.tools.fit import fit

    base = next(r for r in rows if (r.model, r.candidate, r.batch) == ("b0", "fused", 1))
    budget = 1.5 * base.timing.median_ms
    with tempfile.TemporaryDirectory() as tmp:
        latency = ModelLatency(device, 1, False, LatencyCache(Path(tmp) / "latency.json"))
        result = fit(specc.load(ROOT / "specs" / "b0.yaml"), metric="latency", budget=budget,
                     precision=1e-3, measure=lambda arch: latency(arch).median_ms)  # fmt: skip
    chosen, after = latency(result.arch), result.next_arch and latency(result.next_arch)
    print(f"fit --target-latency {budget:.2f}: phi = {result.phi:g}, {chosen.describe()}; "
          f"next phi {result.next_phi:.6g}: {after.describe() if after else 'refused'}; "
          f"{latency.measured} models measured")  # fmt: skip
    return {"budget_ms": budget, "phi": result.phi, "chosen": asdict(chosen),
            "next_phi": result.next_phi, "next": asdict(after) if after else None,
            "measured": latency.measured, "device": latency.label}  # fmt: skip


def write_results(args: argparse.Namespace, config: BenchConfig, rows: list,
                  argv: list[str] | None, fitted: dict | None, shares: str | None
                  ) -> None:  # fmt: skip
    command = " ".join(["python", "benchmarks/inference.py", *(argv or sys.argv[1:])])
    env = environment(args.device)
    stem = args.name or f"inference-{args.device}" + ("-quick" if args.quick else "")
    args.results.mkdir(parents=True, exist_ok=True)
    settings = {
        "batches": list(config.batches), "rounds": config.rounds, "iters": config.iters,
        "compile": config.compile, "channels_last": config.memory_format == torch.channels_last,
        "dtype": "bfloat16 autocast" if args.device == "cuda" else "float32",
    }  # fmt: skip
    data = {"command": command, "environment": env, "settings": settings,
            "rows": [row_json(r) for r in rows], "fit_latency": fitted,
            "profile": shares}  # fmt: skip
    (args.results / f"{stem}.json").write_text(json.dumps(data, indent=2) + "\n")
    header = (
        f"# Inference benchmark ({args.device})\n\nCommand: `{command}`\n\n"
        f"Machine: {env['machine']}, {env.get('gpu') or env['cpu']}, {env['threads']} threads; "
        f"torch {env['torch']}, torchvision {env.get('torchvision')}, onnxruntime "
        f"{env.get('onnxruntime')}. Settings: {settings}.\n\n"
        "Latency is per call of one batch: the median over interleaved rounds, with the "
        "interquartile range in % of it. Ratios are images/s over torchvision eager's.\n\n"
    )
    fit_text = (
        ""
        if fitted is None
        else (
            f"\nLive `fit --target-latency {fitted['budget_ms']:.2f}` (1.5x fused B0, batch 1): "
            f"phi = {fitted['phi']:g} at {fitted['chosen']['median_ms']:.2f} ms; next phi "
            f"{fitted['next_phi']:.6g} at "
            f"{fitted['next']['median_ms'] if fitted['next'] else float('nan'):.2f} ms; "
            f"{fitted['measured']} models measured, 15 runs each.\n"
        )
    )
    profile_text = "" if shares is None else f"\nWhere eager B0 spends its time:\n\n{shares}"
    (args.results / f"{stem}.md").write_text(header + markdown(rows) + fit_text + profile_text)
    print(f"wrote {args.results / stem}.json and .md")


if __name__ == "__main__":
    sys.exit(main())
