"""Tensor data sets in one .npz file: read them and check them as strictly as image folders.

An npz holds `x_train`, `y_train` and a validation split, `x_val`, `y_val` (or Keras'
`x_test`, `y_test`). Images are N×C×H×W or N×H×W (one channel), uint8 (0–255) or float
(used as they are, then normalised by train.yaml's `mean` and `std`), any channel count;
labels are one integer per image, 0 ≤ label < the model's classes.

Every problem is a `UserError` naming the file and the array: a file that is not an npz
(zip) file, an array that holds pickled Python objects (never loaded: `allow_pickle=False`),
a missing array or its missing labels, a wrong shape or dtype, an empty split, images and
labels of different lengths, a label out of range, splits with different channel counts.

numpy only: the search and study check the data with it before anything launches.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specc.diagnostics import UserError

# validation split names, in order of preference
VALIDATION = (("x_val", "y_val"), ("x_test", "y_test"))
LAYOUT = "expected x_train, y_train and x_val, y_val (or x_test, y_test)"


def is_npz(data: str | Path) -> bool:
    """Whether a --data value names an npz file (by its suffix)."""
    return str(data).lower().endswith(".npz")


@dataclass(frozen=True)
class Split:
    images: Any  # numpy array N×C×H×W, uint8 or floating
    labels: Any  # numpy int64 array of N
    names: tuple[str, str]  # the arrays' names in the file

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])


@dataclass(frozen=True)
class ArrayData:
    path: Path
    train: Split
    val: Split | None

    @property
    def channels(self) -> int:
        return self.train.channels

    @property
    def classes(self) -> int:
        """1 + the largest label of any split."""
        top = int(self.train.labels.max())
        if self.val is not None:
            top = max(top, int(self.val.labels.max()))
        return top + 1


def read_npz(
    path: Path,
    *,
    num_classes: int | None = None,
    channels: int | None = None,
    need_val: bool = False,
) -> ArrayData:
    """Read and check `path`; `num_classes` bounds the labels and `channels` must be the
    images' channel count when given; `need_val`: a validation split is required (a search
    and a study rank by it). Raises UserError naming the file and the array."""
    import numpy as np

    def fail(problem: str, hint: str | None = None) -> UserError:
        return UserError(f"{path}: {problem}", hint=hint)

    if not path.is_file():
        raise fail("no such file" if not path.exists() else "not a file")
    if not zipfile.is_zipfile(path):
        raise fail("not an npz (zip) file: write it with numpy.savez or numpy.savez_compressed")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise fail(f"cannot read it as an npz file ({exc})") from None
    with archive:
        names = set(archive.files)

        def array(name: str) -> Any:
            try:
                return archive[name]
            except ValueError as exc:
                if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                    raise fail(
                        f"{name} holds Python objects (a pickled object array), which specc "
                        "never loads: save numeric arrays (uint8 or float images, integer "
                        "labels)"
                    ) from None
                raise fail(f"{name}: cannot read it ({exc})") from None
            except (OSError, zipfile.BadZipFile, EOFError) as exc:
                raise fail(f"{name}: cannot read it ({exc})") from None

        def split(x: str, y: str) -> Split:
            if y not in names:
                found = ", ".join(sorted(names)) or "none"
                raise fail(f"{x} has no labels: no array {y} (arrays found: {found})", LAYOUT)
            images = _images(array(x), x, fail)
            labels = _labels(array(y), y, len(images), x, num_classes, fail)
            return Split(images, labels, (x, y))

        if "x_train" not in names:
            found = ", ".join(sorted(names)) or "none"
            raise fail(f"no array x_train (arrays found: {found})", LAYOUT)
        train = split("x_train", "y_train")
        val = None
        for x, y in VALIDATION:
            if x in names:
                val = split(x, y)
                break
            if y in names:
                raise fail(f"{y} has no images: no array {x}", LAYOUT)
        if val is None and need_val:
            raise fail("no validation split to rank by: no x_val/y_val (or x_test/y_test)",
                       LAYOUT)  # fmt: skip
    if val is not None and val.channels != train.channels:
        raise fail(
            f"{val.names[0]} has {val.channels} channels but x_train has {train.channels}: "
            "both splits need the same channels"
        )
    if channels is not None and train.channels != channels:
        raise fail(
            f"x_train has {train.channels} channels but the model takes {channels}",
            f"rebuild with --set input.channels={train.channels}",
        )
    return ArrayData(path, train, val)


def _images(x: Any, name: str, fail: Any) -> Any:
    import numpy as np

    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim != 4:
        raise fail(f"{name} has shape {x.shape}: expected N×C×H×W or N×H×W images")
    if x.shape[0] == 0:
        raise fail(f"{name} is empty: the split needs at least one image")
    if 0 in x.shape[1:]:
        raise fail(f"{name} has shape {x.shape}: an image needs channels, height and width")
    if x.shape[-1] <= 4 < x.shape[1]:  # an image 4 pixels wide is channels, not width
        raise fail(
            f"{name} has shape {x.shape}, which looks channels-last (N×H×W×C)",
            "transpose it to N×C×H×W: numpy.transpose(x, (0, 3, 1, 2))",
        )
    if x.dtype == np.uint8:
        return x
    if not np.issubdtype(x.dtype, np.floating):
        raise fail(f"{name} is {x.dtype}: images must be uint8 (0-255) or float")
    if not np.isfinite(x).all():
        index = int(np.argwhere(~np.isfinite(x))[0][0])
        raise fail(f"{name}[{index}] holds NaN or infinite values")
    return x


def _labels(y: Any, name: str, count: int, images: str, num_classes: int | None, fail: Any) -> Any:
    import numpy as np

    if y.ndim != 1:
        raise fail(f"{name} has shape {y.shape}: expected one label per image (a 1-D array)")
    if not np.issubdtype(y.dtype, np.integer):
        raise fail(f"{name} is {y.dtype}: labels must be integers (class indices)")
    if len(y) != count:
        raise fail(f"{images} holds {count} images but {name} holds {len(y)} labels")
    labels = y.astype(np.int64)
    low = int(labels.min())
    if low < 0:
        raise fail(f"{name}[{int(np.argmin(labels))}] is {low}: labels must be 0 or more")
    if num_classes is not None:
        high = int(labels.max())
        if high >= num_classes:
            raise fail(
                f"{name}[{int(np.argmax(labels))}] is {high}: labels must be below the "
                f"model's {num_classes} classes",
                f"rebuild with --set num_classes={high + 1}",
            )
    return labels
