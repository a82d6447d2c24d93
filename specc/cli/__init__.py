"""The `specc` command line: a thin click shell over `specc.api`.

Exit codes: 0 success; 1 a problem with the input (spec, selector, output folder) or a
stale generated folder under `--check`; 2 a usage error (click's convention). User errors
print located diagnostics on stderr, never a traceback. No torch is imported here: each
command module imports its heavy dependencies inside the command.

The group is defined here and registers the commands of its modules; the modules share
`specc.cli.common` and never import the group.
"""

from __future__ import annotations

import click

from specc import __version__
from specc.cli import build, data, deploy, fit, inspect, search, study, train, weights


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="specc")
def main() -> None:
    """specc: compile declarative ConvNet specs with compound scaling."""
    from specc.emit.textout import ascii_fallback

    ascii_fallback()


for command in (
    build.build, build.show, build.validate, build.schema,
    inspect.diff, inspect.sweep, inspect.graph,
    weights.weights, fit.fit,
    search.search, study.study,
    data.data,
    train.train,
    deploy.export, deploy.bench,
):  # fmt: skip
    main.add_command(command)
