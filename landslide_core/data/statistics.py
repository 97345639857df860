"""Per-tile statistics read from the masks: the raw material of overview tables and QC.

Only masks are read (one uint8 band per tile), so this is cheap even on all
20,865 tiles; values are checked as they are read, like everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..io.raster import read_raster
from ..sources.checks import check_mask
from ..tiles import TileRecord

__all__ = ["TILE_COLUMNS", "tile_statistics"]

TILE_COLUMNS = ("subdataset", "group", "name", "pixels", "landslide_pixels", "landslide_share")


def tile_statistics(records: Sequence[TileRecord], *, progress: bool = True) -> pd.DataFrame:
    """One row per tile: pixel count, landslide pixel count and landslide share (0–1).

    Raises:
        ValueError: A record has no mask.
        TileError: A mask is not one uint8 band or holds values other than 0 and 1 (the first problem found).
    """
    rows = []
    for record in tqdm(records, desc="reading masks", unit="tile", disable=not progress):
        if record.mask is None:
            raise ValueError(f"{record.image}: tile record has no mask; landslide shares need masks")
        mask = read_raster(record.mask)
        problems = check_mask(record.mask, mask, tile_size=None)
        if problems:
            raise problems[0]
        landslide = int(np.count_nonzero(mask))
        rows.append((record.subdataset, record.group, record.name, int(mask[0].size), landslide, landslide / mask[0].size))
    return pd.DataFrame(rows, columns=list(TILE_COLUMNS))
