"""Finding and opening the image files of an ImageFolder without trusting what it holds.

torchvision's `ImageFolder` walks with `os.walk(followlinks=True)` and opens every file with
an image suffix: a FIFO named `x.png` blocks the loader for ever, a link to a parent folder
is walked until the path is too long (9 images became 369, labelled by the class folder
the loop ran through), and a decompression bomb allocates gigabytes. Here:

- a class is a folder directly under the root (a link to a folder elsewhere counts);
- inside it, every real folder is walked once: the root and every class folder are marked
  first, so a link back to them (a loop, or another class) is skipped, never relabelled;
- a file counts only if it is a regular file once links are followed (FIFOs, sockets,
  devices, dangling links and link loops are skipped and counted, by reason);
- opening re-checks that the file is regular without blocking, and a decompression bomb
  (more than PIL's `MAX_IMAGE_PIXELS`) is an unreadable image like any other.

Imports no torch.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}


@dataclass
class Scan:
    """An image folder's usable files and what was skipped."""

    classes: list[str]
    samples: list[tuple[str, int]]  # (path, class index)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    empty: list[str] = field(default_factory=list)  # class folders without an image

    def skipped_text(self) -> str:
        """'2 special files, 1 link loop or dangling link' ('' when nothing was skipped)."""
        return ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))


def class_folders(root: Path) -> list[str]:
    """The names of the folders directly under `root` (links to folders count), sorted."""
    names = []
    for entry in os.scandir(root):
        try:
            if entry.is_dir():
                names.append(entry.name)
        except OSError:  # a link loop at the top level: not a class
            continue
    return sorted(names)


def scan(root: Path) -> Scan:
    """The image files under each class folder of `root` (see the module docstring)."""
    classes = class_folders(root)
    seen = {_identity(root)}
    seen |= {_identity(root / name) for name in classes}
    result = Scan(classes, [])
    for index, name in enumerate(classes):
        before = len(result.samples)
        _walk(root / name, index, seen, result)
        if len(result.samples) == before:
            result.empty.append(name)
    return result


def _identity(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


def _walk(folder: Path, label: int, seen: set[tuple[int, int]], result: Scan) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        result.skipped["unreadable folders"] += 1
        return
    for entry in entries:
        try:
            info = os.stat(entry.path)  # follows links: what the entry is in the end
        except OSError:
            if Path(entry.name).suffix.lower() in IMAGE_SUFFIXES or entry.is_symlink():
                result.skipped["dangling links or link loops"] += 1
            continue
        if stat.S_ISDIR(info.st_mode):
            if (info.st_dev, info.st_ino) in seen:
                result.skipped["links to a folder already walked"] += 1
                continue
            seen.add((info.st_dev, info.st_ino))
            _walk(Path(entry.path), label, seen, result)
        elif Path(entry.name).suffix.lower() not in IMAGE_SUFFIXES:
            continue
        elif stat.S_ISREG(info.st_mode):
            result.samples.append((entry.path, label))
        else:
            result.skipped["special files (FIFOs, sockets, devices)"] += 1


def open_image(path: str, mode: str) -> Any:
    """The image at `path` converted to PIL `mode`; OSError for anything that is not a
    regular file (checked without blocking on a FIFO), ValueError for a decompression bomb."""
    from PIL import Image

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path}: not a regular file")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                return Image.open(handle).convert(mode)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise ValueError(f"{path}: {exc}") from None
