"""Evaluating one candidate: build its model, run a process, read how it did.

Two evaluators, both plain picklable values so that a Ray worker can run them:

- `TrainEvaluator`, the built-in one: `specc train` on the user's ImageFolder for a short
  proxy schedule; the score is the last epoch's validation top-1 (raw or EMA weights).
  Its only coupling to the trainer is `train_command` and `read_epochs`: the command line
  and the metrics.jsonl rows it writes (`epoch`, `eval_top1`, `ema_top1`).
- `CommandEvaluator`, the user's own: `--eval "python train.py {config}"`, whose last JSON
  line of output carries the metric. Split with shlex and run without a shell; `{config}`
  is replaced by the candidate's config path, nothing else of the user's data reaches a
  command line.

Each evaluation runs in `<work>/<candidate key>/` and keeps the process's output there
(`train.log`, or `stdout.log` and `stderr.log`). The child dies with its parent (Linux:
PR_SET_PDEATHSIG), so a cancelled Ray task or a killed search leaves no orphan training.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, TypeGuard

from specc.build.folder import write
from specc.diagnostics import UserError
from specc.emit.files import render
from specc.lang.load import LoadedSpec
from specc.tools.arrays import is_npz, read_npz
from specc.tools.search.candidates import Result, build

Report = Callable[[int, float], None]  # (epoch, validation score) as each epoch ends
StopCheck = Callable[[], bool]  # True once the search wants this evaluation ended (pruned)


@dataclass(frozen=True)
class Job:
    """What a worker needs to evaluate one candidate."""

    row: Result
    loaded: LoadedSpec
    folder: Path  # <work>/<key>, absolute
    cpus: int = 1  # threads it may use (OMP_NUM_THREADS)
    gpus: tuple[str, ...] | None = None  # CUDA_VISIBLE_DEVICES; None leaves it alone
    phi: float = 1.0  # build the row's coefficients at this phi (a search: 1; a study: fit's)
    seed: int | None = None  # the training seed (train.yaml's `seed` when None)


class Evaluator(Protocol):
    def __call__(self, job: Job, report: Report | None, stop: StopCheck | None) -> Result: ...


# --- the built-in evaluator: specc's own trainer --------------------------------------------


@dataclass(frozen=True)
class TrainEvaluator:
    data: str  # an ImageFolder root with train/ and val/, or an .npz (absolute paths)
    epochs: int | None = None  # None: the spec's training.epochs
    top1: str = "raw"  # rank by the raw weights' or the EMA weights' validation top-1
    timeout: float | None = None

    def __post_init__(self) -> None:
        # Each candidate's trainer runs in its own folder: a relative --data is the caller's.
        if self.data != "synthetic":
            object.__setattr__(self, "data", str(Path(self.data).resolve()))

    def problems(self, num_classes: int, channels: int | None = None) -> list[str]:
        """What stops every candidate before it starts: checked once, before the search."""
        root = Path(self.data)
        layout = "expected train/<class>/<image> and val/<class>/<image>"
        if self.data == "synthetic":
            return ["synthetic data has no validation split to rank by: pass an ImageFolder "
                    "or an npz"]  # fmt: skip
        if is_npz(self.data):
            try:
                read_npz(root, num_classes=num_classes, channels=channels, need_val=True)
            except UserError as error:
                return [error.message.removeprefix(f"{root}: ")
                        + (f" ({error.hint})" if error.hint else "")]  # fmt: skip
            return []
        if not root.is_dir():
            return [f"no such folder ({layout})"]
        missing = [split for split in ("train", "val") if not (root / split).is_dir()]
        if missing:
            return [f"no {' or '.join(m + '/' for m in missing)} folder ({layout})"]
        classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
        if len(classes) != num_classes:
            return [f"{len(classes)} classes in train/ but the spec has num_classes "
                    f"{num_classes}: add --set num_classes={len(classes)}"]  # fmt: skip
        return []

    def __call__(self, job: Job, report: Report | None, stop: StopCheck | None) -> Result:
        started = time.monotonic()
        model = job.folder / "model"
        write(render(build(job.loaded, job.row.candidate, job.phi)), model)
        run = _fresh(job.folder / "run")
        argv = train_command(
            model / "train.yaml", self.data, run, self.epochs, job.gpus, seed=job.seed
        )
        seen: list[dict[str, Any]] = []

        def poll() -> None:  # called while the trainer runs: report each new epoch
            rows = read_epochs(run)
            for row in rows[len(seen) :]:
                value = row.get("ema_top1" if self.top1 == "ema" else "eval_top1")
                if report is not None and _number(value):
                    report(int(row["epoch"]), float(value))
            seen[:] = rows

        with (job.folder / "train.log").open("w") as log:
            outcome = _run(argv, job, log, log, self.timeout, stop, poll)
        poll()
        done = job.row.but(wall_s=round(time.monotonic() - started, 3), run=str(run))
        last = seen[-1] if seen else {}
        done = done.but(eval_top1=_or_none(last.get("eval_top1")),
                        ema_top1=_or_none(last.get("ema_top1")))  # fmt: skip
        metric = done.ema_top1 if self.top1 == "ema" else done.eval_top1
        if outcome == "stopped":
            return done.but(
                status="pruned", metric=metric, error=f"pruned after {len(seen)} epochs"
            )
        if outcome:
            return done.but(status="failed", error=_why(outcome, job.folder / "train.log"))
        if metric is None:
            return done.but(status="failed", error=f"the trainer recorded no {self.top1} top-1")
        return done.but(status="ok", metric=metric, error="")


def train_command(
    config: Path,
    data: str,
    out: Path,
    epochs: int | None,
    gpus: tuple[str, ...] | None,
    seed: int | None = None,
) -> list[str]:
    """The `specc train` command line; several GPUs run under torchrun, one process each."""
    args = [str(config), "--data", data, "--out", str(out)]
    if epochs is not None:
        args += ["--epochs", str(epochs)]
    if seed is not None:
        args += ["--set", f"seed={seed}"]
    if gpus is not None and len(gpus) > 1:
        launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={len(gpus)}"]
        return [sys.executable, *launcher, "-m", "specc.train", *args]
    return [sys.executable, "-m", "specc", "train", *args]


def read_epochs(run: Path) -> list[dict[str, Any]]:
    """The trainer's per-epoch rows so far (a line being written is left for later)."""
    try:
        text = (run / "metrics.jsonl").read_text()
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            break
        if isinstance(row, dict) and "epoch" in row:
            rows.append(row)
    return rows


