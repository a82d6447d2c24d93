"""The width rule of one build: cap, scale by the width multiplier, round by the spec.

The stem, every stage's stated `channels` and a `scaled` head go through `Widths`: capped
at `max_channels` first (Ultralytics: make_divisible(min(c, max_channels) x width); a
preset's own cap wins over `scaling.channels.max_channels`), then `round_channels` under
the spec's arithmetic. Divergences between float and exact rounding are collected as
located warnings, naming the spec field whose number was scaled.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from specc.diagnostics import Diagnostic
from specc.lang.load import LoadedSpec
from specc.scaling.arith import Factor, Number, settle, text, watching
from specc.scaling.depth import divergence_warnings
from specc.scaling.rounding import round_channels
from specc.scaling.selector import Selector


class Widths:
    """Output widths of the stem, the stages and the head, for one selector."""

    def __init__(self, loaded: LoadedSpec, selector: Selector, width: Factor) -> None:
        self.loaded = loaded
        self.width = width
        self.cap = channel_cap(loaded, selector)
        self.warnings: list[Diagnostic] = []

    def round(self, base: Number) -> int:
        """round_channels(base x width) by `scaling.channels`, under the spec's arithmetic."""
        rules = self.loaded.spec.scaling
        ch = rules.channels
        return settle(
            lambda m: round_channels(base, self.width, ch.divisor, ch.round_limit, ch.min, m),
            rules.arithmetic,
            "channels",
            f"channels {text(base)} x width {text(self.width)}",
        )

    def capped(self, channels: int) -> int:
        return channels if self.cap is None else min(channels, self.cap)

    def stem(self) -> int:
        spec = self.loaded.spec
        if spec.scaling.stem == "fixed":
            return spec.stem.channels
        return self._watched(lambda: self.round(self.capped(spec.stem.channels)), "stem")

    def stem_deep(self) -> list[int]:
        """A deep stem's inner widths, scaled as the stem is."""
        spec = self.loaded.spec
        if spec.scaling.stem == "fixed":
            return list(spec.stem.deep)
        return [self._watched(partial(self._scaled, c), "stem") for c in spec.stem.deep]

    def _scaled(self, channels: int) -> int:
        return self.round(self.capped(channels))

    def stage(self, index: int, rule: Callable[[Any, Callable[[Number], int]], int]) -> int:
        """A stage's output width by its block kind's `rule` (`BlockKind.channels`: a
        bottleneck rounds its inner width), given the stage and this width rule."""
        stage = self.loaded.spec.stages[index]
        if self.cap is not None and stage.channels > self.cap:
            stage = stage.model_copy(update={"channels": self.cap})
        return self._watched(lambda: rule(stage, self.round), "stages", index)

    def head(self, last: int) -> int:
        """The head conv's width by `scaling.head`, from the last stage's width `last`."""
        spec = self.loaded.spec
        assert spec.head is not None
        base, rule = spec.head.channels, spec.scaling.head
        if rule.rule == "fixed":
            return base
        if rule.rule == "multiple_of_last":
            return rule.factor * last
        result = self._watched(lambda: self.round(self.capped(base)), "head")
        return max(result, base) if rule.at_least_base else result

    def _watched(self, compute: Callable[[], int], *path: str | int) -> int:
        with watching() as found:
            result = compute()
        self.warnings += divergence_warnings(found, self.loaded, *path)
        return result


def channel_cap(loaded: LoadedSpec, selector: Selector) -> int | None:
    """The preset's `max_channels`, else `scaling.channels.max_channels` (None: no cap)."""
    spec = loaded.spec
    if selector.preset is not None:
        preset = spec.presets[selector.preset]
        if preset.max_channels is not None:
            return preset.max_channels
    return spec.scaling.channels.max_channels
