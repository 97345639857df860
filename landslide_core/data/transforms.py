"""Crops, flips and 90° turns applied to an image and its mask together.

Every function takes the generator to draw from, so the dataset can key it on
``(seed, epoch, index)`` and an item is the same in any worker, process or rerun.
"""

from __future__ import annotations

import numpy as np

__all__ = ["crop", "flip_rotate"]


def crop(
    image: np.ndarray, mask: np.ndarray, size: int | None, rng: np.random.Generator, *, centre: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """A square crop of ``image`` ``(bands, h, w)`` and ``mask`` ``(h, w)`` at the same place.

    Args:
        image: The image.
        mask: Its mask.
        size: Side of the crop; ``None`` returns both unchanged.
        rng: Draws the crop's corner (not used with ``centre``).
        centre: Take the central square instead of a random one.

    Raises:
        ValueError: ``size`` is larger than the tile.
    """
    if size is None:
        return image, mask
    height, width = mask.shape
    if size > min(height, width):
        raise ValueError(f"crop_size {size} is larger than the {width}×{height} tile")
    if centre:
        top, left = (height - size) // 2, (width - size) // 2
    else:
        top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
    return image[:, top : top + size, left : left + size], mask[top : top + size, left : left + size]


def flip_rotate(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random horizontal flip, vertical flip and 90° turn (each drawn from ``rng``), the same for both arrays."""
    if rng.random() < 0.5:
        image, mask = image[:, :, ::-1], mask[:, ::-1]
    if rng.random() < 0.5:
        image, mask = image[:, ::-1, :], mask[::-1, :]
    k = int(rng.integers(0, 4))
    return np.rot90(image, k, axes=(1, 2)), np.rot90(mask, k)
