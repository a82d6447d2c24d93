"""The layout of a training data folder (an ImageFolder: train/<class>/<image>, val/...),
checked without torch, so that `specc train` and `specc search` refuse a wrong folder at
once, before importing torch or launching anything."""

from __future__ import annotations

from pathlib import Path

from specc.diagnostics import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}
LAYOUT = "expected train/<class>/<image> and val/<class>/<image>"


def check_image_folder(root: Path) -> list[str]:
    """The class names (sorted), after checking the layout and that there are two or more
    classes; raises UserError with what is wrong."""
    if not root.is_dir():
        raise UserError(f"{root}: no such folder ({LAYOUT})")
    train = root / "train"
    if not train.is_dir():
        raise UserError(f"{root}: no train/ folder ({LAYOUT})")
    classes = _classes(train)
    if not classes:
        raise UserError(f"{train}: no class folders ({LAYOUT})")
    if not any(_has_images(train / name) for name in classes):
        raise UserError(f"{train}: the class folders hold no images")
    if len(classes) < 2:
        raise UserError(
            f"{train}: one class folder ({classes[0]}): a classifier needs two or more "
            "classes, one folder of images per class"
        )
    _check_val(root, classes)
    return classes


def _check_val(root: Path, classes: list[str]) -> None:
    val = root / "val"
    if not val.is_dir():
        return
    val_classes = _classes(val)
    if val_classes != classes:
        only_train = sorted(set(classes) - set(val_classes))
        only_val = sorted(set(val_classes) - set(classes))
        raise UserError(
            f"{root}: class folders differ between train/ and val/: "
            f"only in train/: {only_train or 'none'}; only in val/: {only_val or 'none'}"
        )


def _classes(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def _has_images(folder: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.rglob("*"))
