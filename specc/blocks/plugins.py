"""Block kinds from other packages: entry points of the group `specc.blocks`.

Each entry point's name is a kind's name and its object a `specc.blocks.kind.BlockKind`
(contract v2); the kind's template lives in a `templates/` folder next to the module the
entry point names (see README, "Your own block kinds").

Discovery is lazy and happens once per process, on the first look-up (loading a spec
builds the stage union from `stage_schemas()`). A plugin that cannot be used (import error,
not a `BlockKind`, written against contract v1, a name taken by a built-in or another
plugin, a schema whose `block` literal is not its name, a missing template) is left out and
recorded in `broken()`: specs that name its kind get an error naming the plugin; other
specs never notice it. This module loads no block behaviour of specc's own.
"""

from __future__ import annotations

import sys
import typing
from dataclasses import dataclass
from pathlib import Path

from specc.blocks.kind import BlockKind, StageBase
from specc.blocks.schemas import BUILTIN_SCHEMAS

GROUP = "specc.blocks"
V1_HINT = (
    "it is written against specc's plugin contract v1 (specc.blocks.base: `resolve` to a "
    "dict, `arguments(block, nodes, ctx)`, `requires`); this specc takes contract v2 "
    "(specc.blocks.kind.BlockKind: `plan` to a typed plan, `lower(builder, plan, x, ctx)`, "
    "an `emitter` with `arguments(plan, ctx)` and `parts`): see README, 'Your own block "
    "kinds', and tests/plugins/ghostnet for a ported kind"
)

# Modules (or names in them) that v1 plugins imported and v2 moved or removed.
V1_MODULES = frozenset(
    {
        "specc.blocks.base", "specc.blocks.parts", "specc.blocks.residual", "specc.blocks.conv",
        "specc.blocks.mbconv", "specc.blocks.registry", "specc.ir.ops", "specc.spec",
    }
)  # fmt: skip


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
class Discovered:
    kinds: dict[str, BlockKind[typing.Any, typing.Any]]
    plugins: dict[str, Plugin]
    broken: dict[str, list[BrokenPlugin]]


_state: Discovered | None = None


def discovered() -> Discovered:
    """The usable plugin kinds (not the built-ins), found once per process."""
    global _state
    if _state is None:
        _state = _discover()
    return _state


def _discover() -> Discovered:
    from importlib.metadata import entry_points

    broken: dict[str, list[BrokenPlugin]] = {}
    claims: dict[str, list[Plugin]] = {}
    loaded: dict[str, BlockKind[typing.Any, typing.Any]] = {}
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
    kinds, plugins = {}, {}
    for name, claimants in claims.items():
        if name in BUILTIN_SCHEMAS:
            reason = f"the name {name!r} is a built-in block kind; choose another name"
            broken.setdefault(name, []).extend(BrokenPlugin(p, reason) for p in claimants)
        elif len(claimants) > 1:
            others = ", ".join(str(p) for p in claimants)
            reason = f"more than one plugin provides block kind {name!r}: {others}"
            broken.setdefault(name, []).append(BrokenPlugin(claimants[0], reason))
        else:
            kinds[name], plugins[name] = loaded[name], claimants[0]
    return Discovered(kinds, plugins, broken)


class _Unusable(Exception):
    """Why a plugin's entry point cannot give a block kind."""


def _load(ep: typing.Any, plugin: Plugin) -> tuple[Plugin, BlockKind[typing.Any, typing.Any]]:
    try:
        kind = ep.load()
    except ImportError as exc:
        if exc.name in V1_MODULES or (exc.name or "").startswith("specc.spec"):
            raise _Unusable(f"importing it failed ({exc}): {V1_HINT}") from None
        raise _Unusable(f"importing it failed: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # a plugin's import may fail in any way
        raise _Unusable(f"importing it failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(kind, BlockKind):
        if all(hasattr(kind, name) for name in ("resolve", "arguments", "requires")):
            raise _Unusable(V1_HINT)
        raise _Unusable(f"it gives a {type(kind).__name__}, not a specc BlockKind")
    if kind.name != ep.name:
        raise _Unusable(f"the entry point is named {ep.name!r} but the kind {kind.name!r}")
    if not (isinstance(kind.schema, type) and issubclass(kind.schema, StageBase)):
        raise _Unusable("its schema must be a subclass of specc.blocks.kind.StageBase")
    literal = _block_literal(kind)
    if literal != (kind.name,):
        found = "no Literal" if literal is None else " | ".join(map(repr, literal))
        raise _Unusable(f"its schema's `block` field must be Literal[{kind.name!r}], found {found}")
    redefined = _redefined_common_fields(kind.schema)
    if redefined:
        raise _Unusable(
            f"its schema redefines {', '.join(f'`{n}`' for n in redefined)}: every stage has "
            "these fields (specc.blocks.kind.StageBase) and specc reads them itself; keep "
            "their types and give the kind's own field another name"
        )
    module = sys.modules.get(ep.module)
    file = getattr(module, "__file__", None)
    folder = Path(file).parent / "templates" if file else None
    template = kind.emitter.template
    if not template or Path(template).name != template or template.startswith("."):
        raise _Unusable(f"template {template!r} must be a plain file name in {folder}")
    if folder is None or not (folder / template).is_file():
        raise _Unusable(f"its template {template!r} must be in {folder}")
    return Plugin(plugin.distribution, plugin.entry_point, folder), kind


def _redefined_common_fields(schema: type[StageBase]) -> list[str]:
    """The fields of `StageBase` (read by specc for every stage: kernel, stride, channels,
    repeats, ...) that a plugin's schema gives another type. Narrowing `kernel` to one size
    (an int, as the built-in kinds without mixed kernels do) is allowed."""
    redefined = []
    for name, base in StageBase.model_fields.items():
        field = schema.model_fields.get(name)
        if name == "block" or field is None:
            continue
        same = (field.annotation, field.metadata) == (base.annotation, base.metadata)
        one_kernel = name == "kernel" and field.annotation is int
        if not (same or one_kernel):
            redefined.append(name)
    return redefined


def _block_literal(kind: BlockKind[typing.Any, typing.Any]) -> tuple[object, ...] | None:
    field = kind.schema.model_fields.get("block")
    if field is None or typing.get_origin(field.annotation) is not typing.Literal:
        return None
    return typing.get_args(field.annotation)


def stage_schemas() -> dict[str, type[StageBase]]:
    """Every usable kind's stage schema by name: the built-ins, then the plugins'."""
    plugins = {name: kind.schema for name, kind in discovered().kinds.items()}
    return {**BUILTIN_SCHEMAS, **plugins}


def plugin_of(name: str) -> Plugin | None:
    """The plugin a usable kind comes from; None for a built-in."""
    return discovered().plugins.get(name)


def broken(name: str) -> list[BrokenPlugin]:
    """Plugins that tried to provide `name` and cannot be used, with why."""
    return discovered().broken.get(name, [])


def broken_message(name: str) -> str | None:
    """The error for a spec naming kind `name` that only broken plugins provide."""
    problems = broken(name)
    if not problems:
        return None
    lines = [f"{p.plugin}: {p.reason}" for p in problems]
    return f"block kind {name!r} comes from a plugin that cannot be used: " + "; ".join(lines)
