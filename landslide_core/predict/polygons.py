"""Landslide polygons from a mask raster of any size, vectorized chunk by chunk and joined across chunk seams.

A scene's mask can be far larger than memory, so it is read one ``chunk``×``chunk`` window at a time
(:func:`~landslide_core.predict.formats.chunk_windows` order). Each chunk's 4-connected landslide pixels are
labelled and outlined with ``rasterio.features.shapes``; a landslide cut by a seam between chunks comes out of
each chunk as a separate piece. Pieces are joined exactly where the pixels on both sides of a seam are both
landslide (a union-find over the seams' pixel pairs), so pieces meeting only at a corner stay apart, as 4-connected
``shapes`` keeps them, and the joined outline is the one vectorizing the whole mask at once gives.

Chunks are outlined in pixel coordinates (each chunk's transform is its integer offset), so the pieces on both
sides of a seam share exactly the same vertices and their union leaves no sliver; the raster's transform is
applied to each finished polygon, in the order GDAL applies it. A landslide is finished once none of its pieces
lies on a seam still to be crossed; :func:`write_landslides` writes it out then, so memory holds a few chunks, one
row of seam labels and the landslides still open on a seam, whatever the raster's size or the number of
landslides. :func:`vectorize` gathers them all into one frame instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from math import ceil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from rasterio import features
from rasterio.crs import CRS
from rasterio.io import DatasetReader
from scipy import ndimage
from shapely.geometry import Polygon, shape
from tqdm import tqdm

from ..errors import ConfigError, PredictionError, UnreadableTileError
from ..io.atomic import atomic_path
from ..io.raster import open_raster
from .formats import PERCENT, POLYGON_LAYER, chunk_windows

__all__ = ["area_columns", "vectorize", "write_landslides", "write_polygons"]

_FOUR = ndimage.generate_binary_structure(2, 1)
"""4-connectivity, the same as ``rasterio.features.shapes`` uses by default."""
_STRIP = 128
"""Rows per strip when counting pixels per label (see :func:`_per_label`)."""
_REWRITE = "write it again with `landslide-core predict` on its scene"


def area_columns(crs: CRS | None) -> tuple[str, str]:
    """Names of the area and perimeter columns: metres for any CRS, pixels without one.

    Args:
        crs: The mask's CRS, or ``None`` when it has none.

    Returns:
        ``("area_m2", "perimeter_m")`` or ``("area_px", "perimeter_px")``.
    """
    return ("area_px", "perimeter_px") if crs is None else ("area_m2", "perimeter_m")


Landslide = tuple[int, int, float, Polygon]
"""``(first pixel, pixels, percent sum, pixel-space polygon)``."""


@dataclass
class _Pieces:
    """The pieces not yet given out (one 4-connected component of one chunk each) and which join across seams.

    Pieces are keyed by a running id. A landslide is finished once none of its pieces touches a seam that a chunk
    still to come lies beyond; :meth:`finished` gives it out and forgets it, so only pieces on open seams stay.
    """

    first: dict[int, int] = field(default_factory=dict)
    """Row-major index, in the whole raster, of the piece's first pixel: orders landslides by their top-left."""
    pixels: dict[int, int] = field(default_factory=dict)
    percent: dict[int, float] = field(default_factory=dict)
    geometry: dict[int, Polygon] = field(default_factory=dict)
    parent: dict[int, int] = field(default_factory=dict)
    next_id: int = 0

    def find(self, i: int) -> int:
        """The representative piece of ``i``'s landslide."""
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: np.ndarray, b: np.ndarray) -> None:
        """Join pieces ``a[k]`` and ``b[k]`` wherever both are pieces (ids ≥ 0): pixels facing across a seam."""
        both = (a >= 0) & (b >= 0)
        for i, j in np.unique(np.stack([a[both], b[both]], axis=1), axis=0):
            ri, rj = self.find(int(i)), self.find(int(j))
            if ri != rj:
                self.parent[max(ri, rj)] = min(ri, rj)

    def finished(self, open_ids: np.ndarray) -> list[Landslide]:
        """The landslides none of whose pieces is in ``open_ids`` (pieces on seams still to be crossed).

        By first pixel; their pieces are forgotten.
        """
        still_open = {self.find(int(i)) for i in np.unique(open_ids[open_ids >= 0])}
        groups: dict[int, list[int]] = {}
        for i in list(self.parent):
            root = self.find(i)
            if root not in still_open:
                groups.setdefault(root, []).append(i)
        done = []
        for members in groups.values():
            geometry = (self.geometry[members[0]] if len(members) == 1
                        else shapely.unary_union([self.geometry[i] for i in members]))
            done.append((min(self.first[i] for i in members), sum(self.pixels[i] for i in members),
                         sum(self.percent[i] for i in members), geometry))
        for members in groups.values():
            for i in members:
                for table in (self.first, self.pixels, self.percent, self.geometry, self.parent):
                    del table[i]
        return sorted(done, key=lambda landslide: landslide[0])


