"""Load a spec: read YAML, apply `--set` overrides, validate, report every problem located.

Pydantic reports error locations as paths through the model (with discriminator tags in
them); we walk the same path through the parsed data to find the line and column, and
through the JSON Schema to name the keys that would have been accepted (for the
did-you-mean hint on unknown keys). Spec models are strict (`specc.lang.types.StrictModel`),
so a type error says what was expected and what the YAML value was (`expected a whole
number, got true (a boolean)`). Legal values that are probably not meant come back as
warnings beside the result (`LoadedSpec.warnings`), never as errors.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from specc.blocks.plugins import broken_message, stage_schemas
from specc.diagnostics import Diagnostic, Location, SpecError, did_you_mean, dotted, warning
from specc.lang.graphs import check_blocks, check_stage
from specc.lang.schema import FORMAT_VERSION, GraphStage, Norm, Spec
from specc.lang.source import Path as DataPath
from specc.lang.source import Source, check_size, parse_scalar, parse_yaml, read_regular


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with where it came from (for diagnostics raised later), and the
    warnings its loading found (legal values that are probably not meant)."""

    spec: Spec
    source: Source
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def file(self) -> str:
        return self.source.file

    @property
    def hash(self) -> str:
        """sha256 of the validated spec with overrides applied, as canonical JSON.

        Fields left at their defaults are omitted, so a new optional field in the language
        does not change the hash of existing specs (the specc version is recorded beside it).
        """
        fields = self.spec.model_dump(mode="json", exclude_defaults=True)
        canonical = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def locate(self, *path: str | int) -> Location:
        return self.source.locate(tuple(path))


