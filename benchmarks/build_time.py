"""Benchmark: wall time of `specc build specs/b0.yaml --preset b7` beside `import specc`.

Each command runs in a fresh interpreter, `--repeat` times, interleaved so that machine
noise hits all of them alike; the table reports the median and the ratio to `import specc`
measured in the same run. It also checks that the build imports no torch (`-X importtime`),
and times the compiler's phases in process (load, resolve, lower, validate, analyse, emit).

    python benchmarks/build_time.py [--repeat 15]

Writes benchmarks/results/build_time.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPEC = "specs/b0.yaml"


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def imports_torch(out: Path) -> bool:
    command = [sys.executable, "-X", "importtime", "-m", "specc", "build", SPEC, "--preset", "b7"]
    result = subprocess.run([*command, "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    result.check_returncode()
    return any(line.rsplit("|", 1)[-1].strip() == "torch" for line in result.stderr.splitlines())


def phases() -> dict[str, float]:
    """Seconds per compiler phase for b7, in this process (after imports)."""
    import specc
    from specc.build.lower import lower
    from specc.build.resolve import resolve
    from specc.emit.files import render
    from specc.emit.pytorch.emit import emit_pytorch
    from specc.passes.analyse import analyse
    from specc.passes.validate import validate
    from specc.scaling.selector import Selector

    timings: dict[str, float] = {}

    def timed(name: str, fn, *args):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        value = fn(*args)
        timings[name] = time.perf_counter() - start
        return value

    loaded = timed("load spec", specc.load, ROOT / SPEC)
    resolved = timed("resolve", resolve, loaded, Selector(preset="b7"))
    graph = timed("lower", lower, resolved)
    timed("validate", validate, graph)
    timed("analyse", analyse, graph)
    arch = specc.compile(loaded, preset="b7")
    timed("emit model.py", emit_pytorch, arch)
    timed("render all files", render, arch)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "b7"
        commands = {
            "python -c 'import specc'": [sys.executable, "-c", "import specc"],
            "specc build specs/b0.yaml --preset b7": [
                *(sys.executable, "-m", "specc", "build", SPEC),
                *("--preset", "b7", "--out", str(out)),
            ],
            "python -c 'import torch' (what build avoids)": [sys.executable, "-c", "import torch"],
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():
            wall(command)  # warm the file cache
        for _ in range(args.repeat):
            for name, command in commands.items():
                samples[name].append(wall(command))
        torch_imported = imports_torch(Path(tmp) / "probe")

    base = statistics.median(samples["python -c 'import specc'"])
    rows = [
        {"command": name, "median_s": statistics.median(s), "min_s": min(s),
         "ratio_to_import": statistics.median(s) / base}
        for name, s in samples.items()
    ]  # fmt: skip
    phase_times = phases()

    lines = [
        "| command | median s | min s | × import specc |",
        "|---|---:|---:|---:|",
        *(
            f"| `{r['command']}` | {r['median_s']:.3f} | {r['min_s']:.3f} "
            f"| {r['ratio_to_import']:.1f} |"
            for r in rows
        ),
        "",
        f"`specc build` imports torch: {'YES (regression)' if torch_imported else 'no'}",
        "",
        "| phase (b7, in process) | ms |",
        "|---|---:|",
        *(f"| {name} | {seconds * 1000:.1f} |" for name, seconds in phase_times.items()),
    ]
    table = "\n".join(lines)
    print(table)

    machine = {
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    command = f"python benchmarks/build_time.py --repeat {args.repeat}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "build_time.json").write_text(
        json.dumps(
            {"command": command, "repeat": args.repeat, "machine": machine, "results": rows,
             "imports_torch": torch_imported, "phases_s": phase_times},
            indent=2,
        ) + "\n"
    )  # fmt: skip
    header = [
        "# specc build time",
        "",
        f"Command: `{command}`; machine: {machine['cpu']}, {machine['cores']} cores, "
        f"Python {machine['python']}. Medians of {args.repeat} interleaved runs, each a fresh "
        "interpreter; compare the ratios, not the absolute times (shared machine).",
        "",
        "",
    ]
    (RESULTS / "build_time.md").write_text("\n".join(header) + table + "\n")
    if torch_imported:
        sys.exit("specc build imported torch")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
