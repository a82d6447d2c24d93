"""Training data: ImageFolder trees (train/ and val/), npz tensor sets, a synthetic set, and
the sampler.

The layout checks (a missing or empty folder, class folders that differ between train/ and
val/, an empty class folder in train/) need no torch and live in
`specc.runtime.train.folders`. Files are found by `specc.runtime.train.images` (no FIFO,
link loop or bomb is ever opened as an image). An image that cannot be decoded does not
end a run: it comes back with label -1, the loop drops it and counts it; a set none of
whose images decodes stops the run.

The sampler shuffles with (seed, epoch), shards across ranks and can start mid-epoch, so
a resumed run sees exactly the batches the interrupted one would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler

from specc.diagnostics import UserError
from specc.lang.training import TORCHVISION_POLICIES
from specc.runtime.train.config import IMAGE_CHANNELS, TrainConfig
from specc.runtime.train.images import open_image, scan

MODES = {1: "L", 3: "RGB", 4: "RGBA"}  # how an image file is decoded for in_chans
# Images tried before the first step; where none of them decodes, the run stops.
PROBE_IMAGES = 64


def transforms(cfg: TrainConfig, train: bool) -> Any:
    """The input pipeline of train.yaml's keys, with timm's names and meanings.

    Train: random-resized crop (`scale`, `ratio`, `train_interpolation`), flips (`hflip`,
    `vflip`), `color_jitter`, the `aa` policy (torchvision's AutoAugment by name, or timm's
    RandAugment / AugMix / AutoAugment strings), tensor, normalise (`mean`, `std`), random
    erasing (`reprob`, timm's). Eval: resize to img_size / crop_pct (`interpolation`), then
    a centre crop of img_size, tensor, normalise."""
    from torchvision import transforms as T

    size, (mean, std) = cfg.img_size, cfg.normalisation()
    if not train:
        resize = T.Resize(int(size / cfg.crop_pct), interpolation=_mode(cfg.interpolation))
        return T.Compose([resize, T.CenterCrop(size), T.ToTensor(), T.Normalize(mean, std)])
    crop: Any
    if cfg.train_interpolation == "random":
        modes = [_mode("bilinear"), _mode("bicubic")]
        crop = T.RandomChoice(
            [T.RandomResizedCrop(size, tuple(cfg.scale), tuple(cfg.ratio), m) for m in modes]
        )
    else:
        mode = _mode(cfg.train_interpolation)
        crop = T.RandomResizedCrop(size, tuple(cfg.scale), tuple(cfg.ratio), interpolation=mode)
    steps: list[Any] = [crop]
    if cfg.hflip > 0:
        steps.append(T.RandomHorizontalFlip(cfg.hflip))
    if cfg.vflip > 0:
        steps.append(T.RandomVerticalFlip(cfg.vflip))
    if cfg.color_jitter > 0:
        steps.append(T.ColorJitter(*(cfg.color_jitter,) * 3))
    if cfg.aa is not None:
        steps.append(_augmentation(cfg.aa, size, mean))
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    if cfg.reprob > 0:
        from timm.data.random_erasing import RandomErasing

        steps.append(RandomErasing(cfg.reprob, mode="pixel", device="cpu"))  # type: ignore[no-untyped-call]
    return T.Compose(steps)


def _mode(name: str) -> Any:
    from torchvision.transforms import InterpolationMode

    return InterpolationMode(name)


def _augmentation(aa: str, size: int, mean: tuple[float, ...]) -> Any:
    from torchvision import transforms as T

    if aa in TORCHVISION_POLICIES:
        return T.AutoAugment(T.AutoAugmentPolicy(aa))
    try:
        from timm.data import auto_augment
    except ImportError:
        raise UserError(f"aa: {aa} is one of timm's policies: pip install timm") from None
    hparams = {
        "translate_const": int(size * 0.45),
        "img_mean": tuple(min(255, round(255 * x)) for x in mean),
    }
    factory = {
        "rand": auto_augment.rand_augment_transform,
        "augmix": auto_augment.augment_and_mix_transform,
    }.get(aa.split("-")[0], auto_augment.auto_augment_transform)
    try:
        return factory(aa, hparams)
    except (AssertionError, ValueError, KeyError) as exc:  # timm's parsers assert
        raise UserError(f"aa: timm cannot read {aa!r} ({exc or 'malformed'})") from None


class ImageFolderSet(Dataset[tuple[torch.Tensor, int]]):
    """An ImageFolder (`root/<class>/.../<image>`, classes in sorted order, as torchvision's)
    decoding each image to `in_chans` channels (1: grayscale, 3: RGB, 4: RGBA, whatever the
    file holds); an undecodable image yields label -1. `scan` says what was skipped."""

    def __init__(self, root: Path, transform: Any, img_size: int, in_chans: int = 3) -> None:
        if in_chans not in IMAGE_CHANNELS:
            raise UserError(
                f"in_chans is {in_chans}: image files decode to 1 (grayscale), 3 (RGB) or "
                "4 (RGBA) channels; rebuild the model with one of those input channels"
            )
        self.root, self.mode, self.transform = root, MODES[in_chans], transform
        self.scan = scan(root)
        self.samples = self.scan.samples
        self.blank = torch.zeros(in_chans, img_size, img_size)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        try:
            image = open_image(path, self.mode)
            return (self.transform(image) if self.transform else image), label
        except (OSError, ValueError, SyntaxError, EOFError, MemoryError):  # not an image
            return self.blank, -1

    def first_readable(self, tries: int = PROBE_IMAGES) -> tuple[torch.Tensor, int]:
        """The first image that decodes, among the first `tries`; UserError when none does
        (a set whose every image is unreadable must not "train" on blanks)."""
        for index in range(min(tries, len(self))):
            image, label = self[index]
            if label >= 0:
                return image, label
        count = min(tries, len(self))
        raise UserError(
            f"{self.root}: none of the first {count} images could be read as an image "
            f"(e.g. {self.samples[0][0]})",
            hint="check the files: truncated downloads, wrong formats, permissions",
        )


class ArraySet(Dataset[tuple[torch.Tensor, int]]):
    """One split of an npz data set (`specc.tools.arrays`), kept in memory: no decode per
    step. uint8 images with 1 or 3 channels go through `transforms` as PIL images, so every
    augmentation key applies as for image files; other channel counts and float images go
    through `tensor_transforms`, which applies the keys that have a meaning there."""

    def __init__(self, images: Any, labels: Any, cfg: TrainConfig, train: bool) -> None:
        self.images = torch.from_numpy(images)
        self.labels = torch.from_numpy(labels)
        channels = int(images.shape[1])
        self.pil = self.images.dtype == torch.uint8 and channels in (1, 3)
        self.transform = transforms(cfg, train) if self.pil else tensor_transforms(cfg, train)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        if self.pil:
            from PIL import Image

            pixels = image[0].numpy() if image.shape[0] == 1 else image.permute(1, 2, 0).numpy()
            return self.transform(Image.fromarray(pixels)), int(self.labels[index])
        if image.dtype == torch.uint8:
            image = image.float().div_(255.0)
        return self.transform(image.float()), int(self.labels[index])


def tensor_transforms(cfg: TrainConfig, train: bool) -> Any:
    """`transforms` for C×H×W float tensors of any channel count: the random-resized crop,
    flips, normalisation and random erasing apply; `color_jitter` and `aa` need 1- or
    3-channel uint8 images and are refused otherwise (UserError) rather than ignored."""
    from torchvision import transforms as T

    size, (mean, std) = cfg.img_size, cfg.normalisation()
    normalise = T.Normalize(mean, std)
    if not train:
        resize = T.Resize(int(size / cfg.crop_pct), _mode(cfg.interpolation), antialias=True)
        return T.Compose([resize, T.CenterCrop(size), normalise])
    for key, unset in (("aa", None), ("color_jitter", 0)):
        if getattr(cfg, key) not in (unset, 0.0):
            raise UserError(
                f"{key}: {getattr(cfg, key)} applies to 1- or 3-channel uint8 images; this "
                f"data has {cfg.in_chans}-channel or float images",
                hint=f"--set {key}={'null' if unset is None else 0}",
            )
    modes = ["bilinear", "bicubic"] if cfg.train_interpolation == "random" else []
    crops = [
        T.RandomResizedCrop(size, tuple(cfg.scale), tuple(cfg.ratio), _mode(m), antialias=True)
        for m in modes or [cfg.train_interpolation]
    ]
    steps: list[Any] = [crops[0] if len(crops) == 1 else T.RandomChoice(crops)]
    if cfg.hflip > 0:
        steps.append(T.RandomHorizontalFlip(cfg.hflip))
    if cfg.vflip > 0:
        steps.append(T.RandomVerticalFlip(cfg.vflip))
    steps.append(normalise)
    if cfg.reprob > 0:
        from timm.data.random_erasing import RandomErasing

        steps.append(RandomErasing(cfg.reprob, mode="pixel", device="cpu"))  # type: ignore[no-untyped-call]
    return T.Compose(steps)


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
        """This rank's share of an epoch, counted, not listed (a synthetic epoch of 10^8
        images must not allocate its index list)."""
        padded = -(-self.size // self.world) * self.world if self.pad else self.size
        return len(range(self.rank, padded, self.world))

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices()[self.skip :])

    def __len__(self) -> int:
        return max(self.per_rank() - self.skip, 0)