def load(path: str | Path, overrides: Iterable[str] | Mapping[str, Any] = ()) -> LoadedSpec:
    """Load and validate a spec file; `overrides` are `dotted.path=value` strings or a mapping."""
    file = str(path)
    try:
        # One byte past the limit: enough to refuse, whatever the file's real size.
        raw = read_regular(path)
        check_size(max(len(raw), Path(path).stat().st_size), file)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise SpecError([Diagnostic("no such file", Location(file))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise SpecError([Diagnostic(f"cannot read the file: {reason}", Location(file))]) from None
    return loads(text, file, overrides)


def loads(
    text: str, file: str = "<string>", overrides: Iterable[str] | Mapping[str, Any] = ()
) -> LoadedSpec:
    source = parse_yaml(text, file)
    if not isinstance(source.data, dict):
        raise SpecError([Diagnostic("the top level must be a mapping of keys", source.locate(()))])
    problems = apply_overrides(source, overrides)
    version = source.data.get("format")
    if isinstance(version, int) and version != FORMAT_VERSION:
        raise SpecError(
            [
                Diagnostic(
                    f"spec format {version} is not supported; "
                    f"this specc reads format {FORMAT_VERSION}",
                    source.locate(("format",)),
                    "format",
                )
            ]
        )
    try:
        spec = Spec.model_validate(source.data)
    except ValidationError as exc:
        problems += [_diagnostic(error, source) for error in exc.errors()]
    if problems:
        raise SpecError(problems)
    problems = _graph_problems(spec, source)
    if problems:
        raise SpecError(problems)
    return LoadedSpec(spec, source, tuple(_warnings(spec, source)))


def _graph_problems(spec: Spec, source: Source) -> list[Diagnostic]:
    """The YAML block kinds' problems and those of the stages that name them, located."""

    def locate(*path: str | int) -> Location:
        return source.locate(tuple(path))

    known = _block_kinds()
    problems = check_blocks(spec.blocks, locate, known)
    for index, stage in enumerate(spec.stages):
        if isinstance(stage, GraphStage):
            broken = _broken_plugin(stage.block)
            if broken is not None and stage.block not in spec.blocks:
                where = source.locate(("stages", index, "block"))
                problems.append(Diagnostic(broken, where, f"stages[{index}].block"))
                continue
            problems += check_stage(stage, index, spec.blocks, locate, known)
    stem = spec.stem
    if stem.block is not None and stem.block not in spec.blocks:
        names = sorted(spec.blocks)
        message = f"unknown stem block {stem.block!r}: the stem takes a YAML kind of `blocks:`"
        message += f" ({', '.join(names)})" if names else " (this spec defines none)"
        where = source.locate(("stem", "block"))
        problems.append(Diagnostic(message, where, "stem.block", did_you_mean(stem.block, names)))
    elif stem.block is not None:
        for name in ("kernel", "bias", "norm", "padding", "deep"):
            if name in stem.model_fields_set:
                message = f"`{name}` is a conv field; the stem block {stem.block!r} ignores it"
                where = source.locate(("stem", name))
                problems.append(Diagnostic(message, where, f"stem.{name}", "remove it"))
    return problems


# --- warnings -----------------------------------------------------------------------------

TF_MOMENTUM = 0.5  # above this a batch-norm momentum is almost surely TF's decay


def _warnings(spec: Spec, source: Source) -> list[Diagnostic]:
    """Legal values that are probably a mistake: each batch-norm momentum past TF_MOMENTUM
    (specc, like PyTorch, weights the new batch by momentum; TF's decay weights the old)."""
    found = []
    for path, norm in _models_of(spec, Norm, ()):
        momentum = norm.momentum
        if momentum > TF_MOMENTUM:
            message = (
                f"momentum {momentum:g} looks like TensorFlow's decay: specc uses PyTorch's "
                "convention, momentum = 1 - TF decay (TF's 0.99 is 0.01)"
            )
            hint = f"did you mean {1 - momentum:.6g}?"
            at = (*path, "momentum")
            found.append(warning(message, source.locate(at), dotted(at), hint))
    return found


def _models_of(model: Any, kind: type, path: DataPath) -> Iterable[tuple[DataPath, Any]]:
    """Every instance of `kind` in a validated model tree, with its path."""
    if isinstance(model, kind):
        yield path, model
    elif isinstance(model, BaseModel):
        for name in type(model).model_fields:
            yield from _models_of(getattr(model, name), kind, (*path, name))
    elif isinstance(model, list | tuple):
        for index, item in enumerate(model):
            yield from _models_of(item, kind, (*path, index))
    elif isinstance(model, dict):
        for key, item in model.items():
            yield from _models_of(item, kind, (*path, key))


# --- overrides ----------------------------------------------------------------------------

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_override_path(text: str) -> DataPath:
    """'stages[2].kernel' or 'stages.2.kernel' -> ('stages', 2, 'kernel')."""
    parts: list[str | int] = []
    position = 0
    for match in _SEGMENT.finditer(text):
        between = text[position : match.start()]
        if between not in ("", "."):
            raise ValueError(f"malformed path {text!r}")
        name, index = match.groups()
        parts.append(int(index) if index is not None else int(name) if name.isdigit() else name)
        position = match.end()
    if not parts or position != len(text) or not isinstance(parts[0], str):
        raise ValueError(f"malformed path {text!r}")
    return tuple(parts)


def apply_overrides(
    source: Source, overrides: Iterable[str] | Mapping[str, Any]
) -> list[Diagnostic]:
    """Set each `path=value` in the parsed data; values are YAML scalars parsed like the file.

    Returns the overrides that could not be applied; the others are applied, so that
    validation can report their problems in the same run."""
    problems: list[Diagnostic] = []
    items: list[tuple[str, Any]] = []
    if isinstance(overrides, Mapping):
        items = [(key, value) for key, value in overrides.items()]
    else:
        for text in overrides:
            key, sep, value = text.partition("=")
            if sep:
                items.append((key.strip(), value))
            else:
                where = Location(f"{source.file} (--set {text})")
                problems.append(Diagnostic("expected dotted.path=value", where, text))
    for key, raw in items:
        where = Location(f"{source.file} (--set {key}={raw})")
        try:
            path = parse_override_path(key)
            value = parse_scalar(raw) if isinstance(raw, str) else raw
            _set(source.data, path)(value)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            problems.append(Diagnostic(str(exc).strip("'\""), where, key))
            continue
        source.overridden[path] = f"{key}={raw}"
    return problems


def _set(data: Any, path: DataPath) -> Any:
    """A setter for `path` in `data`; the containers on the way must exist."""
    container = data
    for depth, part in enumerate(path[:-1]):
        container = _child(container, part, path[: depth + 1])
    last = path[-1]
    if isinstance(container, list):
        if not isinstance(last, int) or not 0 <= last < len(container):
            raise IndexError(f"no item {last} in {dotted(path[:-1])} ({len(container)} items)")
    elif not isinstance(container, dict) or isinstance(last, int):
        raise TypeError(f"{dotted(path[:-1]) or 'the spec'} is not a mapping")

    def setter(value: Any) -> None:
        container[last] = value

    return setter


def _child(container: Any, part: str | int, path: DataPath) -> Any:
    if isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container):
        return container[part]
    if isinstance(container, dict) and isinstance(part, str):
        return container.setdefault(part, {})
    if isinstance(container, list):
        raise IndexError(f"no item {part} in {dotted(path[:-1])} ({len(container)} items)")
    raise TypeError(f"{dotted(path[:-1]) or 'the spec'} is not a mapping or a list")


# --- pydantic errors -> diagnostics -------------------------------------------------------

_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required field is missing",
}

