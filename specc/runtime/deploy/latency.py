"""Measured latency: timing a module, and a cache of measurements per architecture.

A measurement is the median of `runs` timed forward passes after `warmup` untimed ones,
with the spread (fastest, slowest, interquartile range) kept beside it, because the machines
this runs on are shared and noisy. On CUDA each pass is timed with CUDA events; on the CPU
with `time.perf_counter`.

`LatencyCache` stores measurements in one JSON file, keyed by the architecture's hash (what
the network computes, not how it was selected: phi 0.5 and 0.5001 building the same layers
share a key), the device (with the CPU or GPU model), the batch size, whether the model was
compiled and the torch version. Default file: `$XDG_CACHE_HOME/specc/latency.json`
(`~/.cache/specc/latency.json`). Imports torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from specc.build.architecture import Architecture
from specc.diagnostics import UserError

# Keys of architecture.json that do not change what the network computes at inference.
_NOT_COMPUTE = {"specc", "spec", "selector", "multipliers", "nearest_preset", "dropout",
                "drop_path", "rules"}  # fmt: skip


@dataclass(frozen=True)
class Timing:
    """Latency of one forward pass of a batch, in milliseconds."""

    median_ms: float
    min_ms: float
    max_ms: float
    iqr_ms: float  # interquartile range of the runs
    runs: int

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median."""
        return self.iqr_ms / self.median_ms if self.median_ms > 0 else 0.0

    def describe(self) -> str:
        return (
            f"{self.median_ms:.2f} ms (median of {self.runs} runs, IQR {self.iqr_ms:.2f} ms "
            f"= {100 * self.spread:.0f}%, range {self.min_ms:.2f}-{self.max_ms:.2f})"
        )

    @classmethod
    def from_samples(cls, samples_ms: list[float]) -> Timing:
        if len(samples_ms) < 2:
            value = samples_ms[0]
            return cls(value, value, value, 0.0, len(samples_ms))
        q1, _, q3 = statistics.quantiles(samples_ms, n=4)
        return cls(statistics.median(samples_ms), min(samples_ms), max(samples_ms),
                   q3 - q1, len(samples_ms))  # fmt: skip


def time_forward(
    fn: Callable[[torch.Tensor], Any], x: torch.Tensor, *, warmup: int = 5, runs: int = 20
) -> Timing:
    """Time `fn(x)`: `warmup` untimed calls, then `runs` timed ones, under no_grad."""
    cuda = x.device.type == "cuda"
    samples = []
    with torch.no_grad():
        for _ in range(warmup):
            fn(x)
        if cuda:
            torch.cuda.synchronize(x.device)
        for _ in range(runs):
            if cuda:
                start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
                end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
                start.record()
                fn(x)
                end.record()
                end.synchronize()
                samples.append(start.elapsed_time(end))
            else:
                begin = time.perf_counter()
                fn(x)
                samples.append((time.perf_counter() - begin) * 1e3)
    return Timing.from_samples(samples)


def architecture_hash(arch: Architecture) -> str:
    """sha256 of what the network computes: layers, shapes, activations, norms, padding."""
    data = {k: v for k, v in arch.to_dict().items() if k not in _NOT_COMPUTE}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def device_label(device: str) -> str:
    """The device with its model, so that a cache moved between machines does not lie."""
    if device == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda: no CUDA device is available")
        return f"cuda:{torch.cuda.get_device_name(0)}"
    if device != "cpu":
        raise UserError(f"unknown device {device!r}: choose cpu or cuda")
    return f"cpu:{_cpu_model()}:{torch.get_num_threads()} threads"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "specc" / "latency.json"


class LatencyCache:
    """Latency measurements on disk, one JSON object; written atomically after each add."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                self.entries = dict(data["entries"])
            except (ValueError, KeyError, TypeError):
                raise UserError(
                    f"{self.path}: not a specc latency cache; delete it or give another "
                    "--latency-cache"
                ) from None

    @staticmethod
    def key(arch_hash: str, device: str, batch: int, compiled: bool) -> str:
        return (
            f"{arch_hash[:32]}|{device}|batch {batch}|compile {compiled}|torch {torch.__version__}"
        )

    def get(self, key: str) -> Timing | None:
        entry = self.entries.get(key)
        return None if entry is None else Timing(**entry)

    def put(self, key: str, timing: Timing) -> None:
        self.entries[key] = asdict(timing)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": 1, "entries": self.entries}, indent=1, sort_keys=True)
        descriptor, temp = tempfile.mkstemp(prefix=".latency.", dir=self.path.parent)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text + "\n")
        os.replace(temp, self.path)


@dataclass
class ModelLatency:
    """Measures built architectures (fused, eval mode, channels_last, random input; bf16
    autocast on CUDA) through a cache.

    `timer(model, x) -> Timing` is injectable: tests pass a fake instead of live timing.
    `measured` counts the measurements actually taken (cache misses).
    """

    device: str = "cpu"
    batch: int = 1
    compile: bool = False
    cache: LatencyCache | None = None
    timer: Callable[[Any, torch.Tensor], Timing] | None = None
    measured: int = 0

    def __post_init__(self) -> None:
        self.label = device_label(self.device)
        self.timings: dict[str, Timing] = {}

    def __call__(self, arch: Architecture) -> Timing:
        key = LatencyCache.key(architecture_hash(arch), self.label, self.batch, self.compile)
        timing = self.timings.get(key) or (self.cache.get(key) if self.cache else None)
        if timing is None:
            timing = self._measure(arch)
            self.measured += 1
            if self.cache is not None:
                self.cache.put(key, timing)
        self.timings[key] = timing
        return timing

    def _measure(self, arch: Architecture) -> Timing:
        from specc.runtime.model import instantiate

        model = instantiate(arch).eval().fuse()
        x = torch.randn(self.batch, *arch.input_shape)
        if self.timer is not None:
            return self.timer(model, x)
        device = torch.device(self.device)
        model = model.to(device, memory_format=torch.channels_last)
        x = x.to(device).contiguous(memory_format=torch.channels_last)
        if self.device == "cuda":
            torch.backends.cudnn.benchmark = True
        compiled = torch.compile(model) if self.compile else model
        cuda = self.device == "cuda"

        def fn(images: torch.Tensor) -> Any:
            with torch.autocast(self.device, dtype=torch.bfloat16, enabled=cuda):
                return compiled(images)

        return time_forward(fn, x, warmup=10 if self.compile else 3, runs=50 if cuda else 15)
