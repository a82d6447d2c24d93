"""The block kinds specc knows: the built-ins and the plugins' (`specc.blocks.plugins`).

Adding a built-in kind: a folder `specc/blocks/<name>/` (schema, plan, lower, emit, kind and
its template) and one line in `BUILTIN` (its schema in `specc.blocks.schemas`). Nothing else
in specc switches on block kind names.

A plugin kind's functions are wrapped so that an exception in them becomes a SpecError
naming the plugin (exit 1, no traceback); specc's own SpecErrors pass through.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from specc.blocks.basic.kind import KIND as BASIC
from specc.blocks.bottleneck.kind import KIND as BOTTLENECK
from specc.blocks.conv.kind import KIND as CONV
from specc.blocks.convnext.kind import KIND as CONVNEXT
from specc.blocks.dsconv.kind import KIND as DSCONV
from specc.blocks.fused_mbconv.kind import KIND as FUSED_MBCONV
from specc.blocks.kind import BlockKind
from specc.blocks.mbconv.kind import KIND as MBCONV
from specc.blocks.plugins import Plugin, discovered, plugin_of
from specc.blocks.uib.kind import KIND as UIB
from specc.diagnostics import Diagnostic, Location, SpecError

AnyKind = BlockKind[Any, Any]
BUILTIN: dict[str, AnyKind] = {
    kind.name: kind
    for kind in (CONV, MBCONV, FUSED_MBCONV, DSCONV, BOTTLENECK, BASIC, CONVNEXT, UIB)
}
FOLDER = Path(__file__).parent
PART_TEMPLATES = FOLDER / "templates"  # the parts' classes, shared by every kind


def template_folder(name: str) -> Path:
    """Where kind `name`'s template is: its folder here, or a plugin's `templates/`."""
    plugin = plugin_of(name)
    if plugin is not None and plugin.templates is not None:
        return plugin.templates
    return FOLDER / name


class _Kinds(Mapping[str, AnyKind]):
    """Every usable kind by name; the first look-up discovers the plugins."""

    def _all(self) -> dict[str, AnyKind]:
        found = discovered()
        return {
            **BUILTIN,
            **{name: _guarded(kind, found.plugins[name]) for name, kind in found.kinds.items()},
        }

    def __getitem__(self, name: str) -> AnyKind:
        if name in BUILTIN:
            return BUILTIN[name]
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


KINDS: Mapping[str, AnyKind] = _Kinds()


def _guard(plugin: Plugin, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except SpecError:
            raise
        except Exception as exc:
            message = f"its `{name}` failed: {type(exc).__name__}: {exc}"
            raise SpecError([Diagnostic(message, Location(str(plugin)))]) from None

    return call


@functools.cache
def _guarded(kind: AnyKind, plugin: Plugin) -> AnyKind:
    """`kind` with each function turning a plugin's exception into a SpecError (once per
    kind: the same guarded record on every look-up)."""
    emitter = kind.emitter
    emitter = dataclasses.replace(
        emitter,
        arguments=_guard(plugin, "emitter.arguments", emitter.arguments),
        parts=_guard(plugin, "emitter.parts", emitter.parts),
    )
    return dataclasses.replace(
        kind,
        emitter=emitter,
        plan=_guard(plugin, "plan", kind.plan),
        lower=_guard(plugin, "lower", kind.lower),
        channels=_guard(plugin, "channels", kind.channels),
        describe=_guard(plugin, "describe", kind.describe),
        columns=_guard(plugin, "columns", kind.columns),
    )
