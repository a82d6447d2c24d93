"""Fixtures for the search tests: scikit-learn's digits as an ImageFolder, and its spec."""

from __future__ import annotations

from pathlib import Path

import pytest

DIGITS_SPEC = Path(__file__).resolve().parents[1] / "data" / "digits_search.yaml"


def write_digits(root: Path, size: int = 32) -> Path:
    """load_digits (1,797 8x8 images, 10 classes) as RGB PNGs upscaled to `size`:
    root/train/<digit>/ and root/val/<digit>/ (every fifth image of each class)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    counts: dict[int, int] = {}
    for pixels, label in zip(digits.images, digits.target, strict=True):
        index = counts[label] = counts.get(label, 0) + 1
        split = "val" if index % 5 == 0 else "train"
        folder = root / split / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        gray = Image.fromarray((pixels * (255 / 16)).astype("uint8"), mode="L")
        gray.resize((size, size), Image.Resampling.BILINEAR).convert("RGB").save(
            folder / f"{index:04d}.png"
        )
    return root


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sklearn", reason="the digits data set comes with scikit-learn")
    return write_digits(tmp_path_factory.mktemp("digits"))
