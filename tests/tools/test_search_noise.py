"""A search says when its scores cannot rank the candidates (issue 22): near chance, or
leaders closer than the validation set's sampling noise; not when the ranking is clear."""

from __future__ import annotations

import dataclasses

from specc.tools.search.candidates import Result
from specc.tools.search.noise import ranking_warnings


def rows(*scores: float) -> list[Result]:
    base = Result(1.0, 1.0, 1.0, 1.0, 32, 1000, 10_000, 1.0)
    return [dataclasses.replace(base, status="ok", metric=score) for score in scores]


def test_scores_near_chance_cannot_rank():
    (warning,) = ranking_warnings(rows(0.11, 0.10, 0.09), num_classes=10, val_images=360)
    assert "near chance (0.100 for 10 classes)" in warning and "--epochs" in warning


def test_leaders_within_the_sampling_noise_cannot_rank():
    (warning,) = ranking_warnings(rows(0.93, 0.92, 0.80), num_classes=10, val_images=360)
    assert "standard error of a top-1 on 360 validation images (0.013)" in warning


def test_a_clear_ranking_is_left_alone():
    assert ranking_warnings(rows(0.97, 0.90), num_classes=10, val_images=360) == []
    assert ranking_warnings(rows(0.5), num_classes=10, val_images=360) == []
