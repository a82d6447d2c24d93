"""Fixtures for the deployment tests: a built folder of a network with every block kind."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

EVERY_KIND = Path(__file__).resolve().parents[1] / "data" / "every_kind.yaml"
PADDINGS = ("symmetric", "same")


@pytest.fixture(scope="session", params=PADDINGS)
def every_kind_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A generated folder of tests/data/every_kind.yaml, once per padding mode."""
    arch = specc.compile(EVERY_KIND, overrides=[f"defaults.padding={request.param}"])
    folder = tmp_path_factory.mktemp(f"every_kind_{request.param}")
    specc.write(arch, folder)
    return folder
