"""A torch Dataset over tile records of any source: raw images (uint8 for CAS) and 0/1 masks.

Items carry the image as the source stores it, not as float network input:
normalising is done per batch, on the device, after the copy
(:meth:`~landslide_core.sources.base.Normalisation.batch` with the dataset's
:attr:`TileDataset.normalisation`). That keeps an item cheap (read, check, crop
and flip on uint8) and the image's copy to the device a quarter of float32's size.

Randomness (crops, flips, rotations) comes from a generator seeded by
``(seed, epoch, index)``, so an item is the same in any worker, any process and
any rerun; call :meth:`TileDataset.set_epoch` each epoch, as with
``DistributedSampler``. Every tile is read and checked by its source
(:meth:`~landslide_core.sources.base.TileSource.read_tile`) and a bad one raises
the same error ``landslide-core validate`` prints: nothing is dropped silently.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..sources import Normalisation, TileSource, get_source
from ..tiles import TileRecord
from .transforms import crop, flip_rotate

__all__ = ["TileDataset"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


@functools.cache
def _keep_freed_memory() -> None:
    """Let this process reuse the memory of the last items instead of handing it back to the kernel (glibc only).

    An item allocates about 4 MB (the two arrays read, the turned copy, the int64 mask) and frees it when used.
    With glibc's starting thresholds a process that only makes items (a data-loader worker) returns that memory
    to the kernel after every item and takes it back as fresh zeroed pages for the next: about 900 page faults
    per tile, which halved the tiles/s on the real Hokkaido tiles (about 230 instead of 500 on one core). glibc
    itself raises its thresholds after a process frees one large block, up to 32 MB for memory taken as its own
    block and twice that for memory kept; these are set here from the start. Called once per process, by the
    first item it makes (forked workers inherit the setting).
    """
    if not sys.platform.startswith("linux"):
        return
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_TRIM_THRESHOLD, 64 << 20)
        mallopt(_M_MMAP_THRESHOLD, 32 << 20)


_BLOCK = 64
"""Side of the blocks a turned tile is copied in (see :func:`_contiguous`)."""


def _contiguous(array: np.ndarray) -> np.ndarray:
    """``array`` in C order: itself when it already is, else a copy; a 90° turn is copied block by block.

    A turned tile is a transposed view: copied in one sweep, every element read jumps a whole row ahead in memory
    (about 1.1 ms for a 512×512 RGB uint8 tile on one core); copied in 64×64 blocks that stay in the cache, it
    takes about a third of that.
    """
    if abs(array.strides[-1]) <= abs(array.strides[-2]):  # rows still run along memory: flipped at most
        return np.ascontiguousarray(array)
    copy = np.empty(array.shape, array.dtype)
    height, width = array.shape[-2:]
    for top in range(0, height, _BLOCK):
        for left in range(0, width, _BLOCK):
            rows, columns = slice(top, top + _BLOCK), slice(left, left + _BLOCK)
            copy[..., rows, columns] = array[..., rows, columns]
    return copy


class TileDataset(Dataset[dict[str, object]]):
    """Tiles as ``{"image": raw (bands, H, W), "mask": int64 (H, W), "name", "subdataset", "group"}``.

    The image keeps the source's data type (:attr:`~landslide_core.sources.TileSource.dtype`, uint8 for CAS);
    whoever feeds a batch of them to a network normalises it first with ``dataset.normalisation.batch(images)``.

    Args:
        records: The tiles, in the order items are numbered.
        source: The tile source (name or object) that reads and checks each tile and says how to normalise it.
        crop_size: Side of a random square crop (CPU runs train on 64–256 px crops); ``None`` keeps whole tiles.
        centre_crop: Take the central square instead of a random one (quick validation on a CPU).
        augment: Random flips and 90° rotations of image and mask.
        normalisation: How a batch of these images becomes network input (:meth:`Normalisation.batch`); default
            the source's (CAS: ImageNet statistics, as pretrained backbones expect).
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
        """Item ``index``: the tile read, checked, cropped and augmented, in its raw data type."""
        _keep_freed_memory()
        record = self.records[index]
        image, mask = self.source.read_tile(record)
        rng = self._rng(index)
        image, mask2d = crop(image, mask[0], self.crop_size, rng, centre=self.centre_crop)
        if self.augment:
            image, mask2d = flip_rotate(image, mask2d, rng)
        return {
            "image": torch.from_numpy(_contiguous(image)),
            "mask": torch.from_numpy(_contiguous(mask2d).astype(np.int64)),
            "name": record.name,
            "subdataset": record.subdataset,
            "group": record.group,
        }