def _fresh(run: Path) -> Path:
    """`run`, after moving aside what an earlier, unfinished attempt left there."""
    if run.exists():
        n = 1
        while run.with_name(f"{run.name}.{n}").exists():
            n += 1
        run.rename(run.with_name(f"{run.name}.{n}"))
    return run


# --- the user's own command ----------------------------------------------------------------


@dataclass(frozen=True)
class CommandEvaluator:
    command: str  # with a {config} placeholder
    metric: str = "metric"
    timeout: float | None = None

    def __post_init__(self) -> None:
        # The command runs in each candidate's folder: a word naming a file or folder of the
        # caller's working directory (`python eval.py`, `--data ../digits`) is made absolute.
        words = [_absolute(word) for word in shlex.split(self.command)]
        object.__setattr__(self, "command", shlex.join(words))

    def argv(self, config: Path) -> list[str]:
        return [part.replace("{config}", str(config)) for part in shlex.split(self.command)]

    def problems(self) -> list[str]:
        """What stops every candidate before it starts: checked once, before the search."""
        program = shlex.split(self.command)[0] if self.command.strip() else ""
        if not program:
            return ["an empty command"]
        if shutil.which(program) is None:
            return [f"{program}: no such program (not on PATH, nor a file here)"]
        return []

    def __call__(self, job: Job, report: Report | None, stop: StopCheck | None) -> Result:
        started = time.monotonic()
        arch = build(job.loaded, job.row.candidate, job.phi)
        write(render(arch), job.folder / "model")
        config = job.folder / "config.json"
        r = job.row
        config.write_text(json.dumps({
            "spec": str(job.loaded.file), "alpha": r.alpha, "beta": r.beta, "gamma": r.gamma,
            "phi": job.phi, "model_dir": str(job.folder / "model"), "resolution": r.resolution,
            "params": r.params, "macs": r.macs, "seed": job.seed,
        }, indent=2) + "\n")  # fmt: skip
        out_path, err_path = job.folder / "stdout.log", job.folder / "stderr.log"
        with out_path.open("w") as out, err_path.open("w") as err:
            outcome = _run(self.argv(config), job, out, err, self.timeout, stop, None)
        done = r.but(wall_s=round(time.monotonic() - started, 3), run=str(job.folder))
        if outcome == "stopped":
            return done.but(status="failed", error="stopped")
        if outcome:
            return done.but(status="failed", error=_why(outcome, err_path))
        metric = _read_metric(out_path.read_text(errors="replace"), self.metric)
        if metric is None:
            return done.but(status="failed",
                            error=f"no JSON line with a numeric {self.metric!r} in the output "
                                  f"({out_path})")  # fmt: skip
        return done.but(status="ok", metric=metric, error="")


