"""The block kinds specc knows: the built-ins, and those plugins add.

Adding a built-in kind: write its module, add it to `BUILTIN`. Adding a kind without editing
specc: a package declares an entry point in the group `specc.blocks` whose name is the kind's
name and whose object is a `BlockKind`; its templates live in a `templates/` folder next to
the module the entry point names (see README, "Your own block kinds").

Discovery is lazy and happens once per process, on the first look-up in `KINDS` (loading a
spec builds the stage union from it). A plugin that cannot be used (import error, not a
`BlockKind`, a name taken by a built-in or another plugin, a schema whose `block` literal is
not its name, a missing template) is left out and recorded in `broken()`: specs that name its
kind get an error naming the plugin; other specs never notice it.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from specc.blocks import basic, bottleneck, conv, convnext, dsconv, fused_mbconv, mbconv
from specc.blocks.base import BlockKind, StageBase
from specc.diagnostics import Diagnostic, Location, SpecError

GROUP = "specc.blocks"
BUILTIN: dict[str, BlockKind] = {
    kind.name: kind
    for kind in (
        conv.KIND,
        mbconv.KIND,
        fused_mbconv.KIND,
        dsconv.KIND,
        bottleneck.KIND,
        basic.KIND,
        convnext.KIND,
    )
}
BUILTIN_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Plugin:
    """Where a kind came from: the distribution and its entry point (`name = module:attr`)."""

    distribution: str
    entry_point: str  # "ghost = specc_ghostnet:KIND"
    templates: Path | None = None  # the plugin's template folder

    def __str__(self) -> str:
        return f"plugin {self.distribution!r} (entry point {self.entry_point!r})"


@dataclass(frozen=True)
class BrokenPlugin:
    plugin: Plugin
    reason: str


@dataclass
class _Discovered:
    kinds: dict[str, BlockKind]
    plugins: dict[str, Plugin]
    broken: dict[str, list[BrokenPlugin]]


_state: _Discovered | None = None


def _discover() -> _Discovered:
    from importlib.metadata import entry_points

    kinds, plugins = dict(BUILTIN), {}
    broken: dict[str, list[BrokenPlugin]] = {}
    claims: dict[str, list[Plugin]] = {}
    loaded: dict[str, BlockKind] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        dist = ep.dist.name if ep.dist is not None else "<unknown distribution>"
        plugin = Plugin(dist, f"{ep.name} = {ep.value}")
        try:
            plugin, kind = _load(ep, plugin)
        except _Unusable as exc:
            broken.setdefault(ep.name, []).append(BrokenPlugin(plugin, str(exc)))
            continue
        claims.setdefault(ep.name, []).append(plugin)
        loaded[ep.name] = kind
        plugins[ep.name] = plugin
    for name, claimants in claims.items():
        if name in BUILTIN:
            reason = f"the name {name!r} is a built-in block kind; choose another name"
            broken.setdefault(name, []).extend(BrokenPlugin(p, reason) for p in claimants)
            plugins.pop(name)
        elif len(claimants) > 1:
            others = ", ".join(str(p) for p in claimants)
            reason = f"more than one plugin provides block kind {name!r}: {others}"
            broken.setdefault(name, []).append(BrokenPlugin(claimants[0], reason))
            plugins.pop(name)
        else:
            kinds[name] = _guarded(loaded[name], plugins[name])
    return _Discovered(kinds, plugins, broken)


# A kind's callables that compilation and emission call; a plugin's may fail in any way.
_CALLABLES = ("resolve", "lower", "arguments", "channels", "describe")


def _guarded(kind: BlockKind, plugin: Plugin) -> BlockKind:
    """`kind` with each callable turning a plugin's exception into a SpecError naming the
    plugin (exit 1, no traceback); specc's own SpecErrors pass through."""

    def guard(name: str, function: typing.Callable[..., typing.Any]) -> typing.Any:
        @functools.wraps(function)
        def call(*args: typing.Any, **kwargs: typing.Any) -> typing.Any:
            try:
                return function(*args, **kwargs)
            except SpecError:
                raise
            except Exception as exc:
                message = f"its `{name}` failed: {type(exc).__name__}: {exc}"
                raise SpecError([Diagnostic(message, Location(str(plugin)))]) from None

        return call

    return dataclasses.replace(
        kind, **{name: guard(name, getattr(kind, name)) for name in _CALLABLES}
    )


class _Unusable(Exception):
    """Why a plugin's entry point cannot give a block kind."""


def _load(ep: typing.Any, plugin: Plugin) -> tuple[Plugin, BlockKind]:
    try:
        kind = ep.load()
    except Exception as exc:  # a plugin's import may fail in any way
        raise _Unusable(f"importing it failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(kind, BlockKind):
        raise _Unusable(f"it gives a {type(kind).__name__}, not a specc BlockKind")
    if kind.name != ep.name:
        raise _Unusable(f"the entry point is named {ep.name!r} but the kind {kind.name!r}")
    if not (isinstance(kind.schema, type) and issubclass(kind.schema, StageBase)):
        raise _Unusable("its schema must be a subclass of specc.blocks.base.StageBase")
    literal = _block_literal(kind)
    if literal != (kind.name,):
        found = "no Literal" if literal is None else " | ".join(map(repr, literal))
        raise _Unusable(f"its schema's `block` field must be Literal[{kind.name!r}], found {found}")
    module = sys.modules.get(ep.module)
    file = getattr(module, "__file__", None)
    folder = Path(file).parent / "templates" if file else None
    plugin = Plugin(plugin.distribution, plugin.entry_point, folder)
    for name in (kind.template, *kind.requires):
        if not name or Path(name).name != name or name.startswith("."):
            raise _Unusable(f"template {name!r} must be a plain file name in {folder}")
        if not _template_exists(name, folder):
            where = folder if folder is not None else "(no module folder)"
            raise _Unusable(f"template {name!r} not found in {where} or specc's templates")
    if folder is None or not (folder / kind.template).is_file():
        raise _Unusable(f"its template {kind.template!r} must be in {folder}")
    return plugin, kind


def _block_literal(kind: BlockKind) -> tuple[object, ...] | None:
    field = kind.schema.model_fields.get("block")
    if field is None or typing.get_origin(field.annotation) is not typing.Literal:
        return None
    return typing.get_args(field.annotation)


def _template_exists(name: str, folder: Path | None) -> bool:
    if folder is not None and (folder / name).is_file():
        return True
    return (BUILTIN_TEMPLATES / name).is_file()


def _discovered() -> _Discovered:
    global _state
    if _state is None:
        _state = _discover()
    return _state


class _Kinds(Mapping[str, BlockKind]):
    """Every usable kind by name; the first look-up discovers the plugins."""

    def __getitem__(self, name: str) -> BlockKind:
        return _discovered().kinds[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_discovered().kinds)

    def __len__(self) -> int:
        return len(_discovered().kinds)


KINDS: Mapping[str, BlockKind] = _Kinds()


def get(name: str) -> BlockKind:
    return KINDS[name]


def plugin_of(name: str) -> Plugin | None:
    """The plugin a usable kind comes from; None for a built-in."""
    return _discovered().plugins.get(name)


def broken(name: str) -> list[BrokenPlugin]:
    """Plugins that tried to provide `name` and cannot be used, with why."""
    return _discovered().broken.get(name, [])


def broken_message(name: str) -> str | None:
    """The error for a spec naming kind `name` that only broken plugins provide."""
    problems = broken(name)
    if not problems:
        return None
    lines = [f"{p.plugin}: {p.reason}" for p in problems]
    return f"block kind {name!r} comes from a plugin that cannot be used: " + "; ".join(lines)
