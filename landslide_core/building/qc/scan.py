"""Scoring every tile under a root, and reading from tile numbers how many tiles quality control removed (ours).

A root is either a data root in a source's layout (image and mask pairs) or a plain folder of image
files without masks, such as loose originals of several sub-datasets; there each file's sub-dataset
is guessed from its name (CAS: :func:`~landslide_core.sources.cas.subdataset_for_tile_name`) and is
the folder's name where no guess fits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ...data.statistics import map_tiles
from ...errors import DatasetNotFoundError
from ...io.raster import open_raster, read_raster
from ...sources import TileSource, get_source
from ...sources.cas import CAS, subdataset_for_tile_name
from ...sources.checks import check_image
from ...tiles import TileRecord
from .flags import CRITERIA, SCORE_COLUMNS
from .metrics import score_tile

__all__ = ["IMAGE_SUFFIXES", "REMOVED_COLUMNS", "list_images", "removed_from_names", "score_root", "summarise"]

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
"""Files a plain folder of images is read from."""
REMOVED_COLUMNS = ("subdataset", "present", "highest number", "missing", "missing share")
"""Columns of :func:`removed_from_names`."""
TILE_COLUMNS = ("subdataset", "group", "name", "image", "mask")


def _plain_images(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def list_images(root: str | Path, *, source: str | TileSource = "cas",
                subdatasets: Iterable[str] | None = None) -> list[TileRecord]:
    """The tiles under ``root``: the source's records, or one mask-less record per image of a plain folder.

    In a plain folder a record's sub-dataset is the source's key guessed from the file name (CAS only)
    and its group that sub-dataset's; where nothing fits, both are the folder's name and ``""``.

    Args:
        root: A data root in the source's layout, or a folder holding image files directly.
        source: The tile source (name or object) whose layout ``root`` follows.
        subdatasets: Only these sub-datasets (any spelling the source knows); ``None`` takes all.

    Raises:
        DatasetNotFoundError: ``root`` is not a folder.
        PathProblemError: The first layout problem of a data root (an image without its mask, …).
    """
    root, src = Path(root), get_source(source)
    if not root.is_dir():
        raise DatasetNotFoundError(root, "the folder does not exist", "give a data root or a folder of image tiles")
    images = _plain_images(root)
    if not images:
        return src.list_tiles(root, subdatasets)
    wanted = None if subdatasets is None else {src.subdataset_key(n) for n in subdatasets}
    records = []
    for path in images:
        guess = subdataset_for_tile_name(path.name) if src.name == CAS.name else None
        key, group = (guess.key, guess.group) if guess else (root.name, "")
        if wanted is None or key in wanted:
            records.append(TileRecord(subdataset=key, group=group, name=path.stem, image=path,
                                      source="CAS" if src.name == CAS.name else src.name))
    return records


def _valid(path: Path, image: np.ndarray) -> np.ndarray | None:
    """False where every band equals the file's declared nodata value; None where it declares none."""
    with open_raster(path) as src:
        nodata = src.nodata
    return None if nodata is None else ~(image == nodata).all(axis=0)


def _read_tile(record: TileRecord, source: TileSource) -> tuple[np.ndarray, np.ndarray | None]:
    """A tile's RGB image and its 0/1 mask ``(H, W)`` (None without one), checked as the source checks them.

    Raises:
        TileError: The image or mask is unreadable, the image is not 3-band uint8, or the mask is not 0/1.
    """
    if record.mask is not None:
        image, mask = source.read_tile(record)
        return image, mask[0]
    image = read_raster(record.image)
    problems = check_image(record.image, image, bands=3, dtype="uint8", tile_size=None)
    if problems:
        raise problems[0]
    return image, None


def _score_record(record: TileRecord, source: TileSource) -> dict[str, object]:
    """One tile's row of :func:`score_root`: where it is and its four scores."""
    image, mask = _read_tile(record, source)
    return {"subdataset": record.subdataset, "group": record.group, "name": record.name,
            "image": str(record.image), "mask": "" if record.mask is None else str(record.mask),
            **score_tile(image, mask, _valid(record.image, image))}


