"""The input pipeline of train.yaml: channels decoded as the model takes them, timm's
augmentation keys with timm's meanings, per-channel normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from PIL import Image  # noqa: E402

import specc  # noqa: E402
from specc.diagnostics import UserError  # noqa: E402
from specc.runtime.train.config import load_config  # noqa: E402
from specc.runtime.train.data import ImageFolderSet, transforms  # noqa: E402

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.yaml"


def config(tmp_path, channels: int = 3, *settings: str):
    folder = tmp_path / f"tiny{channels}"
    if not folder.exists():
        specc.write(specc.compile(TINY, overrides=[f"input.channels={channels}"]), folder)
    return load_config(folder / "train.yaml", settings=settings)


def gradient(mode: str = "RGB") -> Image.Image:
    """A 32x32 image whose left/right and top/bottom differ, to see flips."""
    image = Image.new("RGB", (32, 32))
    image.putdata([(4 * x, 4 * y, 128) for y in range(32) for x in range(32)])
    return image.convert(mode)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_images_decode_to_the_models_channels_whatever_the_file_holds(tmp_path, channels):
    for index, mode in enumerate(("L", "RGB", "RGBA")):
        folder = tmp_path / "data" / "a"
        folder.mkdir(parents=True, exist_ok=True)
        gradient(mode).save(folder / f"{index}.png")
    cfg = config(tmp_path, channels, "aa=rand-m9-mstd0.5", "color_jitter=0.4", "reprob=0.5")
    for train in (True, False):
        data = ImageFolderSet(tmp_path / "data", transforms(cfg, train), 32, channels)
        assert {tuple(data[i][0].shape) for i in range(3)} == {(channels, 32, 32)}


def test_other_channel_counts_are_refused_for_image_files(tmp_path):
    (tmp_path / "data" / "a").mkdir(parents=True)
    with pytest.raises(UserError, match="decode to 1 \\(grayscale\\), 3 \\(RGB\\) or 4"):
        ImageFolderSet(tmp_path / "data", None, 32, 2)


def test_flips_follow_hflip_and_vflip(tmp_path):
    fixed = ("scale=[1,1]", "ratio=[1,1]", "aa=null", "crop_pct=1", "mean=[0,0,0]", "std=[1,1,1]")
    image = gradient()
    plain = transforms(config(tmp_path, 3, *fixed, "hflip=0"), True)(image)
    assert torch.allclose(plain, transforms(config(tmp_path, 3, *fixed), False)(image))
    flipped = transforms(config(tmp_path, 3, *fixed, "hflip=1"), True)(image)
    assert torch.equal(flipped, plain.flip(-1))
    upside_down = transforms(config(tmp_path, 3, *fixed, "hflip=0", "vflip=1"), True)(image)
    assert torch.equal(upside_down, plain.flip(-2))


def test_mean_and_std_defaults_per_channel_count(tmp_path):
    assert config(tmp_path, 3).normalisation() == (
        (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    )  # fmt: skip
    assert config(tmp_path, 1).normalisation() == ((0.5,), (0.5,))
    assert config(tmp_path, 1, "mean=[0.1]", "std=[0.2]").normalisation() == ((0.1,), (0.2,))
    white = Image.new("L", (32, 32), 255)
    out = transforms(config(tmp_path, 1, "mean=[0.1]", "std=[0.2]"), False)(white)
    assert torch.allclose(out, torch.full((1, 32, 32), (1 - 0.1) / 0.2))