def _check_inputs(mask_path: Path, src: DatasetReader, probability_path: Path | None,
                  prob: DatasetReader | None) -> None:
    """Refuse a mask that is not one band of uint8, or a probability raster not on the mask's grid.

    Raises:
        PredictionError: Either raster has another band count or data type, or the probability raster's size,
            transform or CRS differ from the mask's.
    """
    for path, raster in ((mask_path, src), (probability_path, prob)):
        if raster is not None and (raster.count != 1 or raster.dtypes[0] != "uint8"):
            raise PredictionError(path, f"has {raster.count} band(s) of {raster.dtypes[0]}, not one band of uint8",
                                  f"pass the single-band uint8 raster that prediction writes; {_REWRITE}")
    if prob is not None and (prob.shape != src.shape or prob.transform != src.transform or prob.crs != src.crs):
        raise PredictionError(probability_path, f"is not on the grid of mask {mask_path} (size {prob.shape} vs "
                              f"{src.shape}, transform or CRS may differ)",
                              "pass the probability raster written together with this mask")


def _per_label(labels: np.ndarray, count: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Pixel count (or sum of ``weights``) of labels 1..``count``, a strip of rows at a time.

    ``np.bincount`` copies its input to 8-byte integers (and weights to float64): on a whole chunk that is twice
    the label raster; on strips of rows it is a small part of it.
    """
    total = np.zeros(count + 1)
    for top in range(0, labels.shape[0], _STRIP):
        rows = slice(top, top + _STRIP)
        total += np.bincount(labels[rows].ravel(), weights=None if weights is None else weights[rows].ravel(),
                             minlength=count + 1)
    return total[1:]


def _chunk_pieces(pieces: _Pieces, land: np.ndarray, labels: np.ndarray, count: int, percent: np.ndarray | None,
                  row_off: int, col_off: int, width: int) -> None:
    """Add one chunk's labelled components to ``pieces``: first pixel, pixel count, percent sum, outline."""
    pixels = _per_label(labels, count)
    sums = _per_label(labels, count, percent) if percent is not None else np.zeros(count)
    outlines: dict[int, Polygon] = {}
    for geom, value in features.shapes(labels, mask=land, connectivity=4,
                                       transform=Affine.translation(col_off, row_off)):
        outlines[int(value)] = shape(geom)
    offset = pieces.next_id
    for k, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        top = rows.start
        left = cols.start + int(np.argmax(labels[top, cols] == k))
        piece = offset + k - 1
        pieces.first[piece] = (row_off + top) * width + col_off + left
        pieces.pixels[piece] = int(pixels[k - 1])
        pieces.percent[piece] = float(sums[k - 1])
        pieces.geometry[piece] = outlines[k]
        pieces.parent[piece] = piece
    pieces.next_id += count


def _piece_ids(edge: np.ndarray, offset: int) -> np.ndarray:
    """Piece ids along one edge of a chunk whose first piece is ``offset``; -1 where no landslide."""
    return np.where(edge > 0, edge.astype(np.int64) + offset - 1, -1)


@contextmanager
def _opened(mask_path: Path, probability_path: Path | None) -> Iterator[tuple[DatasetReader, DatasetReader | None]]:
    """The mask and its probability raster, open and checked.

    Raises:
        PredictionError: A raster is missing or unreadable, or see :func:`_check_inputs`.
    """
    for path in (mask_path, probability_path):
        if path is not None and not path.is_file():
            raise PredictionError(path, "does not exist", f"check the path, or {_REWRITE}")
    try:
        with ExitStack() as stack:
            src = stack.enter_context(open_raster(mask_path))
            prob = stack.enter_context(open_raster(probability_path)) if probability_path is not None else None
            _check_inputs(mask_path, src, probability_path, prob)
            yield src, prob
    except UnreadableTileError as exc:
        raise PredictionError(exc.path, exc.problem, _REWRITE) from exc


def _batches(src: DatasetReader, prob: DatasetReader | None, chunk: int, progress: bool) -> Iterator[list[Landslide]]:
    """Walk the mask chunk by chunk, joining pieces across seams; after each chunk, the landslides it finished.

    Raises:
        PredictionError: The probability raster holds more than 100 % (e.g. its nodata) under a landslide pixel.
    """
    pieces = _Pieces()
    width, height = src.width, src.height
    below = np.full(width, -1, dtype=np.int64)  # piece ids along the bottom row of the chunk row above
    right = np.full(0, -1, dtype=np.int64)  # piece ids along the right column of the chunk to the left
    total = ceil(width / chunk) * ceil(height / chunk)
    for window in tqdm(chunk_windows(width, height, chunk), total=total, desc="vectorizing", unit="chunk",
                       disable=not progress):
        row_off, col_off, w, h = int(window.row_off), int(window.col_off), int(window.width), int(window.height)
        land = src.read(1, window=window) == 1
        labels, count = ndimage.label(land, structure=_FOUR)
        percent = None
        if prob is not None:
            percent = np.where(land, prob.read(1, window=window), 0)
            if percent.max(initial=0) > PERCENT:
                raise PredictionError(prob.name, f"holds values above {PERCENT} % (or its nodata) under "
                                      f"landslide pixels of {src.name}",
                                      "pass the probability raster written together with this mask")
        offset = pieces.next_id
        _chunk_pieces(pieces, land, labels, count, percent, row_off, col_off, width)
        if row_off > 0:
            pieces.join(below[col_off:col_off + w], _piece_ids(labels[0], offset))
        if col_off > 0:
            pieces.join(right, _piece_ids(labels[:, 0], offset))
        below[col_off:col_off + w] = _piece_ids(labels[-1], offset)
        right = _piece_ids(labels[:, -1], offset)
        # seams still to be crossed: the row above's bottom beyond this chunk, this row's bottom unless it is the
        # last row, and this chunk's right edge unless it ends the row
        open_ids = [below[col_off + w:]]
        if row_off + h < height:
            open_ids.append(below[:col_off + w])
        if col_off + w < width:
            open_ids.append(right)
        yield pieces.finished(np.concatenate(open_ids))


def _to_raster_space(geometry: np.ndarray, transform: Affine) -> np.ndarray:
    """Pixel-space polygons in the raster's coordinates, computed as GDAL does (``c + a·col + b·row``)."""
    t = transform

    def apply(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([t.c + xy[:, 0] * t.a + xy[:, 1] * t.b, t.f + xy[:, 0] * t.d + xy[:, 1] * t.e])

    return shapely.transform(geometry, apply)


def _metric_crs(src: DatasetReader) -> CRS | None:
    """The UTM zone of a geographic raster's centre, where its polygons are measured; None for other rasters."""
    if src.crs is None or not src.crs.is_geographic:
        return None
    return gpd.GeoSeries([shapely.box(*src.bounds)], crs=src.crs).estimate_utm_crs()


def _measure(pixel_space: np.ndarray, world: np.ndarray, crs: CRS | None,
             metric: CRS | None) -> tuple[np.ndarray, np.ndarray]:
    """Areas and perimeters in the units :func:`area_columns` names.

    No CRS: in pixels, from the pixel-space outlines. A projected CRS: in its linear unit, converted to metres.
    A geographic CRS: in metres after reprojecting to ``metric``, the UTM zone of the raster's centre.
    """
    if crs is None:
        return shapely.area(pixel_space), shapely.length(pixel_space)
    if metric is not None:
        series = gpd.GeoSeries(world, crs=crs).to_crs(metric)
        return series.area.to_numpy(), series.length.to_numpy()
    metres = crs.linear_units_factor[1]
    return shapely.area(world) * metres**2, shapely.length(world) * metres


def _frame(found: list[Landslide], src: DatasetReader, metric: CRS | None, with_probability: bool,
           min_area: float) -> gpd.GeoDataFrame:
    """Landslides as rows (``first_pixel`` kept for ordering; no ids yet), those under ``min_area`` dropped."""
    pixels = np.array([landslide[1] for landslide in found], dtype=np.int64)
    percent = np.array([landslide[2] for landslide in found], dtype=np.float64)
    pixel_space = np.array([landslide[3] for landslide in found], dtype=object)
    world = _to_raster_space(pixel_space, src.transform)
    area, perimeter = _measure(pixel_space, world, src.crs, metric)
    keep = area >= min_area
    area_name, perimeter_name = area_columns(src.crs)
    columns: dict[str, np.ndarray] = {
        "first_pixel": np.array([landslide[0] for landslide in found], dtype=np.int64)[keep],
        "pixels": pixels[keep], area_name: area[keep].astype(np.float64),
        perimeter_name: perimeter[keep].astype(np.float64),
    }
    if with_probability:
        columns["mean_probability"] = percent[keep] / pixels[keep] / PERCENT
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries(world[keep], crs=src.crs), crs=src.crs)


def _numbered(frame: gpd.GeoDataFrame, first_id: int) -> gpd.GeoDataFrame:
    """The frame with ``landslide_id`` from ``first_id`` in its order, as the first column, ``first_pixel`` dropped."""
    frame = frame.drop(columns="first_pixel")
    frame.insert(0, "landslide_id", np.arange(first_id, first_id + len(frame), dtype=np.int64))
    return frame


def _warn_pixels(src: DatasetReader, mask_path: Path) -> None:
    if src.crs is None:
        warnings.warn(f"{mask_path} has no CRS: polygons, areas and perimeters are in pixels", UserWarning,
                      stacklevel=3)


def vectorize(mask_path: str | Path, probability_path: str | Path | None = None, *, min_area: float = 0.0,
              chunk: int = 2048, progress: bool = True) -> gpd.GeoDataFrame:
    """Polygons of a landslide mask (1 landslide, 0 background, 255 nodata), read window by window, in memory.

    The pixels are read a chunk at a time, but every polygon is held until the end (a few KiB each): for masks
    with very many landslides, :func:`write_landslides` streams them to a file instead.

    Args:
        mask_path: Single-band uint8 GeoTIFF, as ``NAME.mask.tif``.
        probability_path: Its probability raster in percent (``NAME.probability.tif``) for ``mean_probability``.
        min_area: Landslides whose whole area (after joining across seams) is smaller are dropped; in the unit of
            the area column (m², or pixels without a CRS).
        chunk: Side of the windows read at once, in pixels; memory grows with its square, not with the raster.
        progress: Show a progress bar over the chunks.

    Returns:
        One row per 4-connected landslide, in the raster's CRS: ``landslide_id`` (1..n, ordered by each
        landslide's first pixel in row-major order), ``pixels``, area and perimeter (columns named by
        :func:`area_columns`), ``mean_probability`` (0-1; only with a probability raster) and ``geometry``.

    Raises:
        ConfigError: ``chunk`` is below 1.
        PredictionError: A raster is missing, unreadable or not single-band uint8; the probability raster is
            not on the mask's grid or holds more than 100 % under a landslide pixel.
    """
    if chunk < 1:
        raise ConfigError(f"chunk {chunk} must be at least 1 pixel; the default is 2048")
    mask_path = Path(mask_path)
    probability_path = Path(probability_path) if probability_path is not None else None
    with _opened(mask_path, probability_path) as (src, prob):
        metric = _metric_crs(src)
        frames = [_frame(found, src, metric, prob is not None, min_area)
                  for found in _batches(src, prob, chunk, progress)]
        if not frames:
            frames = [_frame([], src, metric, prob is not None, min_area)]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        _warn_pixels(src, mask_path)
    return _numbered(frame.sort_values("first_pixel", kind="stable").reset_index(drop=True), 1)


def write_landslides(mask_path: str | Path, path: str | Path, probability_path: str | Path | None = None, *,
                     min_area: float = 0.0, chunk: int = 2048, progress: bool = True) -> int:
    """Vectorize a mask of any size straight into a GeoPackage (layer ``landslides``); return the polygon count.

    The same polygons and columns as :func:`vectorize`, but each landslide is written as soon as the chunk that
    finishes it is read, so memory holds only the landslides still open on a seam, whatever the mask's size or
    the number of landslides. ``landslide_id`` counts in that order: by the chunk in which a landslide was
    finished, then by its first pixel. The file appears complete or not at all.

    Raises:
        ConfigError: ``chunk`` is below 1.
        PredictionError: As :func:`vectorize`.
    """
    if chunk < 1:
        raise ConfigError(f"chunk {chunk} must be at least 1 pixel; the default is 2048")
    mask_path = Path(mask_path)
    probability_path = Path(probability_path) if probability_path is not None else None
    written = 0
    with _opened(mask_path, probability_path) as (src, prob), atomic_path(Path(path), suffix=".tmp.gpkg") as tmp:
        metric = _metric_crs(src)
        for found in _batches(src, prob, chunk, progress):
            frame = _frame(found, src, metric, prob is not None, min_area)
            if len(frame) or not written:
                _numbered(frame, written + 1).to_file(tmp, layer=POLYGON_LAYER, driver="GPKG",
                                                      geometry_type="Polygon", append=written > 0)
            written += len(frame)
        if not tmp.exists():
            _numbered(_frame([], src, metric, prob is not None, min_area), 1).to_file(
                tmp, layer=POLYGON_LAYER, driver="GPKG", geometry_type="Polygon")
        _warn_pixels(src, mask_path)
    return written


def write_polygons(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write landslide polygons as a GeoPackage (layer ``landslides``), complete or absent.

    An empty frame still gives a valid layer with the columns and the CRS, so "no landslide found" reads back
    as such rather than as a missing file.

    Args:
        frame: What :func:`vectorize` returns.
        path: The ``.gpkg`` file to write; an earlier file there is replaced.

    Returns:
        ``path``.
    """
    path = Path(path)
    with atomic_path(path, suffix=".tmp.gpkg") as tmp:
        frame.to_file(tmp, layer=POLYGON_LAYER, driver="GPKG", geometry_type="Polygon")
    return path
