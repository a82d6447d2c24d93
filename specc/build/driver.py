"""The compiler driver: spec + selector -> validated, analysed Architecture.

    resolve (scaling rules) -> lower (IR graph) -> validate -> analyse -> size guard

Problems from every step come back as `SpecError`s whose diagnostics point into the
spec file: graph problems are mapped to the stage (or stem/head) that produced them.
"""

from __future__ import annotations

import math

from specc.build.architecture import Architecture, PresetSummary
from specc.build.lower import lower
from specc.build.resolve import Limits, resolve, too_large
from specc.diagnostics import Diagnostic, Location, SpecError
from specc.ir.graph import Scope
from specc.lang.load import LoadedSpec
from specc.passes.analyse import analyse
from specc.passes.validate import validate
from specc.scaling.selector import Selector


def compile_spec(
    loaded: LoadedSpec,
    selector: Selector | None = None,
    *,
    allow_large: bool = False,
    nearest_preset: bool = True,
) -> Architecture:
    """Build the Architecture of `loaded` under `selector` (phi = 0 when None)."""
    selector = selector or Selector()
    limits = None if allow_large else Limits()
    resolved = resolve(loaded, selector, limits)
    graph = lower(resolved)
    problems = validate(graph)
    if problems:
        raise SpecError(
            [
                Diagnostic(
                    f"{problem.node}: {problem.message}",
                    _locate(loaded, graph.nodes[problem.node].get("scope")),
                    selector.describe(),
                )
                for problem in problems
            ]
        )
    analysis = analyse(graph)
    if limits is not None:
        over = []
        if analysis.total.params > limits.max_params:
            over.append(f"{analysis.total.params:,} parameters (limit {limits.max_params:,})")
        if analysis.total.macs > limits.max_macs:
            over.append(f"{analysis.total.macs:,} MACs (limit {limits.max_macs:,})")
        if over:
            raise too_large(loaded, selector, over)
    # The spec's warnings, then scaling's (float/exact divergences, scaling.arithmetic).
    warnings = [*loaded.warnings, *resolved.warnings]
    arch = Architecture(resolved, graph, analysis, warnings=warnings)
    arch.warnings += _resolution_warnings(loaded, arch)
    if nearest_preset and not selector.is_preset:
        arch.nearest_preset = _nearest_preset(loaded, arch)
    return arch


def _resolution_warnings(loaded: LoadedSpec, arch: Architecture) -> list[Diagnostic]:
    """Silent changes of the input's size: a stated resolution that is not on the rounding
    grid, and strides that bring the maps to 1x1 before the last stage."""
    spec, r = loaded.spec, arch.resolved
    found = []
    multiple = spec.scaling.resolution.multiple
    if spec.input.resolution % multiple:
        found.append(Diagnostic(
            f"{spec.input.resolution} is not a multiple of {multiple} "
            f"(scaling.resolution.multiple): built at {r.resolution} ({r.selector.describe()})",
            loaded.locate("input", "resolution"), "input.resolution", severity="warning",
        ))  # fmt: skip
    for stage in r.stages[:-1]:
        if arch.shape_of(stage.blocks[-1].name)[1:] == (1, 1):
            found.append(Diagnostic(
                f"the network is 1x1 after stage {stage.index} at {r.resolution} px: the "
                f"later stages see one pixel (a larger input.resolution, or fewer strides, "
                "keeps them spatial)",
                loaded.locate("stages", stage.index + 1), f"stages[{stage.index + 1}]",
                severity="warning",
            ))  # fmt: skip
            break
    return found


def _locate(loaded: LoadedSpec, scope: Scope | None) -> Location:
    if scope is None:
        return Location(loaded.file)
    if scope.stage is not None:
        return loaded.locate("stages", scope.stage)
    if scope.part in ("stem", "head", "classifier"):
        return loaded.locate(scope.part)
    return Location(loaded.file)


def _nearest_preset(loaded: LoadedSpec, arch: Architecture) -> PresetSummary | None:
    """The preset closest in (depth, width, resolution), by distance of log multipliers."""
    presets = loaded.spec.presets
    if not presets:
        return None
    mult = arch.resolved.multipliers
    base = loaded.spec.input.resolution

    def distance(name: str) -> float:
        p = presets[name]
        pairs = (
            (mult.depth, p.depth),
            (mult.width, p.width),
            (mult.resolution, p.resolution / base),
        )
        return sum(math.log(a / b) ** 2 for a, b in pairs)

    name = min(sorted(presets), key=distance)
    other = compile_spec(loaded, Selector(preset=name), allow_large=True, nearest_preset=False)
    preset = presets[name]
    return PresetSummary(
        name, preset.depth, preset.width, preset.resolution, other.params, other.macs
    )
