"""Tile checks shared by every source: band count and type, size, mask values, image/mask agreement.

The same functions check an array whether it is read by ``landslide-core
validate`` or by the torch dataset during training, so a bad tile gets the same
message in both places. What is expected (bands, type, tile size) comes from the
source (:class:`~landslide_core.sources.base.TileSource`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ImageFormatError, MaskValueError, TileError, TileSizeError
from ..tiles import TileRecord

__all__ = ["check_image", "check_mask", "check_pair"]


def _size(array: np.ndarray) -> str:
    return f"{array.shape[-1]}×{array.shape[-2]}"


def _format_fix(bands: int, dtype: str) -> str:
    if (bands, dtype) == (3, "uint8"):
        return "convert it to 8-bit RGB, e.g. `gdal_translate -ot Byte -scale -b 1 -b 2 -b 3 IN OUT`"
    return f"write it with {bands} band(s) of {dtype}"


def check_image(
    path: Path, image: np.ndarray, *, bands: int = 3, dtype: str = "uint8", tile_size: int | None = 512
) -> list[TileError]:
    """Problems of an image array ``(bands, h, w)``: band count, data type, size.

    Args:
        path: The file the array was read from (named in every problem).
        image: The array.
        bands: Expected band count.
        dtype: Expected data type.
        tile_size: Expected side in pixels; ``None`` accepts any size.

    Returns:
        One error per problem; empty when the image is fine.
    """
    problems: list[TileError] = []
    if image.shape[0] != bands or image.dtype != np.dtype(dtype):
        kind = "RGB" if (bands, dtype) == (3, "uint8") else "image"
        problems.append(
            ImageFormatError(
                path,
                f"image has {image.shape[0]} band(s) of {image.dtype}; expected {bands}-band {dtype} {kind}",
                _format_fix(bands, dtype),
            )
        )
    if tile_size is not None and image.shape[1:] != (tile_size, tile_size):
        problems.append(
            TileSizeError(
                path,
                f"image is {_size(image)} pixels; tiles must be {tile_size}×{tile_size}",
                f"cut it to {tile_size}×{tile_size} pixels or remove it together with its mask",
            )
        )
    return problems


def _non_binary_values(mask: np.ndarray) -> np.ndarray | None:
    """The sorted distinct values of a mask that holds any outside {0, 1}; ``None`` for a 0/1 mask.

    Every tile of every epoch is checked, so a good uint8 mask must be cheap: one ``max()`` (microseconds)
    clears it, where ``np.unique`` sorts the whole tile (about 1 ms at 512×512). A uint8 mask with other values
    is counted with ``np.bincount``; masks of other types (already a problem) go through ``np.unique``.
    """
    if mask.dtype == np.uint8:
        if not mask.size or mask.max() <= 1:
            return None
        return np.flatnonzero(np.bincount(mask.ravel(), minlength=256)).astype(np.uint8)
    values = np.unique(mask)
    return values if values.size and (values.min() < 0 or values.max() > 1) else None


def check_mask(path: Path, mask: np.ndarray, *, tile_size: int | None = 512) -> list[TileError]:
    """Problems of a mask array ``(bands, h, w)``: single band uint8, size, values 0/1 only.

    Args:
        path: The file the array was read from (named in every problem).
        mask: The array.
        tile_size: Expected side in pixels; ``None`` accepts any size.

    Returns:
        One error per problem; empty when the mask is fine.
    """
    problems: list[TileError] = []
    if mask.shape[0] != 1 or mask.dtype != np.uint8:
        problems.append(
            ImageFormatError(
                path,
                f"mask has {mask.shape[0]} band(s) of {mask.dtype}; expected one uint8 band",
                "write the mask as a single uint8 band with 1 = landslide and 0 = background",
            )
        )
    if tile_size is not None and mask.shape[1:] != (tile_size, tile_size):
        problems.append(
            TileSizeError(
                path,
                f"mask is {_size(mask)} pixels; tiles must be {tile_size}×{tile_size}",
                f"cut it to {tile_size}×{tile_size} pixels or remove it together with its image",
            )
        )
    values = _non_binary_values(mask)
    if values is not None:
        if set(values.tolist()) <= {0, 255}:
            problems.append(
                MaskValueError(
                    path,
                    "mask is coded 0/255 (255 = landslide); CAS masks are 0/1",
                    "divide the mask by 255 so that landslide pixels are 1, e.g. `gdal_calc.py --calc='A/255'`",
                )
            )
        else:
            shown = ", ".join(str(v) for v in values[(values < 0) | (values > 1)][:8].tolist())
            problems.append(
                MaskValueError(
                    path,
                    f"mask has values outside {{0, 1}}: {shown}",
                    "set landslide pixels to 1 and everything else to 0",
                )
            )
    return problems


def check_pair(record: TileRecord, image: np.ndarray, mask: np.ndarray) -> list[TileError]:
    """Problems between an image and its mask: different sizes."""
    if image.shape[1:] != mask.shape[1:]:
        return [
            TileSizeError(
                record.mask or record.image,
                f"mask is {_size(mask)} pixels but its image {record.image.name} is {_size(image)}",
                "re-export the mask on the image's pixel grid",
            )
        ]
    return []