def score_root(root: str | Path, *, source: str | TileSource = "cas", subdatasets: Iterable[str] | None = None,
               progress: bool = True, workers: int | None = None) -> pd.DataFrame:
    """One row per tile under ``root``: ``subdataset``, ``group``, ``name``, ``image``, ``mask`` and the four scores.

    Tiles without a mask (a plain folder of images) get ``label_share`` NaN, which
    :func:`~landslide_core.building.qc.flags.flag` reports as
    ``label: needs a mask``. Pixels equal to a file's declared nodata value in every band are not valid.

    Args:
        root: A data root in the source's layout, or a folder of image files (see :func:`list_images`).
        source: The tile source whose layout ``root`` follows.
        subdatasets: Only these sub-datasets; ``None`` takes all.
        progress: Show a progress bar.
        workers: Processes scoring tiles (:func:`landslide_core.data.statistics.map_tiles`; default: the usable
            cores, one per 500 tiles at most); the scores do not depend on it.

    Raises:
        DatasetNotFoundError: ``root`` is not a folder.
        PathProblemError: A layout problem of a data root.
        TileError: A tile cannot be read, or is not 3-band uint8 RGB (its mask not 0/1).
        ConfigError: ``workers`` is below 1.
    """
    src = get_source(source)
    rows = map_tiles(partial(_score_record, source=src), list_images(root, source=src, subdatasets=subdatasets),
                     workers=workers, desc="scoring tiles", progress=progress)
    return pd.DataFrame(rows, columns=[*TILE_COLUMNS, *SCORE_COLUMNS.values()])


def removed_from_names(root: str | Path, *, source: str | TileSource = "cas") -> pd.DataFrame:
    """Per sub-dataset, tiles missing from the numbering, which we read as the tiles quality control removed.

    That reading is ours, an inference: the paper never links numbering to quality control. The public
    production code numbers each sub-dataset's tiles with one counter and the published tiles keep their
    names, so we read a number missing below the highest one as a tile that was cut and then removed
    (``numbering_gaps`` in ``landslide_core/paper/inferences.yaml``). The number is the trailing digits of a
    file's stem; numbering starts at 1 (at 0 where a tile 0 exists). Files without trailing digits are
    counted as present but take no part in the numbering. (The data's README reports that the full
    Hokkaido Iburi-Tobu sub-dataset runs to 1571 with 1,484 tiles present, which reads as 87 removed.)

    Returns:
        One row per sub-dataset with :data:`REMOVED_COLUMNS`: tiles ``present``, ``highest number``,
        ``missing`` (numbers below it without a tile) and ``missing share`` (of the numbers up to the highest).

    Raises:
        DatasetNotFoundError: ``root`` is not a folder.
        PathProblemError: The first layout problem of a data root.
    """
    records = list_images(root, source=source)
    rows = []
    for key, names in pd.Series([r.name for r in records]).groupby([r.subdataset for r in records], sort=False):
        numbers = sorted({int(m.group(1)) for m in (re.search(r"(\d+)$", n) for n in names) if m})
        if numbers:
            expected = numbers[-1] + (numbers[0] == 0)  # numbers 1..highest, or 0..highest
            missing = expected - len(numbers)
            rows.append((key, len(names), numbers[-1], missing, missing / expected))
        else:
            rows.append((key, len(names), None, 0, float("nan")))
    return pd.DataFrame(rows, columns=list(REMOVED_COLUMNS))


def summarise(flags: pd.DataFrame, removed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per sub-dataset: tiles, tiles flagged by each rule and by any, and the numbering gaps beside them.

    Args:
        flags: :func:`~landslide_core.building.qc.flags.flag`'s output.
        removed: :func:`removed_from_names`'s output, joined on ``subdataset``.
    """
    table = flags.groupby("subdataset", sort=False).agg(
        tiles=("name", "size"), **{f"flag {rule}": (f"flag_{rule}", "sum") for rule in CRITERIA},
        flagged=("flagged", "sum"),
    )
    if removed is not None:
        table = table.join(removed.set_index("subdataset"))
    return table