# Strict types: what was expected, by pydantic's error type.
_EXPECTED = {
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping of keys",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
    "list_type": "a list",
}


def describe_value(value: Any) -> str:
    """A YAML value as a person reads it: `true (a boolean)`, `"8" (a string)`."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean; YAML also reads yes/no and on/off so)"
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        try:
            float(value)
        except ValueError:
            return f"{shown!r} (a string)"
        return f"{shown!r} (a string; write the number without quotes)"
    if isinstance(value, float):
        return f"{value!r} (a number with a fraction)" if not value.is_integer() else repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _diagnostic(error: Mapping[str, Any], source: Source) -> Diagnostic:
    path = _data_path(source.data, error["loc"])
    kind = error["type"]
    message = _MESSAGES.get(kind) or str(error["msg"]).removeprefix("Value error, ")
    if kind in _EXPECTED:
        message = f"expected {_EXPECTED[kind]}, got {describe_value(error.get('input'))}"
    hint = None
    if kind == "extra_forbidden" and path:
        allowed = _allowed_keys(source.data, path[:-1])
        hint = did_you_mean(str(path[-1]), allowed) if allowed else None
    elif kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag")
        known = sorted(_block_kinds())
        message = f"unknown block kind {tag!r}; known kinds: {', '.join(known)}"
        hint = did_you_mean(str(tag), known)
        plugin_problem = _broken_plugin(str(tag))
        if plugin_problem is not None:
            message, hint = plugin_problem, None
        path = (*path, "block")
    elif kind == "union_tag_not_found":
        message = (
            f"each stage needs a 'block' key naming its kind ({', '.join(sorted(_block_kinds()))})"
        )
    elif kind == "literal_error" and path == ("format",):
        message = f"spec format must be {FORMAT_VERSION}"
    return Diagnostic(message, source.locate(path), dotted(path), hint)


def _data_path(data: Any, loc: Iterable[str | int]) -> DataPath:
    """Turn a pydantic loc into a path through the data, dropping discriminator tags."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_list or (isinstance(node, dict) and part in node):
            node = node[part]
        elif (
            isinstance(node, dict)
            and isinstance(part, str)
            and part in (node.get("block"), "graph")
        ):
            continue  # the discriminator tag of a stage (a YAML kind's is "graph")
        else:
            node = None
        path.append(part)
    return tuple(path)


def _broken_plugin(kind: str) -> str | None:
    return broken_message(kind)


def _block_kinds() -> list[str]:
    return list(stage_schemas())


@cache
def _json_schema() -> dict[str, Any]:
    return Spec.model_json_schema()


def _allowed_keys(data: Any, path: DataPath) -> list[str]:
    """Keys the schema accepts at `path` (following stage kinds by their `block` value)."""
    schema = _json_schema()
    node: dict[str, Any] = schema
    value = data
    for part in path:
        node = _select(schema, node, value)
        if isinstance(part, int):
            node = node.get("items", {})
            value = value[part] if isinstance(value, list) and part < len(value) else None
        else:
            props = node.get("properties", {})
            extra = node.get("additionalProperties")
            node = props.get(part, extra if isinstance(extra, dict) else {})
            value = value.get(part) if isinstance(value, dict) else None
    return list(_select(schema, node, value).get("properties", {}))


def _select(schema: dict[str, Any], node: dict[str, Any], value: Any) -> dict[str, Any]:
    """Resolve $ref and pick the union member that fits `value`."""
    while True:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
            continue
        variants = node.get("oneOf") or node.get("anyOf")
        if not variants:
            return node
        resolved = [_select(schema, v, value) for v in variants]
        with_props = [v for v in resolved if "properties" in v]
        kind = value.get("block") if isinstance(value, dict) else None
        for variant in with_props:
            if variant["properties"].get("block", {}).get("const") == kind:
                return variant
        return with_props[0] if with_props else resolved[0]
