"""Depth scaling of the stage table: every stage's repeats under the depth multiplier.

Each entry of `stages:` scales on its own (`round_repeats`), unless it

- sets `scale_depth: false`: its repeats stay as written (EfficientNet-Lite keeps the first
  and last stages when it fixes the stem and head; timm's `fix_first_last`);
- shares a `depth_group` with its neighbours: consecutive entries with the same group are
  one stage of the reference made of several block configurations (MobileNetV3, MixNet,
  FBNet), whose total is scaled and split back as timm's `_scale_stage_depth` does
  (`distribute_repeats`). Each entry stays a specc stage with its own blocks.

A group's members must be consecutive and agree on `scale_depth`; problems are located
diagnostics. Float/exact divergences come back as warnings (see `specc.scaling.arith`).
"""

from __future__ import annotations

from functools import partial

from specc.diagnostics import Diagnostic, SpecError, dotted, warning
from specc.lang.load import LoadedSpec
from specc.scaling.arith import Divergence, Mode, Number, settle, text, watching
from specc.scaling.rounding import distribute_repeats


def depth_groups(loaded: LoadedSpec) -> list[list[int]]:
    """Stage indices grouped for depth scaling: runs of one `depth_group`, else singletons.

    Raises SpecError when a group's stages are not consecutive or disagree on
    `scale_depth`."""
    stages = loaded.spec.stages
    groups: list[list[int]] = []
    closed: dict[tuple[str, str | int], list[int]] = {}
    problems: list[Diagnostic] = []
    for index, stage in enumerate(stages):
        name = stage.depth_group
        key = (type(name).__name__, name) if name is not None else None
        previous = stages[groups[-1][0]].depth_group if groups else None
        if key is not None and previous is not None and key == (type(previous).__name__, previous):
            groups[-1].append(index)
            continue
        if key is not None and key in closed:
            before = closed[key]
            problems.append(
                Diagnostic(
                    f"depth group {name!r} is interrupted: it already has stages "
                    f"{_span(before)}, and a group's stages must be consecutive",
                    loaded.locate("stages", index, "depth_group"),
                    f"stages[{index}].depth_group",
                    "give the stages in between the same group, or this one another name",
                )
            )
        groups.append([index])
        if key is not None:
            closed.setdefault(key, groups[-1])
    for group in groups:
        problems.extend(_disagreements(loaded, group))
    if problems:
        raise SpecError(problems)
    return groups


def _span(indices: list[int]) -> str:
    return str(indices[0]) if len(indices) == 1 else f"{indices[0]}-{indices[-1]}"


def _disagreements(loaded: LoadedSpec, group: list[int]) -> list[Diagnostic]:
    stages = loaded.spec.stages
    first = stages[group[0]].scale_depth
    return [
        Diagnostic(
            f"scale_depth is {str(stages[i].scale_depth).lower()} here but "
            f"{str(first).lower()} on stage {group[0]} of the same depth group "
            f"{stages[i].depth_group!r}; a group scales as one",
            loaded.locate("stages", i, "scale_depth"),
            f"stages[{i}].scale_depth",
        )
        for i in group[1:]
        if stages[i].scale_depth != first
    ]


def stage_repeats(loaded: LoadedSpec, depth: Number) -> tuple[list[int], list[Diagnostic]]:
    """The resolved repeats of every stage, in order, and the float/exact warnings."""
    spec = loaded.spec
    rules = spec.scaling
    repeats: list[int] = []
    warnings: list[Diagnostic] = []
    for group in depth_groups(loaded):
        counts = [spec.stages[i].repeats for i in group]
        multiplier = depth if spec.stages[group[0]].scale_depth else 1
        what = f"repeats {'+'.join(map(str, counts))} x depth {text(multiplier)}"
        with watching() as found:
            split = partial(_split, counts, multiplier, rules.repeats)
            shares = settle(split, rules.arithmetic, "repeats", what)
        repeats.extend(shares)
        warnings.extend(divergence_warnings(found, loaded, "stages", group[0]))
    return repeats, warnings


def _split(counts: list[int], multiplier: Number, rule: str, arithmetic: Mode) -> tuple[int, ...]:
    return tuple(distribute_repeats(counts, multiplier, rule, arithmetic))


def divergence_warnings(
    found: list[Divergence], loaded: LoadedSpec, *path: str | int
) -> list[Diagnostic]:
    """Warnings for the divergences found while resolving the spec value at `path`."""
    return [
        warning(
            f"{d.what} gives {_result(d.float_result)} in float arithmetic but "
            f"{_result(d.exact_result)} exactly: the float product landed beside a rounding "
            "boundary",
            loaded.locate(*path, d.field),
            dotted((*path, d.field)),
            "float is what TF, timm and torchvision compute; "
            "`scaling.arithmetic: decimal` takes the numbers as written",
        )
        for d in found
    ]


def _result(value: object) -> str:
    return "+".join(map(str, value)) if isinstance(value, tuple) else str(value)
