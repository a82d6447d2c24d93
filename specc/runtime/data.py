"""Training data: ImageFolder trees (train/ and val/), a synthetic set, and the sampler.

Checks what users get wrong before any worker starts: a missing or empty folder, class
folders that differ between train/ and val/. An image that cannot be decoded does not end
a run: it comes back with label -1, the loop drops it and counts it.

The sampler shuffles with (seed, epoch), shards across ranks and can start mid-epoch, so
a resumed run sees exactly the batches the interrupted one would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}


class DataError(Exception):
    """A problem with the data a user pointed the trainer at."""


def check_image_folder(root: Path) -> list[str]:
    """The class names, after checking the layout; raises DataError with what is wrong."""
    layout = "expected train/<class>/<image> and val/<class>/<image>"
    if not root.is_dir():
        raise DataError(f"{root}: no such folder ({layout})")
    train = root / "train"
    if not train.is_dir():
        raise DataError(f"{root}: no train/ folder ({layout})")
    classes = _classes(train)
    if not classes:
        raise DataError(f"{train}: no class folders ({layout})")
    if not any(_images(train / name) for name in classes):
        raise DataError(f"{train}: the class folders hold no images")
    val = root / "val"
    if val.is_dir():
        val_classes = _classes(val)
        if val_classes != classes:
            only_train = sorted(set(classes) - set(val_classes))
            only_val = sorted(set(val_classes) - set(classes))
            raise DataError(
                f"{root}: class folders differ between train/ and val/: "
                f"only in train/: {only_train or 'none'}; only in val/: {only_val or 'none'}"
            )
    return classes


def _classes(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def _images(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]


def transforms(img_size: int, train: bool, aa: str | None, crop_pct: float) -> Any:
    from torchvision import transforms as T

    bicubic = T.InterpolationMode.BICUBIC
    if train:
        steps: list[Any] = [
            T.RandomResizedCrop(img_size, interpolation=bicubic),
            T.RandomHorizontalFlip(),
        ]
        if aa is not None:
            steps.append(T.AutoAugment(T.AutoAugmentPolicy(aa)))
    else:
        steps = [T.Resize(int(img_size / crop_pct), interpolation=bicubic), T.CenterCrop(img_size)]
    return T.Compose([*steps, T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


class ImageFolderSet(Dataset[tuple[torch.Tensor, int]]):
    """torchvision's ImageFolder, except that an undecodable image yields label -1."""

    def __init__(self, root: Path, transform: Any, img_size: int, in_chans: int = 3) -> None:
        from torchvision.datasets import ImageFolder

        self.folder = ImageFolder(str(root), transform=transform)
        self.blank = torch.zeros(in_chans, img_size, img_size)

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        try:
            image, label = self.folder[index]
        except (OSError, ValueError, SyntaxError):  # PIL's ways of saying "not an image"
            return self.blank, -1
        return image, label


class SyntheticSet(Dataset[tuple[torch.Tensor, int]]):
    """Random images, the same for an index on every call and every rank (for smoke and
    throughput runs); drawn from their own generator, so they use no global randomness."""

    def __init__(self, size: int, img_size: int, num_classes: int, in_chans: int = 3) -> None:
        self.size, self.shape, self.num_classes = size, (in_chans, img_size, img_size), num_classes

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        generator = torch.Generator().manual_seed(index)
        return torch.randn(self.shape, generator=generator), index % self.num_classes

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first `size` items as one batch."""
        items = [self[i % self.size] for i in range(size)]
        return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])


class ShardedSampler(Sampler[int]):
    """Shuffle by (seed, epoch), pad to a multiple of the world size, take this rank's
    share, and start `skip` samples into it (for resuming mid-epoch)."""

    def __init__(
        self, size: int, rank: int, world: int, seed: int, shuffle: bool, pad: bool
    ) -> None:
        self.size, self.rank, self.world = size, rank, world
        self.seed, self.shuffle, self.pad = seed, shuffle, pad
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def _indices(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        if self.pad and self.size % self.world:
            order += order[: self.world - self.size % self.world]
        return order[self.rank :: self.world]

    def per_rank(self) -> int:
        return len(self._indices())

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices()[self.skip :])

    def __len__(self) -> int:
        return max(self.per_rank() - self.skip, 0)
