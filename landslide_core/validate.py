"""Tile checks behind ``landslide-core validate`` and the torch Dataset.

The same functions check an array whether it is read by ``validate`` or by the
Dataset during training, so a bad tile gets the same message in both places.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .errors import ImageFormatError, MaskValueError, PathProblemError, TileError, TileSizeError
from .layout import scan
from .raster import read_raster
from .tiles import TileRecord

TILE_SIZE = 512


def _size(array: np.ndarray) -> str:
    return f"{array.shape[-1]}×{array.shape[-2]}"


def check_image(path: Path, image: np.ndarray, tile_size: int | None = TILE_SIZE) -> list[TileError]:
    """Problems of an image array ``(bands, h, w)``: band count, data type, size."""
    problems: list[TileError] = []
    if image.shape[0] != 3 or image.dtype != np.uint8:
        problems.append(
            ImageFormatError(
                path,
                f"image has {image.shape[0]} band(s) of {image.dtype}; expected 3-band uint8 RGB",
                "convert it to 8-bit RGB, e.g. `gdal_translate -ot Byte -scale -b 1 -b 2 -b 3 IN OUT`",
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


def check_mask(path: Path, mask: np.ndarray, tile_size: int | None = TILE_SIZE) -> list[TileError]:
    """Problems of a mask array ``(bands, h, w)``: single band uint8, size, values 0/1 only."""
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
    values = np.unique(mask)
    if values.size and (values.min() < 0 or values.max() > 1):
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


def check_tile(
    record: TileRecord, image: np.ndarray, mask: np.ndarray, tile_size: int | None = TILE_SIZE
) -> list[TileError]:
    """Every problem of a tile whose image and mask have been read."""
    assert record.mask is not None
    return [
        *check_image(record.image, image, tile_size),
        *check_mask(record.mask, mask, tile_size),
        *check_pair(record, image, mask),
    ]


def read_checked_tile(record: TileRecord, tile_size: int | None = TILE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Read a tile's image and mask, raising our error for the first problem found."""
    if record.mask is None:
        raise TileError(record.image, "tile record has no mask", "pair the image with its mask before reading")
    image, mask = read_raster(record.image), read_raster(record.mask)
    problems = check_tile(record, image, mask, tile_size)
    if problems:
        raise problems[0]
    return image, mask


def _problems_of(record: TileRecord, tile_size: int | None) -> list[PathProblemError]:
    try:
        image = read_raster(record.image)
    except TileError as error:
        image_problems: list[PathProblemError] = [error]
        image = None
    else:
        image_problems = list(check_image(record.image, image, tile_size))
    assert record.mask is not None
    try:
        mask = read_raster(record.mask)
    except TileError as error:
        return [*image_problems, error]
    problems = [*image_problems, *check_mask(record.mask, mask, tile_size)]
    if image is not None:
        problems.extend(check_pair(record, image, mask))
    return problems


@dataclass
class ValidationReport:
    """The outcome of checking a data root: how many tiles were read and what is wrong."""

    root: Path
    tiles_checked: int = 0
    problems: list[PathProblemError] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """One line per problem (file, problem, fix), notes on ignored folders, and a summary."""
        out = [str(p) for p in self.problems]
        out += [f"note: {p}: not a sub-dataset folder (no img/ or mask/); ignored" for p in self.ignored]
        verdict = "no problems found" if self.ok else f"{len(self.problems)} problem(s) found"
        out.append(f"{self.root}: {self.tiles_checked} tile(s) checked, {verdict}")
        return out


def validate_root(
    root: str | Path,
    subdataset_names: Iterable[str] | None = None,
    *,
    tile_size: int | None = TILE_SIZE,
    progress: bool = True,
) -> ValidationReport:
    """Check every tile under ``root``: layout, readability, format, size and mask values."""
    found = scan(root, subdataset_names)
    report = ValidationReport(root=Path(root), problems=list(found.problems), ignored=found.ignored)
    for record in tqdm(found.records, desc="validating tiles", unit="tile", disable=not progress):
        report.problems.extend(_problems_of(record, tile_size))
        report.tiles_checked += 1
    return report
