"""Making other datasets' tiles look like CAS tiles: 512×512 RGB uint8 images with 0/1 masks.

Of the public datasets of its Table 7 the paper says only “To ensure consistency
during training, we standardized the image to a resolution of 512 × 512 pixels.”
(Technical Validation, Comparative experiment) and “we solely employed RGB optical
images for training, without incorporating additional data such as DEM data to aid
in the training process”. How they were standardised is ours. Table 7's training
counts (770 Bijie, 59 Sichuan, 1,119 HR-GLDD, 3,799 Landslide4Sense) are the
numbers of images of the parts trained on, so we inferred that each image became
one 512×512 image: resized, not cut into tiles (cutting Sichuan's 1181×1181 images
would have given several tiles each, and 128×128 patches cannot be cut to 512).
:func:`resize_pair` is our resize: bilinear for images (antialiased when
shrinking), nearest neighbour for masks, which keeps them 0/1. Cutting into windows
(:func:`windows`) is the other option of the generic folder source.

Multispectral floats (HR-GLDD, Landslide4Sense) become uint8 with a per-band
percentile stretch (:class:`Stretch`, ours) computed on a seeded sample of the
dataset's training part, so the same files always give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ImageFormatError

__all__ = [
    "FITS", "STANDARD_SIZE", "Stretch", "parse_window_name", "resize_image", "resize_mask", "resize_pair",
    "sample_indices", "training_stretch", "window_name", "windows",
]

STANDARD_SIZE = 512
"""Side of the standard tile: that of CAS tiles and of the Table 7 standardisation (“to a resolution of 512 × 512
pixels”)."""
FITS = ("resize", "tile")
"""How an image of another size becomes standard tiles: resized whole (ours, inferred from Table 7's counts), or cut
into windows."""

_WINDOW = re.compile(r"^(?P<stem>.+)__r(?P<row>\d+)_c(?P<col>\d+)$")


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """``(bands, h, w)`` uint8 resized to ``(bands, size, size)`` per band, bilinear (antialiased when shrinking)."""
    if image.shape[1:] == (size, size):
        return image
    bands = [np.asarray(Image.fromarray(band).resize((size, size), Image.Resampling.BILINEAR)) for band in image]
    return np.stack(bands)


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """A ``(1, h, w)`` 0/1 mask resized to ``(1, size, size)`` by nearest neighbour, so it stays 0/1."""
    if mask.shape[1:] == (size, size):
        return mask
    return np.asarray(Image.fromarray(mask[0]).resize((size, size), Image.Resampling.NEAREST))[None]


def resize_pair(image: np.ndarray, mask: np.ndarray, size: int = STANDARD_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Image and mask resized to ``size``×``size`` (see :func:`resize_image` and :func:`resize_mask`)."""
    return resize_image(image, size), resize_mask(mask, size)


def windows(height: int, width: int, size: int = STANDARD_SIZE) -> list[tuple[int, int]]:
    """Top-left corners of ``size`` windows covering an image, side by side; the last row and column flush with the edge.

    Raises:
        ValueError: The image is smaller than one window.
    """
    if height < size or width < size:
        raise ValueError(f"a {width}×{height} image is smaller than one {size}×{size} window")

    def starts(n: int) -> list[int]:
        first = list(range(0, n - size + 1, size))
        return first if first[-1] == n - size else [*first, n - size]

    return [(row, col) for row in starts(height) for col in starts(width)]


def window_name(stem: str, row: int, col: int) -> str:
    """The tile name of the window at ``(row, col)`` of the image ``stem``."""
    return f"{stem}__r{row}_c{col}"


def parse_window_name(name: str) -> tuple[str, int, int] | None:
    """``(stem, row, col)`` of a name written by :func:`window_name`; ``None`` for a whole-image name."""
    match = _WINDOW.match(name)
    return (match["stem"], int(match["row"]), int(match["col"])) if match else None


def sample_indices(n: int, count: int, seed: int = 0) -> list[int]:
    """Up to ``count`` of ``range(n)``, drawn without replacement from ``seed``, in increasing order."""
    if n <= count:
        return list(range(n))
    return sorted(np.random.default_rng(seed).choice(n, size=count, replace=False).tolist())


@dataclass(frozen=True)
class Stretch:
    """Per-band linear stretch of floats to uint8: ``low`` → 0, ``high`` → 255, clipped; NaN → 0."""

    low: tuple[float, ...]
    high: tuple[float, ...]
    percentiles: tuple[float, float] = (2.0, 98.0)
    """The percentiles ``low`` and ``high`` were taken at."""

    @classmethod
    def from_samples(cls, samples: Iterable[np.ndarray], percentiles: tuple[float, float] = (2.0, 98.0)) -> Stretch:
        """The stretch that maps each band's ``percentiles`` over ``samples`` (each ``(bands, h, w)``) to 0 and 255.

        NaN pixels are left out. A band whose two percentiles coincide gets ``high = low + 1``.

        Raises:
            ValueError: ``samples`` is empty or holds no finite value in some band.
        """
        stacked = [np.asarray(s, np.float64).reshape(s.shape[0], -1) for s in samples]
        if not stacked:
            raise ValueError("no samples to compute a stretch from")
        values = np.concatenate(stacked, axis=1)
        low, high = [], []
        for band in values:
            finite = band[np.isfinite(band)]
            if finite.size == 0:
                raise ValueError("a band holds no finite value in the samples")
            lo, hi = np.percentile(finite, percentiles)
            low.append(float(lo))
            high.append(float(hi) if hi > lo else float(lo) + 1.0)
        return cls(tuple(low), tuple(high), (float(percentiles[0]), float(percentiles[1])))

    def apply(self, bands: np.ndarray) -> np.ndarray:
        """``(bands, h, w)`` floats as uint8, each band stretched with its own ``low``/``high``."""
        shape = (len(self.low), 1, 1)
        low = np.asarray(self.low, np.float64).reshape(shape)
        high = np.asarray(self.high, np.float64).reshape(shape)
        scaled = (np.asarray(bands, np.float64) - low) / (high - low) * 255.0
        scaled = np.nan_to_num(scaled, nan=0.0)
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)

    def to_dict(self) -> dict[str, list[float]]:
        """Plain JSON types, for records and checkpoints."""
        return {"low": list(self.low), "high": list(self.high), "percentiles": list(self.percentiles)}


def training_stretch(samples: Iterable[np.ndarray], path: Path, what: str, fix: str) -> Stretch:
    """:meth:`Stretch.from_samples` at the 2nd and 98th percentiles, or our error naming where the samples came from.

    Raises:
        ImageFormatError: Some band of ``samples`` (``what``, e.g. "the rows sampled") holds no finite value.
    """
    try:
        return Stretch.from_samples(samples, (2.0, 98.0))
    except ValueError as exc:
        raise ImageFormatError(path, f"{what} for the uint8 stretch have no finite value in a band ({exc})", fix) from exc
