"""A checkpoint written before a newer specc added a recipe key resumes when the key is at
its default (issue 22's journey: an upgrade in the middle of a run refused the resume)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from specc.runtime.train.checkpoint import _only_new_defaults


def identity(**recipe: object) -> dict[str, str]:
    return {"recipe": json.dumps(recipe, sort_keys=True)}


def test_a_key_the_checkpoint_lacks_at_its_default_is_the_same_recipe():
    old, new = identity(hflip=0.0), identity(hflip=0.0, grad_checkpointing=False)
    assert _only_new_defaults(old, new)


def test_a_new_key_off_its_default_or_a_changed_key_is_not():
    assert not _only_new_defaults(identity(hflip=0.0), identity(hflip=0.0, grad_checkpointing=True))
    assert not _only_new_defaults(identity(hflip=0.0), identity(hflip=0.5))
    assert not _only_new_defaults(identity(hflip=0.0), identity(hflip=0.0, no_such_key=1))
