"""Inference benchmark of a generated folder against torchvision's model, in one process.

Candidates (each a callable on one input batch): torchvision's model (the reference, when
named), the generated model, its fused form (`model.fuse()`), each also under
`torch.compile`, and onnxruntime on the exported fused ONNX (verified by `specc export`).

Timing is interleaved: every round times `iters` calls of each candidate in turn (the order
rotating per round), and a candidate's result is the median over rounds of its per-call
time, with the spread. On a shared, noisy machine this puts every candidate under the same
noise, which back-to-back runs would not. CUDA: bf16 autocast, channels_last, cudnn.benchmark,
CUDA events. CPU: fp32; channels_last as asked (`channels_last`). Imports torch.
"""

from __future__ import annotations

import contextlib
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from specc.diagnostics import UserError
from specc.runtime.deploy.inference import count_macs, count_params
from specc.runtime.deploy.latency import Timing
from specc.runtime.machine import require_input_fits
from specc.runtime.model import load_model, open_folder

Forward = Callable[[torch.Tensor], Any]
REFERENCE = "torchvision"


@dataclass(frozen=True)
class BenchConfig:
    device: str = "cpu"
    batches: tuple[int, ...] = (1, 8)
    rounds: int = 15  # timed rounds per candidate (the samples of the median)
    iters: int = 3  # calls per candidate per round
    warmup: int = 3  # untimed calls per candidate and batch before the first round
    compile: bool = False
    onnx: bool = True
    channels_last: bool | None = None  # None: on for CUDA, off for the CPU
    resolution: int | None = None  # None: the folder's own

    @property
    def memory_format(self) -> torch.memory_format:
        on = self.channels_last if self.channels_last is not None else self.device == "cuda"
        return torch.channels_last if on else torch.contiguous_format


@dataclass(frozen=True)
class Row:
    model: str
    candidate: str
    batch: int
    timing: Timing  # per call of one batch
    params: int
    macs: int  # per image, of the candidate's module (fused: the fused module's)
    ratio: float | None = None  # images/s over the reference's in the same run

    @property
    def images_per_s(self) -> float:
        return self.batch / (self.timing.median_ms / 1e3)


@dataclass
class Candidates:
    forwards: dict[str, Forward] = field(default_factory=dict)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # params, macs


def torchvision_model(name: str) -> torch.nn.Module:
    try:
        import torchvision
    except ImportError:
        raise UserError("the reference needs torchvision: pip install torchvision") from None
    try:
        model: torch.nn.Module = torchvision.models.get_model(name)
        return model
    except ValueError:
        raise UserError(f"torchvision has no model named {name!r}") from None


def candidates(folder: Path, reference: str | None, config: BenchConfig) -> Candidates:
    """Every candidate for `folder`, on the device, in eval mode."""
    device = torch.device(config.device)
    opened = open_folder(folder)
    shape = _input_shape(opened.require_record()[0], config)
    found = Candidates()
    modules: dict[str, torch.nn.Module] = {}
    if reference is not None:
        modules[REFERENCE] = torchvision_model(reference).eval()
    modules["generated"] = load_model(opened).eval()
    modules["fused"] = load_model(opened, fuse=True)
    for name, module in modules.items():
        found.counts[name] = (count_params(module), count_macs(module, shape))
        module = module.to(device)
        if config.memory_format == torch.channels_last:  # asked for every candidate
            module = module.to(memory_format=torch.channels_last)  # type: ignore[call-overload,unused-ignore]
        # otherwise each keeps its own layout: the fused model is channels-last by design
        found.forwards[name] = _autocast(module, config.device)
        if config.compile:
            found.forwards[f"{name} compiled"] = _autocast(torch.compile(module), config.device)
            found.counts[f"{name} compiled"] = found.counts[name]
    if config.onnx and config.device == "cpu":
        found.forwards["onnxruntime"] = _onnx_forward(folder)
        found.counts["onnxruntime"] = found.counts["fused"]
    return found


def _input_shape(shape: tuple[int, int, int], config: BenchConfig) -> tuple[int, int, int]:
    size = config.resolution
    return shape if size is None else (shape[0], size, size)


def _autocast(module: Forward, device: str) -> Forward:
    cuda = device == "cuda"

    def forward(x: torch.Tensor) -> Any:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=cuda):
            return module(x)

    return forward


