"""What the command modules share: option types, the selector options, the compile step
and the error printer. Never imports the command group (`specc.cli`), so no command module
imports it either; nothing here imports torch.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from specc.diagnostics import Diagnostic, UserError, unique

F = TypeVar("F", bound=Callable[..., Any])


class Phi(click.ParamType):  # type: ignore[type-arg]
    """A finite float; NaN and infinities are usage errors."""

    name = "FLOAT"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"phi must be a finite number, got {value!r}", param, ctx)
        return number


class Size(click.ParamType):  # type: ignore[type-arg]
    """A memory size, 24GiB / 24GB / 500MiB (`specc.lang.sizes`), as bytes."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        from specc.lang.sizes import parse_size

        try:
            return parse_size(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


def print_warnings(warnings: list[Diagnostic]) -> None:
    """`warning: file:line:col: path: message` on stderr, each once (never on stdout)."""
    for diagnostic in unique(warnings):
        click.echo(f"{diagnostic.severity}: {diagnostic}", err=True)


def fail(error: UserError, exit_code: int | None = None) -> NoReturn:
    """The one error printer: `error`'s lines on stderr (located diagnostics for a
    SpecError), then exit with its code (or `exit_code`: `specc diff`'s 2 for trouble)."""
    for line in error.lines():
        click.echo(line, err=True)
    sys.exit(error.exit_code if exit_code is None else exit_code)


def reports_errors(command: F) -> F:
    """Decorator: a command's UserError (SpecError included) is printed by `fail` and ends
    the process with its exit code, never as a traceback."""
    return exits_with(None)(command)


def exits_with(exit_code: int | None) -> Callable[[F], F]:
    """`reports_errors` with one exit code for every error (`specc diff`: 2, trouble)."""

    def decorate(function: F) -> F:
        @wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except UserError as error:
                fail(error, exit_code)

        return wrapper  # type: ignore[return-value]

    return decorate


def selector_options(command: F) -> F:
    options = [
        click.argument("spec", type=click.Path(dir_okay=False, path_type=Path)),
        click.option("--phi", type=Phi(), help="compound coefficient (any finite float)"),
        click.option("--preset", metavar="NAME", help="a preset of the spec (e.g. b6)"),
        click.option(
            "--set",
            "overrides",
            multiple=True,
            metavar="PATH=VALUE",
            help="override a spec field (YAML scalar); repeatable",
        ),
        click.option("--allow-large", is_flag=True, help="build even absurdly large models"),
        click.option("--json", "as_json", is_flag=True, help="print one JSON document only"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def compile_spec(
    spec: Path, phi: float | None, preset: str | None, overrides: tuple[str, ...], allow_large: bool
) -> Any:
    if phi is not None and preset is not None:
        raise click.UsageError("--phi and --preset exclude each other; give one")
    from specc.lang.types import is_preset_name

    if preset is not None and not is_preset_name(preset):
        raise click.BadParameter(
            f"{preset!r} is not a preset name (lowercase letters, digits and underscores, "
            "at most 32 characters)",
            param_hint="--preset",
        )
    for text in overrides:
        if "=" not in text:
            raise click.BadParameter(f"{text!r}: expected PATH=VALUE", param_hint="--set")
    from specc import api

    return api.compile(spec, phi=phi, preset=preset, overrides=overrides, allow_large=allow_large)