def _absolute(word: str) -> str:
    """`word`, absolute where it names an existing path relative to the working directory
    (`--data=../x` too); placeholders and everything else unchanged."""
    key, sep, value = word.partition("=") if word.startswith("-") else ("", "", word)
    if "{" in value or not value or Path(value).is_absolute() or not Path(value).exists():
        return word
    return f"{key}{sep}{Path(value).resolve()}"


def _read_metric(stdout: str, key: str) -> float | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        value = data.get(key) if isinstance(data, dict) else None
        if _number(value):
            return float(value)
    return None


# --- running a process ---------------------------------------------------------------------


def _run(
    argv: list[str],
    job: Job,
    out: IO[str],
    err: IO[str],
    timeout: float | None,
    stop: StopCheck | None,
    poll: Callable[[], None] | None,
) -> str:
    """Run to the end: "" on success, "stopped", "timeout", "exit N" or "cannot run: ..."."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, job.cpus)))
    if job.gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(job.gpus)
    try:
        child = subprocess.Popen(argv, stdout=out, stderr=err, cwd=job.folder, env=env,
                                 stdin=subprocess.DEVNULL, preexec_fn=_death_signal())  # fmt: skip
    except OSError as exc:
        return f"cannot run {argv[0]}: {exc.strerror or exc}"
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            code = child.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            pass
        if poll is not None:
            poll()
        if stop is not None and stop():
            _end(child)
            return "stopped"
        if deadline is not None and time.monotonic() > deadline:
            _end(child)
            return f"timeout after {timeout:g} s"
    return "" if code == 0 else f"exit status {code}"


def _end(child: subprocess.Popen[Any]) -> None:
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _death_signal() -> Callable[[], None] | None:
    """A function for the child to run before exec: get SIGKILL when the thread that
    started it ends (Linux's PR_SET_PDEATHSIG, option 1). Resolved here, in the parent:
    between fork and exec the child must not import anything (other threads may hold the
    import lock)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    kill = int(signal.SIGKILL)
    return lambda: prctl(1, kill)


def _why(outcome: str, log: Path) -> str:
    """The outcome with the last line of the log, which usually names the problem."""
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    return f"{outcome}: {lines[-1].strip()} (log: {log})" if lines else f"{outcome} (log: {log})"


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _or_none(value: Any) -> float | None:
    return float(value) if _number(value) else None
