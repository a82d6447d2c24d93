"""The layout of a training data folder (an ImageFolder: train/<class>/<image>, val/...),
checked without torch, so that `specc train` and `specc search` refuse a wrong folder at
once, before importing torch or launching anything."""

from __future__ import annotations

from pathlib import Path

from specc.diagnostics import UserError
from specc.runtime.train.images import IMAGE_SUFFIXES, class_folders, scan

__all__ = ["IMAGE_SUFFIXES", "check_image_folder"]
LAYOUT = "expected train/<class>/<image> and val/<class>/<image>"


def check_image_folder(root: Path) -> list[str]:
    """The class names (sorted), after checking the layout and that there are two or more
    classes; raises UserError with what is wrong."""
    if not root.is_dir():
        raise UserError(f"{root}: no such folder ({LAYOUT})")
    train = root / "train"
    if not train.is_dir():
        raise UserError(f"{root}: no train/ folder ({LAYOUT})")
    classes = class_folders(train)
    if not classes:
        raise UserError(f"{train}: no class folders ({LAYOUT})")
    found = scan(train)  # what cannot be an image (FIFOs, link loops) is skipped, counted
    skipped = f" ({found.skipped_text()} skipped)" if found.skipped else ""
    if not found.samples:
        raise UserError(f"{train}: the class folders hold no images{skipped}")
    if found.empty:
        raise UserError(
            f"{train}: class folders without an image ({', '.join(found.empty)}){skipped}: "
            "a class with no training image can never be learnt",
            hint="add images, or remove the folder and rebuild with --set num_classes=N",
        )
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
    val_classes = class_folders(val)
    if val_classes != classes:
        only_train = sorted(set(classes) - set(val_classes))
        only_val = sorted(set(val_classes) - set(classes))
        raise UserError(
            f"{root}: class folders differ between train/ and val/: "
            f"only in train/: {only_train or 'none'}; only in val/: {only_val or 'none'}"
        )


def count_images(folder: Path) -> int:
    """Image files under `folder` (0 when it does not exist), found as training finds them
    (`specc.runtime.train.images.scan`: no FIFO, link loop or bomb is counted)."""
    if not folder.is_dir():
        return 0
    return len(scan(folder).samples)
