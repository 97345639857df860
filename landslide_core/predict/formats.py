"""The files scene prediction writes, and the chunks large rasters are walked in.

A probability raster holds percent (0-100) in uint8, a quarter of float32's bytes and
as fine as a map reader needs; 255 marks pixels without valid data in both it and
the mask, so a GIS shows them as empty rather than as "no landslide".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rasterio.windows import Window

__all__ = [
    "MASK_NODATA", "PERCENT", "POLYGON_LAYER", "PROBABILITY_NODATA", "chunk_windows", "output_paths",
]

PROBABILITY_NODATA = 255
MASK_NODATA = 255
PERCENT = 100
POLYGON_LAYER = "landslides"


def chunk_windows(width: int, height: int, chunk: int) -> Iterator[Window]:
    """Row-major windows of at most ``chunk``×``chunk`` pixels covering a ``width``×``height`` raster."""
    for row in range(0, height, chunk):
        for col in range(0, width, chunk):
            yield Window(col, row, min(chunk, width - col), min(chunk, height - row))


def output_paths(scene: str | Path, out: str | Path) -> dict[str, Path]:
    """Where the outputs for ``scene`` go in folder ``out``: probability, mask, polygons, report, work folder.

    They are named by the scene's stem, so two scenes with one stem cannot share an output folder
    (:func:`landslide_core.predict.jobs.find_scenes` refuses them).
    """
    stem, out = Path(scene).stem, Path(out)
    return {"probability": out / f"{stem}.probability.tif", "mask": out / f"{stem}.mask.tif",
            "polygons": out / f"{stem}.landslides.gpkg", "report": out / f"{stem}.prediction.json",
            "work": out / f"{stem}.work"}
