"""Campaign: SIGKILL `specc build` at random instants; the folder must stay one complete build.

Builds of tests/data/tiny.yaml alternate between phi 0 and phi 1 into one folder that also
holds a user's files (`notes.md`, `runs/train/best.pt`). Each build is killed at a random
instant: every other kill a random time around the end of a build (calibrated on
unkilled builds first), the others 0-4 ms after the build's staging folder appears,
inside the write itself. After each kill, `specc build --check` at phi 0 and at phi 1
(which recovers what a kill left) must find exactly one of them up to date, the user's
files must be unchanged, and nothing but the folder (and its lock file) may remain beside
it. The tests kill a build at every file-system step deterministically
(tests/cli/test_output_safety.py); this is the same with real signals.

    python benchmarks/kill_builds.py [--kills 40] [--seed 0]

Writes benchmarks/results/kill_builds.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPEC = str(ROOT / "tests" / "data" / "tiny.yaml")
USER_FILES = {"notes.md": "my notes\n", "runs/train/best.pt": "weights"}


def build(out: Path, phi: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "specc",
        "build",
        SPEC,
        "--phi",
        str(phi),
        "--out",
        str(out),
        *extra,
    ]


def check(out: Path) -> list[int]:
    return [
        subprocess.run(build(out, phi, "--check"), capture_output=True).returncode for phi in (0, 1)
    ]


def _await_writing(out: Path, process: subprocess.Popen[bytes]) -> bool:
    """Poll until the build starts writing (its staging folder appears) or exits."""
    marks = (out / ".specc-staging.tmp", out / ".specc-staging")
    while process.poll() is None:
        if any(mark.exists() for mark in marks):
            return True
        time.sleep(0.0005)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        subprocess.run(build(out, 0), check=True, capture_output=True)
        for name, text in USER_FILES.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(text)
        durations = []
        for phi in (1, 0, 1):
            start = time.perf_counter()
            subprocess.run(build(out, phi), check=True, capture_output=True)
            durations.append(time.perf_counter() - start)
        typical = sorted(durations)[1]
        outcomes = {"old": 0, "new": 0, "failures": 0, "during the write": 0}
        state = 1  # the phi the folder holds
        for index in range(args.kills):
            phi = 1 - state  # always the other build, so a finished one shows
            process = subprocess.Popen(
                build(out, phi), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if index % 2:
                time.sleep(rng.uniform(0.6, 1.05) * typical)
            else:
                writing = _await_writing(out, process)  # then a few ms into the write
                outcomes["during the write"] += writing
                time.sleep(rng.uniform(0.0, 0.004))
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            codes = check(out)
            kept = all((out / n).read_text() == t for n, t in USER_FILES.items())
            beside = sorted(
                p.name for p in out.parent.iterdir() if p.name not in ("out", ".out.lock")
            )
            if sorted(codes) != [0, 1] or not kept or beside:
                outcomes["failures"] += 1
                print(f"kill {index}: checks {codes}, user files kept {kept}, beside {beside}")
                continue
            now = 0 if codes[0] == 0 else 1
            outcomes["new" if now == phi else "old"] += 1
            state = now
    record = {
        "command": f"python benchmarks/kill_builds.py --kills {args.kills} --seed {args.seed}",
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        ),
        "kills": args.kills,
        "typical_build_s": round(typical, 3),
        **outcomes,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "kill_builds.json").write_text(json.dumps(record, indent=2) + "\n")
    table = [
        "| kills | of them inside the write | one complete build after | ended new | ended old "
        "| failures |",
        "|---|---|---|---|---|---|",
        f"| {args.kills} | {outcomes['during the write']} | {args.kills - outcomes['failures']} "
        f"| {outcomes['new']} | {outcomes['old']} | {outcomes['failures']} |",
    ]
    text = "\n".join([f"`{record['command']}` on {record['machine']}", "", *table]) + "\n"
    (RESULTS / "kill_builds.md").write_text(text)
    print(text)
    sys.exit(1 if outcomes["failures"] else 0)


if __name__ == "__main__":
    main()
