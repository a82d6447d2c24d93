"""What `specc diff` compares: a spec with an inline selector, or a generated folder.

Grammar of an operand (the part after the last `@` is a comma-separated list):

    specs/b0.yaml                           the spec at phi = 0, as `specc build` does
    specs/b0.yaml@phi=6                     compound scaling
    specs/b0.yaml@preset=b6                 a preset
    specs/b0.yaml@phi=6,defaults.norm.eps=1e-5,stages[5].repeats=5
                                            ... with `--set` overrides (no commas in a value)
    generated/efficientnet-phi6             a generated folder: its architecture.json
    generated/efficientnet-phi6/architecture.json

An existing path is never split at `@`, so a file name may contain one.

Either way the result is an `Operand` holding the architecture record (the content of
architecture.json, which is what diff compares) and the way to its model.py. A missing or
corrupt record is a SpecError naming the file and the field, raised here, so the
comparison never meets a half-formed record. This module reads and compiles; it compares
and prints nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from specc.build.architecture import Architecture
from specc.build.folder import MARKER, read_plain, settle
from specc.build.record import SCHEMA_VERSION
from specc.diagnostics import Diagnostic, Location, SpecError, dotted
from specc.scaling.selector import Selector

REBUILD_HINT = "rebuild the folder with specc build"


@dataclass(frozen=True)
class Operand:
    """One side of a diff."""

    text: str  # as the user wrote it
    kind: Literal["spec", "folder"]
    record: dict[str, Any]  # architecture.json's content
    arch: Architecture | None = None  # compiled here (spec operands)
    folder: Path | None = None  # where model.py lies (folder operands)

    @property
    def title(self) -> str:
        """`efficientnet, phi = 6`: what was built, from the record alone."""
        return f"{self.record['name']}, {selector_of(self.record).describe()}"

    def model_source(self) -> str:
        """The model.py of this side: emitted for a spec, read from a folder."""
        if self.arch is not None:
            from specc.emit.pytorch.emit import emit_pytorch

            return emit_pytorch(self.arch)
        assert self.folder is not None
        path = self.folder / "model.py"
        text = read_plain(path)  # a regular file only: a FIFO never blocks the diff
        if text is None:
            reason = "no model.py here" if not path.exists() else "not a regular file"
            raise SpecError([Diagnostic(reason, Location(str(path)), hint=REBUILD_HINT)])
        return text


def selector_of(record: dict[str, Any]) -> Selector:
    """The Selector a record was built with."""
    selector = record["selector"]
    if selector["mode"] == "preset":
        return Selector(preset=selector["preset"])
    return Selector(phi=selector["phi"])


def open_operand(text: str, *, allow_large: bool = False) -> Operand:
    """Compile a spec operand or read a folder operand; SpecError on any problem."""
    path, items = _split(text)
    if path.is_dir() or (path.is_file() and path.suffix == ".json"):
        if items:
            message = "a generated folder is already built; @... applies to spec files only"
            raise SpecError([Diagnostic(message, Location(text))])
        file = path / MARKER if path.is_dir() else path
        settle(file.parent)  # a build a kill interrupted: finished, or refused
        return Operand(text, "folder", read_record(file), folder=file.parent)
    if not path.exists():
        raise SpecError([Diagnostic("no such file or folder", Location(str(path)))])
    selector, overrides = _selector(text, items)
    return _compile(text, path, selector, overrides, allow_large)


def _split(text: str) -> tuple[Path, list[str]]:
    if Path(text).exists() or "@" not in text:
        return Path(text), []
    path, _, rest = text.rpartition("@")
    return Path(path), rest.split(",")


def _selector(text: str, items: list[str]) -> tuple[Selector, tuple[str, ...]]:
    phi: float | None = None
    preset: str | None = None
    overrides: list[str] = []
    problems = []
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key:
            problems.append(f"{item!r}: expected phi=NUMBER, preset=NAME or PATH=VALUE")
        elif key == "phi":
            try:
                phi = float(value)
            except ValueError:
                problems.append(f"phi must be a number, got {value!r}")
            else:
                if not math.isfinite(phi):
                    problems.append(f"phi must be a finite number, got {value!r}")
        elif key == "preset":
            preset = value
        else:
            overrides.append(item)
    if phi is not None and preset is not None:
        problems.append("phi and preset exclude each other; give one")
    if problems:
        raise SpecError([Diagnostic(p, Location(text)) for p in problems])
    return Selector(phi=phi, preset=preset), tuple(overrides)


def _compile(
    text: str, path: Path, selector: Selector, overrides: tuple[str, ...], allow_large: bool
) -> Operand:
    from specc.build.driver import compile_spec
    from specc.lang.load import load

    loaded = load(path, overrides)
    # The nearest preset is an annotation of phi builds, not compared: skip its compile.
    arch = compile_spec(loaded, selector, allow_large=allow_large, nearest_preset=False)
    # Through JSON, so that a record compiled here and one read from a folder have the
    # same types (lists, not tuples) and compare equal when the builds are equal.
    record = json.loads(json.dumps(arch.to_dict()))
    return Operand(text, "spec", record, arch=arch)


def read_record(file: Path) -> dict[str, Any]:
    """Read and check an architecture.json; SpecError if missing, unreadable or corrupt."""
    where = Location(str(file))
    if not file.exists():
        message = f"no {MARKER} here: not a folder that specc build wrote"
        raise SpecError([Diagnostic(message, where)])
    text = read_plain(file)  # a regular file of bounded size only: a FIFO never blocks
    if text is None:
        message = "cannot read the file: not a regular file, or unreadable, or too large"
        raise SpecError([Diagnostic(message, where, hint=REBUILD_HINT)])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        at = Location(str(file), exc.lineno, exc.colno)
        raise SpecError([Diagnostic(f"not valid JSON: {exc.msg}", at, hint=REBUILD_HINT)]) from None
    if not isinstance(data, dict) or "schema" not in data:
        message = f"not a specc {MARKER} (no schema version)"
        raise SpecError([Diagnostic(message, where, hint=REBUILD_HINT)])
    if data["schema"] != SCHEMA_VERSION:
        message = f"{MARKER} schema {data['schema']!r} is not the one this specc reads"
        raise SpecError([Diagnostic(f"{message} ({SCHEMA_VERSION})", where, hint=REBUILD_HINT)])
    try:
        _Record.model_validate(data)
    except ValidationError as exc:
        raise SpecError(
            [
                Diagnostic(error["msg"], where, dotted(error["loc"]), REBUILD_HINT)
                for error in exc.errors()
            ]
        ) from None
    return data


# The parts of architecture.json that diff reads, checked so that a hand-edited or
# truncated file is reported by field instead of failing deep inside the comparison.
class _Part(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class _SpecInfo(_Part):
    file: str
    sha256: str
    overrides: list[str]


class _Selector(_Part):
    mode: Literal["phi", "preset"]
    phi: float | None = None
    preset: str | None = None
    label: str

    @model_validator(mode="after")
    def _has_its_value(self) -> _Selector:
        if getattr(self, self.mode) is None:
            raise ValueError(f"a {self.mode} selector needs its {self.mode}")
        return self


class _Multipliers(_Part):
    depth: float
    width: float
    resolution: float


class _Layer(_Part):
    kernel: int | str  # "3,5,7": a mixed conv's sizes
    stride: int
    in_channels: int
    out_channels: int
    output: list[int]
    params: int
    macs: int


class _Stage(_Layer):
    block: str
    repeats: int
    expand: float | None = None
    se: float | None = None


class _LayerRow(_Part):
    name: str
    op: str
    inputs: list[str]
    in_shape: list[int] | None
    out_shape: list[int]
    kernel: int | str | None
    stride: int | None
    groups: int | None
    params: int
    macs: int
    activations: int


class _Totals(_Part):
    params: int
    macs: int
    activations: int
    blocks: int
    layers: int


class _Record(_Part):
    name: str
    spec: _SpecInfo
    selector: _Selector
    multipliers: _Multipliers
    resolution: int
    rules: dict[str, Any]
    stem: _Layer
    stages: list[_Stage]
    head: _Layer | None
    layers: list[_LayerRow]
    totals: _Totals
