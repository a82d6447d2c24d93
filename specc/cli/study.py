"""`specc study`: a thin click shell over `specc.tools.study`.

Checks every option and the data before anything trains, finds the members, runs them on
the search's executors, prints a progress line per finished run (stderr) and the ranked
table (or --json), and writes the CSV and the plot. Relative paths are the caller's: they
are made absolute before any evaluation starts in its own folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from specc.cli.common import reports_errors
from specc.diagnostics import EXIT_SIGINT, Interrupted, UserError


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", metavar="DIR|FILE.npz",
              help="train each member with specc's trainer on this data")  # fmt: skip
@click.option("--eval", "command", metavar="'COMMAND {config}'",
              help="score each member and seed by running this (no shell)")  # fmt: skip
@click.option("--metric", default="metric", show_default=True,
              help="--eval: key of the metric in the command's last JSON output line")  # fmt: skip
@click.option("--minimize", is_flag=True, help="--eval: lower metric is better (a loss)")
@click.option("--budgets", default="2,4", show_default=True,
              help="MACs budgets, multiples of the baseline's (phi = 0)")  # fmt: skip
@click.option("--rules", default="compound,width,depth,resolution", show_default=True,
              help="scaling rules to compare")  # fmt: skip
@click.option("--seeds", type=click.IntRange(1), default=3, show_default=True,
              help="trainings per member (seeds 0 .. N-1)")  # fmt: skip
@click.option("--epochs", type=click.IntRange(1), help="--data: epochs per training")
@click.option("--top1", type=click.Choice(["raw", "ema"]),
              help="--data: score by the raw or the EMA weights' val top-1 [raw]")  # fmt: skip
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="where evaluations run")  # fmt: skip
@click.option("--address", help="ray: the cluster (auto: the one this node is in)")
@click.option("--jobs", type=click.IntRange(1, 4096),
              help="evaluations at once [local: 1; ray: what the cluster holds]")  # fmt: skip
@click.option("--gpus-per-job", type=click.FloatRange(0),
              help="GPUs for each evaluation [1 where GPUs exist, else 0]")  # fmt: skip
@click.option("--cpus-per-job", type=click.FloatRange(0, min_open=True),
              help="ray: CPUs of each evaluation [1]")  # fmt: skip
@click.option("--timeout", type=float, help="seconds per evaluation")
@click.option("--results", type=click.Path(dir_okay=False, path_type=Path),
              help="the resumable results file (.jsonl) [study-<name>.jsonl]")  # fmt: skip
@click.option("--retry-failed", is_flag=True, help="re-run runs recorded as failed")
@click.option("--csv", "csv_to", type=click.Path(dir_okay=False, path_type=Path),
              help="write the summary table as CSV")  # fmt: skip
@click.option("--plot", "plot_to", type=click.Path(dir_okay=False, path_type=Path),
              help="plot score against MACs per rule (specc[plot])")  # fmt: skip
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="override a spec field, e.g. training.batch_size=32")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="print the summary rows as JSON")
@reports_errors
def study(spec: Path, **o: Any) -> None:
    """Compare compound with depth-, width- and resolution-only scaling at equal MACs."""
    from specc import api
    from specc.tools.study.members import parse_budgets, parse_rules

    _check_usage(o)
    budgets, rules = parse_budgets(o["budgets"]), parse_rules(o["rules"])
    for name in ("results", "csv_to", "plot_to"):  # the caller's folder, before anything runs
        if o[name] is not None:
            o[name] = Path(o[name]).absolute()
    loaded = api.load(spec, o["overrides"])
    evaluator = _evaluator(o, loaded)
    path = o["results"] or Path(f"study-{loaded.spec.name}.jsonl").absolute()
    for target in (o["csv_to"], o["plot_to"]):
        if target is not None and not target.parent.is_dir():
            raise UserError(f"{target}: the folder {target.parent} does not exist")
    members = _members(loaded, budgets, rules)
    seeds = list(range(o["seeds"]))
    settings = {"spec": loaded.hash, "data": o["data"], "epochs": o["epochs"],
                "top1": o["top1"] or "raw", "eval": o["command"],
                "metric": o["metric"]}  # fmt: skip
    from specc.tools.study.results import StudyResults, locked_results

    store = StudyResults(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked_results(path):
        state = _run(loaded, members, seeds, evaluator, store, path, settings, o)
    _report(spec, members, seeds, state, path, o)


def _check_usage(o: dict[str, Any]) -> None:
    usage = click.UsageError
    if (o["data"] is None) == (o["command"] is None):
        raise usage("give --data (specc's trainer) or --eval (your command)")
    if o["command"] is not None and "{config}" not in o["command"]:
        raise click.BadParameter("the command needs a {config} placeholder", param_hint="--eval")
    if o["data"] is None and (o["epochs"] is not None or o["top1"] is not None):
        raise usage("--epochs and --top1 need --data (the built-in trainer)")
    if o["minimize"] and o["data"] is not None:
        raise usage("--minimize is for --eval metrics; --data scores by top-1, higher is better")
    if o["executor"] != "ray" and (o["address"] is not None or o["cpus_per_job"] is not None):
        raise usage("--address and --cpus-per-job are for --executor ray")
    if o["executor"] == "local" and o["gpus_per_job"] not in (None, int(o["gpus_per_job"] or 0)):
        raise usage("--gpus-per-job must be a whole number with --executor local")


def _evaluator(o: dict[str, Any], loaded: Any) -> Any:
    from specc.tools.search.evaluators import CommandEvaluator, TrainEvaluator

    if o["command"] is not None:
        return CommandEvaluator(o["command"], o["metric"], o["timeout"])
    data = o["data"] if o["data"] == "synthetic" else str(Path(o["data"]).resolve())
    o["data"] = data
    evaluator = TrainEvaluator(data, o["epochs"], o["top1"] or "raw", o["timeout"])
    for problem in evaluator.problems(loaded.spec.num_classes, loaded.spec.input.channels):
        raise UserError(f"--data {data}: {problem}")
    return evaluator


def _members(loaded: Any, budgets: tuple[float, ...], rules: tuple[str, ...]) -> list[Any]:
    from specc.tools.study.members import members

    def line(m: Any) -> None:
        depth, width, _ = m.multipliers
        click.echo(f"member {m.budget:g}x {m.rule}: phi {m.phi:g}, depth {depth:.3f}, width "
                   f"{width:.3f}, {m.resolution} px, {m.params:,} params, "
                   f"{m.macs_ratio:.3f}x MACs", err=True)  # fmt: skip

    return members(loaded, budgets, rules, line)


def _run(loaded: Any, members: list[Any], seeds: list[int], evaluator: Any, store: Any,
         path: Path, settings: dict[str, Any], o: dict[str, Any]) -> Any:  # fmt: skip
    from specc.cli.search import make_executor
    from specc.tools.study.driver import run_study

    store.read(settings)  # a file that cannot be resumed from stops before anything runs
    if store.repaired:
        click.echo(f"warning: {path}: dropped a half-written last line (a killed run)",
                   err=True)  # fmt: skip
    workdir = path.with_suffix(".runs")
    executor = make_executor(evaluator, o)
    total = len(members) * len(seeds)
    click.echo(f"studying {len(members)} members x {len(seeds)} seeds ({executor.slots} at a "
               f"time, {o['executor']}); results in {path}, runs under {workdir}/",
               err=True)  # fmt: skip
    label = _label(o)

    def line(run: Any, state: Any) -> None:
        head = f"[{state.finished + state.resumed}/{total}] {run.key}"
        if run.status == "ok":
            body = f"{label} {run.metric:.4f} in {run.wall_s:.1f} s (log: {run.run})"
        elif run.status == "duplicate":
            body = f"{label} {run.metric:.4f} ({run.error})"
        else:
            body = f"failed: {run.error}"
        click.echo(f"{head}: {body}", err=True)

    try:
        state = run_study(loaded, members, seeds, executor, store, workdir, settings,
                          retry_failed=o["retry_failed"], on_result=line)  # fmt: skip
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted: what finished is recorded in {path}; run the same command again "
            "to resume",
            EXIT_SIGINT,
        ) from None
    if state.resumed:
        click.echo(f"resumed from {path}: {state.resumed} runs already recorded", err=True)
    return state


def _label(o: dict[str, Any]) -> str:
    if o["data"] is not None:
        return "val top-1 (EMA)" if o["top1"] == "ema" else "val top-1"
    return str(o["metric"])


def _report(spec: Path, members: list[Any], seeds: list[int], state: Any, path: Path,
            o: dict[str, Any]) -> None:  # fmt: skip
    from specc.tools.study import report

    cells = report.summarise(members, seeds, state.runs, o["minimize"])
    rows = report.to_rows(cells, str(spec))
    label = _label(o)
    if o["as_json"]:
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(report.table(cells, label))
    for run in state.failed:
        click.echo(f"warning: {run.key} failed: {run.error}", err=True)
    if state.failed:
        click.echo(f"warning: {len(state.failed)} runs failed (in {path}; --retry-failed "
                   "re-runs them)", err=True)  # fmt: skip
    if o["csv_to"] is not None:
        report.write_csv(rows, o["csv_to"])
        click.echo(f"wrote {o['csv_to']}", err=True)
    if o["plot_to"] is not None:
        title = f"{spec.name}: scaling rules at equal MACs ({len(seeds)} seeds)"
        try:
            report.plot(cells, o["plot_to"], label=label, title=title)
        except UserError as error:  # the table and the CSV are written: say so, do not fail
            click.echo(f"warning: plot skipped: {error.message}", err=True)
        else:
            click.echo(f"wrote {o['plot_to']}", err=True)
