"""A torch Dataset over tile records: normalized float images and 0/1 masks.

Randomness (crops, flips, rotations) comes from a generator seeded by
``(seed, epoch, index)``, so an item is the same in any worker, any process and
any rerun; call :meth:`CASTileDataset.set_epoch` each epoch, as with
``DistributedSampler``. Every tile is checked as it is read and a bad one raises
the same error ``landslide-core validate`` prints: nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .tiles import TileRecord
from .validate import TILE_SIZE, read_checked_tile

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class CASTileDataset(Dataset[dict[str, object]]):
    """Tiles as ``{"image": float32 (3, H, W), "mask": int64 (H, W), "name", "subdataset", "group"}``.

    Images are scaled to [0, 1] and standardized with ``mean``/``std`` (ImageNet
    statistics by default, as pretrained backbones expect; pass ``None`` to keep
    [0, 1]). ``crop_size`` takes a random square crop (CPU runs train on 128–256 px
    crops), or the central one with ``centre_crop`` (quick validation on a CPU); ``augment`` applies random flips and 90° rotations to image and mask.
    """

    def __init__(
        self,
        records: Sequence[TileRecord],
        *,
        crop_size: int | None = None,
        centre_crop: bool = False,
        augment: bool = False,
        mean: Sequence[float] | None = IMAGENET_MEAN,
        std: Sequence[float] | None = IMAGENET_STD,
        seed: int = 0,
        tile_size: int | None = TILE_SIZE,
    ) -> None:
        self.records = list(records)
        self.crop_size = crop_size
        self.centre_crop = centre_crop
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.tile_size = tile_size
        self._mean = None if mean is None else np.asarray(mean, np.float32).reshape(3, 1, 1)
        self._std = None if std is None else np.asarray(std, np.float32).reshape(3, 1, 1)

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass draw new crops and flips, reproducibly."""
        self.epoch = epoch

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def _crop(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        size = self.crop_size
        if size is None:
            return image, mask
        height, width = mask.shape
        if size > min(height, width):
            raise ValueError(f"crop_size {size} is larger than the {width}×{height} tile")
        if self.centre_crop:
            top, left = (height - size) // 2, (width - size) // 2
        else:
            top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
        return image[:, top : top + size, left : left + size], mask[top : top + size, left : left + size]

    @staticmethod
    def _flip_rotate(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if rng.random() < 0.5:
            image, mask = image[:, :, ::-1], mask[:, ::-1]
        if rng.random() < 0.5:
            image, mask = image[:, ::-1, :], mask[::-1, :]
        k = int(rng.integers(0, 4))
        return np.rot90(image, k, axes=(1, 2)), np.rot90(mask, k)

    def __getitem__(self, index: int) -> dict[str, object]:
        record = self.records[index]
        image, mask = read_checked_tile(record, self.tile_size)
        rng = self._rng(index)
        image, mask2d = self._crop(image, mask[0], rng)
        if self.augment:
            image, mask2d = self._flip_rotate(image, mask2d, rng)
        scaled = image.astype(np.float32) / 255.0
        if self._mean is not None and self._std is not None:
            scaled = (scaled - self._mean) / self._std
        return {
            "image": torch.from_numpy(np.ascontiguousarray(scaled)),
            "mask": torch.from_numpy(np.ascontiguousarray(mask2d).astype(np.int64)),
            "name": record.name,
            "subdataset": record.subdataset,
            "group": record.group,
        }
