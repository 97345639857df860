"""A torch Dataset over tile records of any source: normalised float images and 0/1 masks.

Randomness (crops, flips, rotations) comes from a generator seeded by
``(seed, epoch, index)``, so an item is the same in any worker, any process and
any rerun; call :meth:`TileDataset.set_epoch` each epoch, as with
``DistributedSampler``. Every tile is read and checked by its source
(:meth:`~landslide_core.sources.base.TileSource.read_tile`) and a bad one raises
the same error ``landslide-core validate`` prints: nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..sources import Normalisation, TileSource, get_source
from ..tiles import TileRecord
from .transforms import crop, flip_rotate

__all__ = ["TileDataset"]


class TileDataset(Dataset[dict[str, object]]):
    """Tiles as ``{"image": float32 (bands, H, W), "mask": int64 (H, W), "name", "subdataset", "group"}``.

    Args:
        records: The tiles, in the order items are numbered.
        source: The tile source (name or object) that reads and checks each tile and says how to normalise it.
        crop_size: Side of a random square crop (CPU runs train on 64–256 px crops); ``None`` keeps whole tiles.
        centre_crop: Take the central square instead of a random one (quick validation on a CPU).
        augment: Random flips and 90° rotations of image and mask.
        normalisation: How images become network input; default the source's (CAS: ImageNet statistics,
            as pretrained backbones expect). ``Normalisation()`` keeps values in [0, 1].
        seed: Seeds every random choice, with the epoch and the item's index.
    """

    def __init__(
        self,
        records: Sequence[TileRecord],
        *,
        source: str | TileSource = "cas",
        crop_size: int | None = None,
        centre_crop: bool = False,
        augment: bool = False,
        normalisation: Normalisation | None = None,
        seed: int = 0,
    ) -> None:
        self.records = list(records)
        self.source = get_source(source)
        self.crop_size = crop_size
        self.centre_crop = centre_crop
        self.augment = augment
        self.normalisation = normalisation or self.source.normalisation
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        """The number of tiles."""
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass draw new crops and flips, reproducibly."""
        self.epoch = epoch

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def __getitem__(self, index: int) -> dict[str, object]:
        """Item ``index``: the tile read, checked, cropped, augmented and normalised."""
        record = self.records[index]
        image, mask = self.source.read_tile(record)
        rng = self._rng(index)
        image, mask2d = crop(image, mask[0], self.crop_size, rng, centre=self.centre_crop)
        if self.augment:
            image, mask2d = flip_rotate(image, mask2d, rng)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(self.normalisation.apply(image))),
            "mask": torch.from_numpy(np.ascontiguousarray(mask2d).astype(np.int64)),
            "name": record.name,
            "subdataset": record.subdataset,
            "group": record.group,
        }
