"""Acceptance: a user's own small real dataset. scikit-learn's bundled digits (8x8
grayscale, 10 classes) written as PNGs into an ImageFolder, trained on the CPU at 32 px
with the recipe in tests/data/digits.yaml (no flips, mild crops: what digits need).
Wall times go to benchmarks/digits_scaling.py, not here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("sklearn")

from click.testing import CliRunner  # noqa: E402

import specc  # noqa: E402
from specc.cli import main  # noqa: E402

DIGITS = Path(__file__).resolve().parents[1] / "data" / "digits.yaml"


def write_digits(root: Path) -> Path:
    """Every fifth image to val/, the rest to train/, as <split>/<digit>/<index>.png."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for index, (pixels, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = root / ("val" if index % 5 == 0 else "train") / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray((pixels * 255 / 16).astype(np.uint8), "L")
        image.save(folder / f"{index}.png")
    return root


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return write_digits(tmp_path_factory.mktemp("digits"))


@pytest.mark.parametrize("channels", [1, 3], ids=["grayscale", "rgb"])
def test_a_small_network_learns_the_digits(tmp_path, digits, channels):
    folder = tmp_path / "digits"
    specc.write(specc.compile(DIGITS, overrides=[f"input.channels={channels}"]), folder)
    out = tmp_path / "run"
    torch.set_num_threads(1)
    result = CliRunner().invoke(
        main, ["train", str(folder / "train.yaml"), "--data", str(digits), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "1437 training images, 10 classes, 360 for validation" in result.output
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 5
    assert rows[-1]["eval_top1"] >= 0.85
