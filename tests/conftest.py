"""Shared fixtures. `pytest --update-golden` rewrites the golden generated/ folders."""

from __future__ import annotations

from pathlib import Path

import pytest

try:
    from hypothesis import settings
except ImportError:  # the property tests skip themselves; the rest need no hypothesis
    settings = None

if settings is not None:
    # Property tests (tests/test_property.py). `ci`, the default, is derandomised: the same
    # examples on every run and machine, so a submission never passes or fails by the luck
    # of the draw (hypothesis derives them from each test's source). The random campaigns
    # are opt-in: `--hypothesis-profile random` (ci's count, fresh draws each run) and
    # `--hypothesis-profile long` (10x, fresh draws); a failure they find prints the
    # example's blob to reproduce it (`@reproduce_failure`), and belongs in an @example.
    common = {"deadline": None, "print_blob": True}
    settings.register_profile("ci", max_examples=10, derandomize=True, **common)
    settings.register_profile("random", max_examples=10, **common)
    settings.register_profile("long", max_examples=100, **common)
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
B0 = ROOT / "specs" / "b0.yaml"


# The slow modules, by kind (each also marked `slow`): `python -m pytest -m "not slow"` is
# the quick development subset; CI runs everything. Measured with --durations on 2 cores.
SLOW_MODULES = {
    "tests/test_property.py": "property",  # hypothesis: compile, run and export random specs
    "tests/blocks/test_zoo.py": "zoo",  # torchvision's and timm's models beside ours
    "tests/runtime/test_digits.py": "training",  # trains to an accuracy
    "tests/runtime/test_trainer.py": "training",
    "tests/runtime/test_train_run.py": "training",
    "tests/runtime/test_checkpoint_loading.py": "training",
    "tests/scaling/test_search_train.py": "training",
    "tests/scaling/test_search_ray.py": "training",
    "tests/runtime/test_module.py": "slow",  # every preset up to L2 built and run (l2: 199 s)
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
        kind = SLOW_MODULES.get(module)
        if kind is not None:
            item.add_marker(getattr(pytest.mark, kind))
            item.add_marker(pytest.mark.slow)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden generated/ folders from the compiler instead of comparing",
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def b0():
    import specc

    return specc.load(B0)


@pytest.fixture
def b0_text() -> str:
    return B0.read_text()


@pytest.fixture
def write_spec(tmp_path: Path, b0_text: str):
    """Write a variant of specs/b0.yaml (text replacements applied) and return its path."""

    def write(
        *replacements: tuple[str, str], name: str = "spec.yaml", text: str | None = None
    ) -> Path:
        content = b0_text if text is None else text
        for old, new in replacements:
            assert old in content, f"{old!r} not in the spec"
            content = content.replace(old, new, 1)
        path = tmp_path / name
        path.write_text(content)
        return path

    return write
