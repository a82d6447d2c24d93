"""`specc search`: a thin click shell over `specc.tools.search`.

Checks the options, builds the strategy, evaluator and executor, and prints: one line per
finished candidate with the running best (on stderr, terminal or not), then the ranked
table. Everything heavy (torch in the trainer's processes, Ray, Optuna, matplotlib) is
imported only when the options ask for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import click

from specc.cli.common import reports_errors
from specc.diagnostics import EXIT_SIGINT, Interrupted, UserError


def _fail(option: str, message: str) -> NoReturn:
    raise UserError(f"{option}: {message}")


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--step", type=float, default=0.05, show_default=True, help="grid step")
@click.option("--target", type=float, default=2.0, show_default=True,
              help="alpha * beta^2 * gamma^2 to aim for")  # fmt: skip
@click.option("--tolerance", type=float, default=0.1, show_default=True,
              help="how far the grid's product may be from the target")  # fmt: skip
@click.option("--strategy", type=click.Choice(["grid", "tpe"]), default="grid", show_default=True,
              help="the paper's grid, or Optuna's TPE (specc[optuna])")  # fmt: skip
@click.option("--trials", type=click.IntRange(1, 100_000), default=20, show_default=True,
              help="tpe: candidates in all, recorded ones included")  # fmt: skip
@click.option("--prune", is_flag=True, help="tpe with --data: successive halving on epochs")
@click.option("--seed", type=int, default=0, show_default=True, help="tpe: sampler seed")
@click.option("--data", metavar="DIR|FILE.npz",
              help="train each candidate with specc's trainer on this data")  # fmt: skip
@click.option("--epochs", type=click.IntRange(1), help="--data: epochs per candidate")
@click.option("--top1", type=click.Choice(["raw", "ema"]),
              help="--data: rank by the raw or the EMA weights' val top-1 [raw]")  # fmt: skip
@click.option("--eval", "command", metavar="'COMMAND {config}'",
              help="rank candidates by running this per candidate (no shell)")  # fmt: skip
@click.option("--metric", default="metric", show_default=True,
              help="--eval: key of the metric in the command's last JSON output line")  # fmt: skip
@click.option("--minimize", is_flag=True, help="--eval: lower metric is better (a loss)")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="where evaluations run")  # fmt: skip
@click.option("--address", help="ray: the cluster (auto: the one this node is in)")
@click.option("--jobs", type=click.IntRange(1, 4096),
              help="evaluations at once [local: 1; ray: what the cluster holds]")  # fmt: skip
@click.option("--gpus-per-job", type=click.FloatRange(0),
              help="GPUs for each evaluation [1 where GPUs exist, else 0]")  # fmt: skip
@click.option("--cpus-per-job", type=click.FloatRange(0, min_open=True),
              help="ray: CPUs for each evaluation [1]")  # fmt: skip
@click.option("--timeout", type=float, help="seconds per evaluation")
@click.option("--limit", type=click.IntRange(1), help="start at most N evaluations in this run")
@click.option("--results", type=click.Path(dir_okay=False, path_type=Path),
              help="append results here (.csv or .jsonl) [search-<name>.jsonl]")  # fmt: skip
@click.option("--retry-failed", is_flag=True, help="re-run candidates recorded as failed")
@click.option("--write", "write_to", type=click.Path(dir_okay=False, path_type=Path),
              help="write a copy of SPEC with the best candidate's coefficients")  # fmt: skip
@click.option("--plot", "plot_to", type=click.Path(dir_okay=False, path_type=Path),
              help="plot score against MACs with the Pareto front (specc[plot])")  # fmt: skip
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="override a spec field, e.g. training.batch_size=32")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="print the ranked rows as JSON")
@reports_errors
def search(spec: Path, **o: Any) -> None:
    """Search alpha, beta, gamma for SPEC's compound scaling (the paper's step 1)."""
    from specc import api
    from specc.tools import search as tool

    _check_usage(o)
    _check_outputs(o)
    loaded = api.load(spec, o["overrides"])
    evaluator = _evaluator(o, loaded)
    if o["strategy"] == "grid":
        try:
            candidates = tool.grid(o["step"], o["target"], o["tolerance"])
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--step/--target/--tolerance") from None
        if not candidates:
            raise click.UsageError(
                f"no alpha, beta, gamma >= 1 on a {o['step']:g} grid has alpha*beta^2*gamma^2 "
                f"within {o['tolerance']:g} of {o['target']:g}: widen --tolerance or refine --step"
            )
        rows = _measure_with_progress(tool, loaded, candidates)
        rows = tool.rank(rows, o["target"], evaluated=False)  # nearest the target first
    else:
        rows = []
    if evaluator is None:
        _print_compiled(tool, loaded, rows, o)
        return
    path = o["results"] or Path(f"search-{loaded.spec.name}.jsonl")
    state = _run(tool, loaded, rows, evaluator, path, o)
    seen = state.rows
    if o["strategy"] == "tpe":  # the study is everything recorded, earlier runs' trials too
        seen = {**tool.ResultsFile(path).read(), **seen}
    evaluated = [r for r in seen.values() if r.status != "compiled"]
    ranked = tool.rank(evaluated, o["target"], evaluated=True, minimize=o["minimize"])
    label = _metric_label(o)
    if o["as_json"]:
        click.echo(json.dumps([{k: getattr(r, k) for k in tool.FIELDS} for r in ranked], indent=2))
    else:
        _print_table(ranked, o["target"], label)
    _summarise(state, path, o)
    _warn_noise(ranked, loaded, o)
    if o["plot_to"] is not None:
        _plot(ranked, o, label, spec)
    if o["write_to"] is not None:
        if state.best is None:
            _fail("--write", "no candidate finished: nothing to write")
        _write_best(loaded, state.best, o["write_to"])


def _check_usage(o: dict[str, Any]) -> None:
    usage = click.UsageError
    if o["data"] is not None and o["command"] is not None:
        raise usage("give --data (specc's trainer) or --eval (your command), not both")
    if o["command"] is not None and "{config}" not in o["command"]:
        raise click.BadParameter("the command needs a {config} placeholder", param_hint="--eval")
    evaluating = o["data"] is not None or o["command"] is not None
    needs_data = [n for n in ("epochs", "top1") if o[n] is not None]
    if o["prune"]:
        needs_data.append("prune")
    if needs_data and o["data"] is None:
        raise usage(f"--{needs_data[0]} needs --data (the built-in trainer)")
    if o["minimize"] and o["data"] is not None:
        raise usage("--minimize is for --eval metrics; --data ranks by top-1, higher is better")
    if o["timeout"] is not None and not (0 < o["timeout"] < float("inf")):
        raise click.BadParameter(f"{o['timeout']:g} is not a positive number of seconds",
                                 param_hint="--timeout")  # fmt: skip
    later = [n for n in ("limit", "plot_to", "timeout") if o[n] is not None]
    if (later or o["strategy"] == "tpe") and not evaluating:
        what = "--strategy tpe" if not later else "--" + later[0].replace("_to", "")
        raise usage(f"{what} needs an evaluator: --data DIR or --eval COMMAND")
    if o["prune"] and o["strategy"] != "tpe":
        raise usage("--prune needs --strategy tpe")
    if o["executor"] != "ray" and (o["address"] is not None or o["cpus_per_job"] is not None):
        raise usage("--address and --cpus-per-job are for --executor ray")
    if o["executor"] == "local" and o["gpus_per_job"] not in (None, int(o["gpus_per_job"] or 0)):
        raise usage("--gpus-per-job must be a whole number with --executor local")


def _check_outputs(o: dict[str, Any]) -> None:
    """The files the search writes can be written, before anything is launched."""
    import importlib.util

    for option, path in (("--results", o["results"]), ("--write", o["write_to"]),
                         ("--plot", o["plot_to"])):  # fmt: skip
        if path is not None and not path.parent.is_dir():
            _fail(option, f"{path}: no such folder {path.parent}")
    if o["plot_to"] is not None and importlib.util.find_spec("matplotlib") is None:
        _fail("--plot", "needs matplotlib: pip install 'specc[plot]'")


def _evaluator(o: dict[str, Any], loaded: Any) -> Any:
    from specc.tools.search.evaluators import CommandEvaluator, TrainEvaluator

    if o["command"] is not None:
        command = CommandEvaluator(o["command"], o["metric"], o["timeout"])
        for problem in command.problems():
            _fail("--eval", problem)
        return command
    if o["data"] is None:
        return None
    # Evaluations run in their own folders: a relative path means the caller's folder.
    data = o["data"] if o["data"] == "synthetic" else str(Path(o["data"]).resolve())
    evaluator = TrainEvaluator(data, o["epochs"], o["top1"] or "raw", o["timeout"])
    for problem in evaluator.problems(loaded.spec.num_classes, loaded.spec.input.channels):
        _fail(f"--data {o['data']}", problem)
    return evaluator


def _metric_label(o: dict[str, Any]) -> str:
    if o["data"] is not None:
        return "val top-1 (EMA)" if o["top1"] == "ema" else "val top-1"
    return str(o["metric"])


def make_executor(evaluator: Any, o: dict[str, Any]) -> Any:
    """The executor of the options (--executor, --jobs, --gpus-per-job, ...); `specc study`
    uses it too."""
    from specc.tools.search import executors

    gpus = o["gpus_per_job"]
    if o["executor"] == "ray":
        try:
            return executors.RayExecutor(evaluator, o["address"], o["cpus_per_job"] or 1.0,
                                         gpus, o["jobs"])  # fmt: skip
        except UserError as error:
            _fail("--executor ray", error.message)
    visible = executors.visible_gpus()
    per_job = int(gpus) if gpus is not None else (1 if visible else 0)
    if per_job > len(visible):
        _fail("--gpus-per-job", f"{per_job} GPUs per job, but {len(visible)} GPUs are visible")
    jobs = o["jobs"] or 1
    if per_job and jobs > len(visible) // per_job:
        jobs = len(visible) // per_job
        click.echo(f"note: {len(visible)} GPUs hold {jobs} jobs of {per_job} GPUs", err=True)
    cpus = max(1, executors.cpu_count() // jobs)
    return executors.LocalExecutor(evaluator, jobs, visible, per_job, cpus)


def _strategy(loaded: Any, rows: list[Any], path: Path, o: dict[str, Any], slots: int) -> Any:
    from specc.tools.search.results import ResultsFile
    from specc.tools.search.strategies import GridStrategy

    if o["strategy"] == "grid":
        return GridStrategy(rows)
    try:
        from specc.tools.search.strategies import TpeStrategy

        recorded = list(ResultsFile(path).read().values())
        return TpeStrategy(loaded, o["target"], o["trials"], recorded, seed=o["seed"],
                           prune=o["prune"], parallel=slots > 1,
                           minimize=o["minimize"])  # fmt: skip
    except ImportError:
        _fail("--strategy tpe", "needs Optuna: pip install 'specc[optuna]'")


def _run(tool: Any, loaded: Any, rows: list[Any], evaluator: Any, path: Path, o: Any) -> Any:
    from specc.build.lock import owned

    # One search per results file: a second would evaluate every candidate again into the
    # same run folders. The lock is `.<results>.lock` beside it, refused at once.
    with owned(path.with_name(f".{path.name}.lock"), f"results file {path}"):
        return _run_owned(tool, loaded, rows, evaluator, path, o)


def _run_owned(tool: Any, loaded: Any, rows: list[Any], evaluator: Any, path: Path, o: Any) -> Any:
    from specc.tools.search.driver import run_search

    store = tool.ResultsFile(path)
    store.read()  # a file that cannot be resumed from stops the search before anything runs
    store.check_appendable()
    workdir = path.with_suffix(".runs")
    executor = make_executor(evaluator, o)
    try:
        strategy = _strategy(loaded, rows, path, o, executor.slots)
    except BaseException:
        executor.close()
        raise
    where = f"{executor.slots} at a time, {o['executor']}"
    click.echo(f"searching ({o['strategy']}, {where}); results in {path}, runs under "
               f"{workdir}/", err=True)  # fmt: skip
    label = _metric_label(o)

    def line(result: Any, state: Any) -> None:
        click.echo(_progress_line(result, state, label), err=True)

    try:
        return run_search(loaded, strategy, executor, store, workdir, limit=o["limit"],
                          retry_failed=o["retry_failed"], minimize=o["minimize"],
                          on_result=line)  # fmt: skip
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted: what finished is recorded in {path}; run the same command again to "
            "resume",
            EXIT_SIGINT,
        ) from None


def _progress_line(result: Any, state: Any, label: str) -> str:
    total = f"/{state.planned}" if state.planned else ""
    head = f"[{state.finished + state.resumed}{total}] {result.key}"
    if result.status in ("ok", "duplicate"):
        body = f"{label} {result.metric:.4f}"
        body += f" in {result.wall_s:.1f} s" if result.status == "ok" else f" ({result.error})"
    elif result.status == "pruned":
        body = f"pruned ({label} {result.metric or 0:.4f} when stopped)"
    else:
        body = f"failed: {result.error}"
    best = state.best
    tail = f" | best {best.metric:.4f} {best.key}" if best is not None else ""
    return f"{head}: {body}{tail}"


def _summarise(state: Any, path: Path, o: dict[str, Any]) -> None:
    if state.resumed:
        click.echo(f"resuming from {path}: {state.resumed} candidates already evaluated", err=True)
    failed = state.failed
    if failed:
        click.echo(f"warning: {len(failed)} candidates failed (their error is in {path}; "
                   "--retry-failed re-runs them)", err=True)  # fmt: skip
        for row in failed:
            click.echo(f"warning: {row.key} failed: {row.error}", err=True)
    if state.limited:
        left = sum(1 for r in state.rows.values() if r.status == "compiled")
        click.echo(f"note: --limit {o['limit']} reached; {left} candidates not evaluated "
                   "(rerun to continue)", err=True)  # fmt: skip


def _warn_noise(ranked: list[Any], loaded: Any, o: dict[str, Any]) -> None:
    """Say when the top-1 scores cannot rank the candidates (--data only)."""
    if o["data"] is None:
        return
    from specc.runtime.train.folders import count_images
    from specc.tools.search.noise import ranking_warnings

    val = count_images(Path(o["data"]) / "val")
    for warning in ranking_warnings(ranked, loaded.spec.num_classes, val):
        click.echo(f"warning: {warning}", err=True)


def _progress() -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True,
                    disable=not console.is_terminal)  # fmt: skip


def _measure_with_progress(tool: Any, loaded: Any, candidates: list[Any]) -> list[Any]:
    with _progress() as progress:
        task = progress.add_task("compiling candidates at phi = 1", total=len(candidates))
        return list(tool.measure(loaded, candidates, lambda: progress.advance(task)))


def _print_compiled(tool: Any, loaded: Any, rows: list[Any], o: dict[str, Any]) -> None:
    if o["results"] is not None:
        store = tool.ResultsFile(o["results"])
        for row in rows:
            store.append(row)
    if o["as_json"]:
        click.echo(json.dumps([{k: getattr(r, k) for k in tool.FIELDS} for r in rows], indent=2))
    else:
        _print_table(rows, o["target"], None)
    if o["write_to"] is not None:
        _write_best(loaded, rows[0], o["write_to"])


def _print_table(rows: list[Any], target: float, label: str | None) -> None:
    """The ranked rows; `label` names the score column (None: not evaluated)."""
    from rich import box
    from rich.table import Table

    from specc.emit.terminal import console as make_console
    from specc.emit.terminal import print_table

    console = make_console()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    columns = ["rank", "alpha", "beta", "gamma", "a*b^2*g^2", "resolution", "params", "GMACs",
               "MACs ratio"] + ([label, "wall s", "status"] if label else [])  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    for index, r in enumerate(rows, 1):
        cells = [str(index), f"{r.alpha:g}", f"{r.beta:g}", f"{r.gamma:g}", f"{r.product:.4f}",
                 str(r.resolution), f"{r.params:,}", f"{r.macs / 1e9:.4f}",
                 f"{r.macs_ratio:.3f}"]  # fmt: skip
        if label:
            metric = "" if r.metric is None else f"{r.metric:.4g}"
            wall = "" if not r.wall_s else f"{r.wall_s:.1f}"
            cells += [metric, wall, r.status]
        table.add_row(*cells)
    order = f"by {label}" if label else f"by how close the built MACs ratio is to {target:g}"
    console.print(f"{len(rows)} candidates at phi = 1, ranked {order}")
    print_table(console, table, drop=("a*b^2*g^2", "MACs ratio", "wall s", "resolution"))


def _plot(rows: list[Any], o: dict[str, Any], label: str, spec: Path) -> None:
    from specc.tools.search.plot import plot

    title = f"{spec.name}: {o['strategy']} search, score against MACs at phi = 1"
    try:
        shown = plot(rows, o["plot_to"], metric=label, title=title, minimize=o["minimize"])
    except UserError as error:
        _fail("--plot", error.message)
    click.echo(f"wrote {o['plot_to']} ({shown} candidates)", err=True)


def _write_best(loaded: Any, best: Any, path: Path) -> None:
    from specc.tools.search.results import write_spec_with

    kept = write_spec_with(loaded, best, path)
    note = "" if kept else " (the spec had no coefficients block: re-dumped, comments lost)"
    coefficients = f"alpha {best.alpha:g}, beta {best.beta:g}, gamma {best.gamma:g}"
    click.echo(f"wrote {path} with {coefficients}{note}")
