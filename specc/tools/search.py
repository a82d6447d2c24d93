"""Search compound coefficients: step 1 of the paper, on the user's own baseline.

Enumerate alpha, beta, gamma >= 1 on a grid with alpha * beta^2 * gamma^2 within a
tolerance of the target (2: each phi step doubles the MACs), compile every candidate at
phi = 1 and report what rounding really did to the MACs (the ratio to the phi = 0 build),
the parameters and the resolution. An evaluator can rank the candidates: a user command
(`--eval "python train.py {config}"`) run once per candidate, in parallel, whose last JSON
line of output carries the metric. Results are appended to a file as each finishes, so an
interrupted search resumes where it stopped.

Evaluator commands are split with shlex and run without a shell; `{config}` is replaced by
the candidate's config path, nothing else of the user's data reaches a command line.
"""

from __future__ import annotations

import csv
import json
import math
import shlex
import subprocess
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from specc.compiler import compile_spec
from specc.diagnostics import Diagnostic, Location, SpecError
from specc.output import write
from specc.scaling.resolve import Selector
from specc.spec.load import LoadedSpec

COEFFICIENTS = ("depth", "width", "resolution")


@dataclass(frozen=True)
class Candidate:
    alpha: float
    beta: float
    gamma: float

    @property
    def product(self) -> float:
        return self.alpha * self.beta**2 * self.gamma**2

    @property
    def key(self) -> str:
        return f"a{self.alpha:.4g}-b{self.beta:.4g}-g{self.gamma:.4g}"


@dataclass
class Result:
    alpha: float
    beta: float
    gamma: float
    product: float
    resolution: int
    params: int
    macs: int
    macs_ratio: float
    status: str = "compiled"  # compiled | ok | failed
    metric: float | None = None
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return Candidate(self.alpha, self.beta, self.gamma).key


def grid(step: float = 0.05, target: float = 2.0, tolerance: float = 0.1) -> list[Candidate]:
    """Every (alpha, beta, gamma) >= 1 on the grid with |alpha beta^2 gamma^2 - target| <= tol."""
    if not (0 < step <= 1) or target < 1 or tolerance < 0:
        raise ValueError("need 0 < step <= 1, target >= 1 and tolerance >= 0")
    upper = target + tolerance

    def axis(limit: float) -> list[float]:
        count = math.floor((limit - 1) / step + 1e-9)
        return [round(1 + i * step, 6) for i in range(count + 1)]

    found = []
    for alpha in axis(upper):
        for beta in axis(math.sqrt(upper / alpha)):
            for gamma in axis(math.sqrt(upper / (alpha * beta**2))):
                candidate = Candidate(alpha, beta, gamma)
                if abs(candidate.product - target) <= tolerance + 1e-12:
                    found.append(candidate)
    return found


def with_coefficients(loaded: LoadedSpec, candidate: Candidate) -> LoadedSpec:
    """The spec with the candidate's coefficients (grid values are valid by construction)."""
    spec = loaded.spec
    values = dict(
        zip(COEFFICIENTS, (candidate.alpha, candidate.beta, candidate.gamma), strict=True)
    )
    coefficients = spec.scaling.coefficients.model_copy(update=values)
    scaling = spec.scaling.model_copy(update={"coefficients": coefficients})
    return LoadedSpec(spec.model_copy(update={"scaling": scaling}), loaded.source)


def measure(
    loaded: LoadedSpec, candidates: Iterable[Candidate], done: Callable[[], None] | None = None
) -> list[Result]:
    """Compile each candidate at phi = 1; MACs ratios are to the spec's phi = 0 build."""
    base = compile_spec(loaded, Selector(phi=0.0), nearest_preset=False)
    results = []
    for c in candidates:
        arch = compile_spec(with_coefficients(loaded, c), Selector(phi=1.0), nearest_preset=False)
        results.append(Result(c.alpha, c.beta, c.gamma, c.product, arch.resolved.resolution,
                              arch.params, arch.macs, arch.macs / base.macs))  # fmt: skip
        if done is not None:
            done()
    return results


# --- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluator:
    command: str  # with a {config} placeholder
    metric: str = "metric"
    timeout: float | None = None

    def argv(self, config: Path) -> list[str]:
        return [part.replace("{config}", str(config)) for part in shlex.split(self.command)]


def evaluate(loaded: LoadedSpec, result: Result, evaluator: Evaluator, workdir: Path) -> Result:
    """Build the candidate's model into `workdir`, run the command, read the metric."""
    candidate = Candidate(result.alpha, result.beta, result.gamma)
    folder = workdir.resolve() / candidate.key
    arch = compile_spec(
        with_coefficients(loaded, candidate), Selector(phi=1.0), nearest_preset=False
    )
    write(arch, folder / "model")
    config = folder / "config.json"
    config.write_text(json.dumps({
        "spec": str(loaded.file), "alpha": result.alpha, "beta": result.beta, "gamma": result.gamma,
        "phi": 1.0, "model_dir": str(folder / "model"), "resolution": arch.resolved.resolution,
        "params": arch.params, "macs": arch.macs,
    }, indent=2) + "\n")  # fmt: skip
    try:
        done = subprocess.run(evaluator.argv(config), capture_output=True, text=True,
                               timeout=evaluator.timeout, cwd=folder)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _failed(result, f"could not run the evaluator: {exc}")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return _failed(result, f"exit status {done.returncode}: {last}")
    metric = _read_metric(done.stdout, evaluator.metric)
    if metric is None:
        return _failed(result, f"no JSON line with a numeric {evaluator.metric!r} in the output")
    return Result(**{**asdict(result), "status": "ok", "metric": metric, "error": ""})