def _onnx_forward(folder: Path) -> Forward:
    import onnxruntime

    from specc.runtime.deploy.export import export

    path = Path(tempfile.mkdtemp(prefix="specc-bench-")) / "model.onnx"
    export(folder, "onnx", out=path, batch="dynamic", fuse=True)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"images": x.numpy()})


def time_interleaved(forwards: dict[str, Forward], x: torch.Tensor, config: BenchConfig
                     ) -> dict[str, Timing]:  # fmt: skip
    """Per-call latency of each forward, interleaved round by round (see the module doc)."""
    names = list(forwards)
    samples: dict[str, list[float]] = {name: [] for name in names}
    with torch.no_grad():
        for name in names:
            for _ in range(config.warmup):
                forwards[name](x)
        for round_index in range(config.rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                with _timer(x.device) as elapsed:
                    for _ in range(config.iters):
                        forwards[name](x)
                samples[name].append(elapsed() / config.iters)
    return {name: Timing.from_samples(values) for name, values in samples.items()}


@contextlib.contextmanager
def _timer(device: torch.device) -> Iterator[Callable[[], float]]:
    """Milliseconds of the block: CUDA events on a GPU, perf_counter on the CPU."""
    result: list[float] = []
    if device.type == "cuda":
        start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        start.record()
        yield lambda: result[0]
        end.record()
        end.synchronize()
        result.append(start.elapsed_time(end))
    else:
        begin = time.perf_counter()
        yield lambda: result[0]
        result.append((time.perf_counter() - begin) * 1e3)


def bench_folder(folder: str | Path, model: str, reference: str | None, config: BenchConfig
                 ) -> list[Row]:  # fmt: skip
    """Rows for every candidate and batch; ratios to the reference's images/s."""
    folder = Path(folder)
    if config.device == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda: no CUDA device is available")
        torch.backends.cudnn.benchmark = True
    shape = _input_shape(open_folder(folder).require_record()[0], config)
    largest = max(config.batches)
    require_input_fits(largest, shape, f"--batch {largest}", "smaller batches")
    found = candidates(folder, reference, config)
    rows: list[Row] = []
    for batch in config.batches:
        x = torch.randn(batch, *shape, device=config.device)
        x = x.contiguous(memory_format=config.memory_format)
        timings = time_interleaved(found.forwards, x, config)
        base = timings.get(REFERENCE)
        for name, timing in timings.items():
            ratio = None if base is None else base.median_ms / timing.median_ms
            rows.append(Row(model, name, batch, timing, *found.counts[name], ratio))
    return rows


def environment(device: str) -> dict[str, Any]:
    """Machine and versions for the results file."""
    from specc import __version__
    from specc.runtime.deploy.latency import _cpu_model

    info: dict[str, Any] = {
        "machine": platform.node(), "cpu": _cpu_model(), "threads": torch.get_num_threads(),
        "python": platform.python_version(), "torch": torch.__version__, "specc": __version__,
    }  # fmt: skip
    for package in ("torchvision", "timm", "onnxruntime"):
        with contextlib.suppress(ImportError):
            info[package] = __import__(package).__version__
    if device == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
        with contextlib.suppress(Exception):
            import subprocess

            info["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=10,
            ).stdout.strip()  # fmt: skip
    return info


def markdown(rows: list[Row]) -> str:
    """One table: model, batch, candidate, latency with spread, images/s, ratio."""
    lines = [
        "| model | batch | candidate | latency ms (median) | IQR % | images/s | vs torchvision |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
        lines.append(
            f"| {row.model} | {row.batch} | {row.candidate} | {row.timing.median_ms:.2f} | "
            f"{100 * row.timing.spread:.0f} | {row.images_per_s:,.1f} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def row_json(row: Row) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "model": row.model, "candidate": row.candidate, "batch": row.batch,
        "images_per_s": row.images_per_s, "ratio": row.ratio, "params": row.params,
        "macs": row.macs, "timing": asdict(row.timing),
    }  # fmt: skip


def op_shares(forward: Forward, x: torch.Tensor, calls: int = 3, top: int = 6
              ) -> list[tuple[str, float, int]]:  # fmt: skip
    """Where a forward spends its time: (aten op, share of self CPU time, calls per forward)
    for the `top` ops, from torch.profiler over `calls` forwards after one warm-up."""
    from torch.profiler import ProfilerActivity, profile

    with torch.no_grad():
        forward(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(calls):
                forward(x)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    ranked = sorted(events, key=lambda e: -e.self_cpu_time_total)[:top]
    return [(e.key, e.self_cpu_time_total / total, e.count // calls) for e in ranked]