def _failed(result: Result, error: str) -> Result:
    return Result(**{**asdict(result), "status": "failed", "metric": None, "error": error})


def _read_metric(stdout: str, key: str) -> float | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


# --- results file -------------------------------------------------------------------------

FIELDS = ("alpha", "beta", "gamma", "product", "resolution", "params", "macs", "macs_ratio",
          "status", "metric", "error")  # fmt: skip


class ResultsFile:
    """Append-only results, CSV or JSON lines by suffix; thread-safe; read back to resume."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        if path.suffix not in (".csv", ".jsonl", ".json"):
            raise SpecError([Diagnostic("results file must end in .csv, .jsonl or .json",
                                        Location(str(path)), "--results")])  # fmt: skip

    def read(self) -> dict[str, Result]:
        if not self.path.exists():
            return {}
        try:
            rows = self._rows()
            results = [Result(**{k: _typed(k, row.get(k)) for k in FIELDS}) for row in rows]
        except (ValueError, TypeError, KeyError) as exc:
            raise SpecError([Diagnostic(f"cannot resume from it: {exc}", Location(str(self.path)),
                                        "--results")]) from None  # fmt: skip
        return {r.key: r for r in results}

    def _rows(self) -> list[dict[str, Any]]:
        text = self.path.read_text()
        if self.path.suffix == ".csv":
            return list(csv.DictReader(text.splitlines()))
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def append(self, result: Result) -> None:
        row = {k: getattr(result, k) for k in FIELDS}
        with self.lock:
            new = not self.path.exists() or self.path.stat().st_size == 0
            with self.path.open("a", newline="") as handle:
                if self.path.suffix == ".csv":
                    writer = csv.DictWriter(handle, fieldnames=FIELDS)
                    if new:
                        writer.writeheader()
                    writer.writerow(row)
                else:
                    handle.write(json.dumps(row) + "\n")


def _typed(key: str, value: Any) -> Any:
    if key in ("resolution", "params", "macs"):
        return int(value)
    if key in ("alpha", "beta", "gamma", "product", "macs_ratio"):
        return float(value)
    if key == "metric":
        return None if value in (None, "") else float(value)
    return "" if value is None else str(value)


def run_evaluations(
    loaded: LoadedSpec,
    pending: list[Result],
    evaluator: Evaluator,
    results: ResultsFile,
    workdir: Path,
    jobs: int = 1,
    progress: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Evaluate `pending` with `jobs` in parallel, appending each result as it finishes."""
    finished = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(evaluate, loaded, r, evaluator, workdir) for r in pending]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            finished.append(result)
            if progress is not None:
                progress(result)
    return finished


def rank(
    rows: list[Result], target: float, evaluated: bool, minimize: bool = False
) -> list[Result]:
    """Evaluated: by metric (failed last). Otherwise: by how close the real MACs ratio
    comes to the target, the best the formula alone can promise."""
    if evaluated:

        def by_metric(r: Result) -> tuple[int, float]:
            if r.metric is None:
                return (1, 0.0)
            return (0, r.metric if minimize else -r.metric)

        return sorted(rows, key=by_metric)
    return sorted(rows, key=lambda r: (abs(r.macs_ratio - target), r.alpha, r.beta, r.gamma))


@dataclass
class Evaluation:
    """What `evaluate_all` did: the rows with their results, what it skipped and what failed."""

    rows: list[Result]
    resumed: int
    failed: list[Result]


def evaluate_all(
    loaded: LoadedSpec,
    rows: list[Result],
    evaluator: Evaluator,
    path: Path,
    *,
    jobs: int = 1,
    retry_failed: bool = False,
    progress: Callable[[int], Callable[[Result], None]] | None = None,
) -> Evaluation:
    """Evaluate every row not already recorded in `path` (failures too, unless
    `retry_failed`), appending each result there; builds go under `<path>.runs/`.
    `progress(total)` may return a callback called once per finished evaluation."""
    store = ResultsFile(path)
    recorded = {k: r for k, r in store.read().items() if r.status == "ok" or not retry_failed}
    pending = [r for r in rows if r.key not in recorded]
    done = progress(len(pending)) if progress is not None else None
    finished = run_evaluations(
        loaded, pending, evaluator, store, path.with_suffix(".runs"), jobs, done
    )
    by_key = {**recorded, **{r.key: r for r in finished}}
    return Evaluation(
        rows=[by_key.get(r.key, r) for r in rows],
        resumed=len(rows) - len(pending),
        failed=[r for r in finished if r.status == "failed"],
    )


def write_spec_with(loaded: LoadedSpec, result: Result, path: Path) -> bool:
    """Write a copy of the spec with `result`'s coefficients; True when comments survived."""
    from specc.spec.edit import set_scalars

    text = Path(loaded.file).read_text(encoding="utf-8")
    values: dict[tuple[str | int, ...], float] = {
        ("scaling", "coefficients", "depth"): result.alpha,
        ("scaling", "coefficients", "width"): result.beta,
        ("scaling", "coefficients", "resolution"): result.gamma,
    }
    new, kept = set_scalars(text, values)
    path.write_text(new, encoding="utf-8")
    return kept
