"""Judging a predicted landslide map against a reference inventory, pixel by pixel and landslide by landslide.

Pixel scores are the six of the paper's tables (:mod:`landslide_core.scoring.metrics`) from one confusion matrix accumulated
over the whole scene, read chunk by chunk, so memory is bounded by the chunk size and not the raster's. Pixels
without valid data in the mask (``MASK_NODATA``) or in a raster reference (its nodata value) are not counted.

Inventories are usually judged per landslide too: how many mapped landslides were found, how many were missed and
how many predicted polygons match none. Two rules are common in the literature and give different numbers on the
same maps, so each result carries its rule's sentence (:func:`describe`) for the page that prints it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from affine import Affine
from pyogrio.errors import DataLayerError, DataSourceError
from rasterio import features, windows
from rasterio.crs import CRS
from rasterio.io import DatasetReader
from rasterio.windows import Window
from tqdm import tqdm

from ..errors import ConfigError, PredictionError, UnreadableTileError
from ..io.raster import open_raster
from ..scoring.metrics import Scores, scores_from_counts
from .formats import MASK_NODATA, chunk_windows

__all__ = [
    "OBJECT_COLUMNS", "RASTER_SUFFIXES", "RULES", "ObjectScores", "ReferenceReader", "describe", "object_scores",
    "object_table", "pixel_scores", "read_polygons", "reference_mask_reader",
]

RASTER_SUFFIXES = (".tif", ".tiff")
"""References with these endings are read as rasters on the mask's grid; anything else as a vector inventory."""
RULES = ("iou", "centroid")
"""The object-matching rules of :func:`object_scores`."""
OBJECT_COLUMNS = ("rule", "detected", "missed", "false", "precision", "recall", "f1", "description")
"""Columns of :func:`object_table`."""
_POLYGONAL = {"Polygon", "MultiPolygon"}

ReferenceReader = Callable[[Window], np.ndarray]
"""``read(window) -> (h, w) uint8``: 1 landslide, 0 not, ``MASK_NODATA`` where the reference has no data."""


@contextmanager
def _open(path: Path, what: str) -> Iterator[DatasetReader]:
    """Open a raster for reading.

    Raises:
        PredictionError: The file is missing or GDAL cannot read it.
    """
    if not path.is_file():
        raise PredictionError(path, f"the {what} does not exist", "check the path")
    try:
        with open_raster(path) as src:
            yield src
    except UnreadableTileError as error:
        raise PredictionError(path, f"the {what} cannot be read: {error.problem}",
                              f"check that it is a complete GeoTIFF (gdalinfo '{path}')") from error


def read_polygons(path: str | Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file (GeoPackage, Shapefile, GeoJSON, …) through geopandas.

    Args:
        path: The file.
        layer: The layer to read; may be left out when the file holds one layer.

    Returns:
        The layer's features, in the file's CRS (``None`` when it has none).

    Raises:
        PredictionError: The file does not exist or cannot be read, holds several layers and none was named, or
            has no layer of that name.
    """
    path = Path(path)
    if not path.exists():
        raise PredictionError(path, "does not exist", "check the path")
    fix = "pass a GeoPackage, Shapefile or GeoJSON that geopandas reads"
    try:
        names = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
        if layer is None and len(names) > 1:
            raise PredictionError(path, f"holds {len(names)} layers ({', '.join(names)}) and none was named",
                                  "name the layer to read (layer=NAME)")
        if layer is not None and layer not in names:
            raise PredictionError(path, f"has no layer {layer!r} (it has {', '.join(names) or 'none'})",
                                  "name one of its layers")
        return gpd.read_file(path, layer=layer)
    except (DataSourceError, DataLayerError) as error:
        raise PredictionError(path, f"cannot be read as a vector file ({error})", fix) from error


def _aligned(frame: gpd.GeoDataFrame, path: str | Path, crs: CRS | None, target: str) -> gpd.GeoDataFrame:
    """``frame`` in ``crs``: reprojected where it differs; without a CRS only against a target without one.

    Raises:
        PredictionError: One of the two has a CRS and the other not.
    """
    if frame.crs is None and crs is not None:
        raise PredictionError(path, f"has no CRS, so its polygons cannot be placed on the {target} (CRS {crs})",
                              f"assign one, e.g. ogr2ogr -a_srs EPSG:xxxx fixed.gpkg '{path}'")
    if frame.crs is not None and crs is None:
        raise PredictionError(path, f"is in CRS {frame.crs} but the {target} has none (it is in pixel coordinates)",
                              "predict from a georeferenced scene, or give polygons in the same pixel coordinates "
                              "without a CRS")
    return frame if crs is None or frame.crs == crs else frame.to_crs(crs)


def _polygons(frame: gpd.GeoDataFrame, path: str | Path) -> gpd.GeoSeries:
    """The frame's polygons (index kept as ids), empty ones dropped and invalid ones repaired (``make_valid``).

    Raises:
        PredictionError: The frame holds geometries other than polygons (points or lines of an inventory).
    """
    geometry = frame.geometry[frame.geometry.notna() & ~frame.geometry.is_empty]
    other = sorted(set(geometry.geom_type) - _POLYGONAL)
    if other:
        raise PredictionError(path, f"holds {', '.join(other)} geometries; landslides are compared as polygons",
                              "pass a polygon inventory (buffer points or lines first if that is all there is)")
    invalid = ~geometry.is_valid
    if invalid.any():
        geometry = geometry.copy()
        geometry[invalid] = shapely.make_valid(geometry[invalid].values)
    return geometry


@dataclass(frozen=True)
class _Grid:
    """The pixel grid of the predicted mask."""

    width: int
    height: int
    transform: Affine
    crs: CRS | None


def _window_outline(window: Window, transform: Affine) -> shapely.Polygon:
    """The window's four corners in map coordinates (right for a rotated grid too)."""
    corner = windows.transform(window, transform)
    return shapely.Polygon([corner @ xy for xy in ((0, 0), (window.width, 0), (window.width, window.height),
                                                  (0, window.height))])


def _vector_reader(path: Path, layer: str | None, grid: _Grid) -> ReferenceReader:
    polygons = _polygons(_aligned(read_polygons(path, layer), path, grid.crs, "mask"), path).reset_index(drop=True)

    def read(window: Window) -> np.ndarray:
        # Only polygons whose bounds meet the window are burnt, so no chunk rasterizes the whole inventory.
        hits = polygons.sindex.query(_window_outline(window, grid.transform))
        shape = (int(window.height), int(window.width))
        if len(hits) == 0:
            return np.zeros(shape, np.uint8)
        return features.rasterize(((geometry, 1) for geometry in polygons.iloc[np.sort(hits)]), out_shape=shape,
                                  transform=windows.transform(window, grid.transform), fill=0, dtype="uint8")

    return read


def _check_grid(path: Path, src: DatasetReader, grid: _Grid, like: Path) -> None:
    same = (src.crs == grid.crs and (src.width, src.height) == (grid.width, grid.height)
            and src.transform.almost_equals(grid.transform))
    if same:
        return
    left, top = grid.transform @ (0, 0)
    right, bottom = grid.transform @ (grid.width, grid.height)
    srs = f"-t_srs {grid.crs} " if grid.crs is not None else ""
    raise PredictionError(
        path, f"is on another grid than the mask '{like.name}' (CRS {src.crs} vs {grid.crs}, "
              f"{src.width}×{src.height} vs {grid.width}×{grid.height} px, transform {tuple(src.transform)[:6]} vs "
              f"{tuple(grid.transform)[:6]})",
        f"resample it onto the mask's grid: gdalwarp {srs}-te {min(left, right)} {min(top, bottom)} "
        f"{max(left, right)} {max(top, bottom)} -tr {abs(grid.transform.a)} {abs(grid.transform.e)} -r near "
        f"'{path}' reference-on-mask-grid.tif, or pass a vector inventory")


def _raster_reader(src: DatasetReader) -> ReferenceReader:
    nodata = src.nodata

    def read(window: Window) -> np.ndarray:
        values = src.read(1, window=window)
        out = (values == 1).astype(np.uint8)
        if nodata is not None:
            out[np.isnan(values) if math.isnan(nodata) else values == nodata] = MASK_NODATA
        return out

    return read


@contextmanager
def reference_mask_reader(reference: str | Path, like: str | Path, *, layer: str | None = None
                          ) -> Iterator[ReferenceReader]:
    """A reference inventory on the grid of the mask ``like``, read one window at a time.

    A raster (``.tif``/``.tiff``) must be on the mask's grid (size, transform and CRS): 1 is landslide, any other
    value not, and its nodata value reads as ``MASK_NODATA``. Any other file is a vector inventory whose polygons,
    reprojected to the mask's CRS where it differs, are rasterized per window: a pixel is landslide when its centre
    lies inside a polygon (GDAL's rule, as in tiling). A mask without CRS is in pixel coordinates, and so must be
    the polygons.

    Args:
        reference: The inventory.
        like: The predicted mask whose grid the reference is read on.
        layer: The vector layer to read; may be left out when the file holds one.

    Yields:
        ``read(window) -> (h, w) uint8`` of 1 (landslide), 0 and ``MASK_NODATA`` (no reference data).

    Raises:
        PredictionError: A file is missing or unreadable, the raster is on another grid, or the vector has no CRS
            while the mask has one (or the other way round).
    """
    reference, like = Path(reference), Path(like)
    with _open(like, "mask") as mask:
        grid = _Grid(mask.width, mask.height, mask.transform, mask.crs)
    if reference.suffix.lower() not in RASTER_SUFFIXES:
        yield _vector_reader(reference, layer, grid)
        return
    with _open(reference, "reference raster") as src:
        _check_grid(reference, src, grid, like)
        yield _raster_reader(src)


def pixel_scores(mask_path: str | Path, reference: str | Path, *, layer: str | None = None, chunk: int = 2048,
                 progress: bool = True) -> tuple[Scores, dict[str, int]]:
    """The paper's scores of a predicted mask against a reference, over the whole scene, chunk by chunk.

    Args:
        mask_path: A predicted mask (``NAME.mask.tif``: 1 landslide, 0 background, ``MASK_NODATA`` no data).
        reference: A raster on the mask's grid or a vector inventory (see :func:`reference_mask_reader`).
        layer: The vector layer to read; may be left out when the file holds one.
        chunk: Side of the square windows read at a time; memory is bounded by a few of them (and a vector
            inventory's polygons), whatever the raster's size.
        progress: Show a progress bar over the chunks.

    Returns:
        The scores, and the counts: ``tp``, ``fp``, ``fn``, ``tn``, ``pixels`` (all of the scene),
        ``nodata_mask`` (not counted: no data in the mask) and ``nodata_reference`` (not counted: data in the mask
        but none in the reference).

    Raises:
        ConfigError: ``chunk`` is below 1.
        PredictionError: A file is missing or unreadable, the reference does not fit the mask's grid or CRS, or the
            mask holds values other than 0, 1 and ``MASK_NODATA``.
    """
    if chunk < 1:
        raise ConfigError(f"chunk must be at least 1 pixel, got {chunk}")
    mask_path = Path(mask_path)
    counts = np.zeros(4, np.int64)  # TP, FP, FN, TN
    nodata_mask = nodata_reference = 0
    with reference_mask_reader(reference, mask_path, layer=layer) as read_reference, _open(mask_path, "mask") as src:
        for window in tqdm(list(chunk_windows(src.width, src.height, chunk)), desc="scoring pixels", unit="chunk",
                           disable=not progress):
            predicted = src.read(1, window=window)
            wrong = (predicted != 0) & (predicted != 1) & (predicted != MASK_NODATA)
            if wrong.any():
                raise PredictionError(mask_path, f"holds values other than 0, 1 and {MASK_NODATA} (e.g. "
                                                 f"{predicted[wrong][0]})",
                                      "pass the NAME.mask.tif written by landslide-core predict, not the "
                                      "probability raster")
            truth = read_reference(window)
            no_mask, no_reference = predicted == MASK_NODATA, truth == MASK_NODATA
            nodata_mask += int(no_mask.sum())
            nodata_reference += int((no_reference & ~no_mask).sum())
            valid = ~(no_mask | no_reference)
            claimed, true = valid & (predicted == 1), valid & (truth == 1)
            hits = np.count_nonzero(claimed & true)
            counts += (hits, np.count_nonzero(claimed) - hits, np.count_nonzero(true) - hits,
                       np.count_nonzero(valid) - np.count_nonzero(claimed | true))
        pixels = src.width * src.height
    tp, fp, fn, tn = (int(c) for c in counts)
    return scores_from_counts(tp, fp, fn, tn), {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "pixels": pixels,
                                                "nodata_mask": nodata_mask, "nodata_reference": nodata_reference}


def describe(rule: str, iou_threshold: float = 0.5) -> str:
    """The matching rule in one sentence, for the page that prints its numbers.

    Raises:
        ConfigError: The rule is not one of :data:`RULES`.
    """
    if rule == "iou":
        return (f"A reference landslide is detected when a predicted polygon overlaps it with an intersection over "
                f"union of at least {iou_threshold:g}; pairs are matched one to one, highest IoU first, so each "
                "polygon counts once; reference landslides left unmatched are missed and predicted polygons left "
                "unmatched are false.")
    if rule == "centroid":
        return ("A reference landslide is detected when a predicted polygon contains a point inside it (its "
                "representative point) or the predicted polygon's own representative point lies inside it; pairs "
                "are matched one to one, largest shared area first, so a predicted polygon covering several "
                "landslides detects one of them and the others are missed; predicted polygons left unmatched are "
                "false.")
    raise ConfigError(f"unknown object-matching rule {rule!r}; use one of {', '.join(RULES)}")


@dataclass(frozen=True)
class ObjectScores:
    """Landslides found, missed and falsely claimed under one matching rule.

    Attributes:
        rule: The rule's name (one of :data:`RULES`).
        description: The rule in one sentence (:func:`describe`).
        detected: Reference landslides matched to a predicted polygon.
        missed: Reference landslides left unmatched.
        false: Predicted polygons left unmatched.
        precision: detected / (detected + false).
        recall: detected / (detected + missed).
        f1: 2 · precision · recall / (precision + recall).
        matches: One row per matched pair: ``predicted`` and ``reference`` (the frames' index labels) and their
            ``iou``, in matching order.
    """

    rule: str
    description: str
    detected: int
    missed: int
    false: int
    precision: float
    recall: float
    f1: float
    matches: pd.DataFrame


def _greedy(pairs: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Pairs taken one to one, highest ``key`` first (ties by predicted, then reference position)."""
    used_predicted: set[int] = set()
    used_reference: set[int] = set()
    taken = []
    for k in np.lexsort((pairs[1], pairs[0], -key)):
        p, r = int(pairs[0, k]), int(pairs[1, k])
        if p not in used_predicted and r not in used_reference:
            used_predicted.add(p)
            used_reference.add(r)
            taken.append(k)
    return np.asarray(taken, dtype=np.int64)


def _frame(frame: gpd.GeoDataFrame | str | Path, layer: str | None, name: str) -> tuple[gpd.GeoDataFrame, str | Path]:
    if isinstance(frame, gpd.GeoDataFrame):
        return frame, name
    return read_polygons(frame, layer), frame


def object_scores(predicted: gpd.GeoDataFrame | str | Path, reference: gpd.GeoDataFrame | str | Path, *,
                  rule: str = "iou", iou_threshold: float = 0.5, predicted_layer: str | None = None,
                  reference_layer: str | None = None) -> ObjectScores:
    """Landslide-by-landslide scores of predicted polygons against a reference inventory.

    Polygons are compared in the predicted frame's CRS (the reference reprojected where it differs); candidate
    pairs come from a spatial index, never from all pairs. Zero denominators follow the pixel scores' convention:
    1.0 when there is nothing to find and nothing was claimed, else 0.0.

    Args:
        predicted: Predicted polygons (a frame, or a vector file such as ``NAME.landslides.gpkg``).
        reference: Reference landslides (a frame or a vector file).
        rule: ``iou`` or ``centroid``, as :func:`describe` states them.
        iou_threshold: The least IoU of a matched pair under the ``iou`` rule, in (0, 1].
        predicted_layer: Layer of a predicted file holding several.
        reference_layer: Layer of a reference file holding several.

    Returns:
        The counts, precision, recall, F1 and matched pairs.

    Raises:
        ConfigError: An unknown rule, or a threshold outside (0, 1].
        PredictionError: A file is missing or unreadable, a frame holds non-polygon geometries, or one has a CRS
            and the other not.
    """
    description = describe(rule, iou_threshold)
    if not 0 < iou_threshold <= 1:
        raise ConfigError(f"iou_threshold must lie in (0, 1], got {iou_threshold}")
    predicted, predicted_name = _frame(predicted, predicted_layer, "predicted polygons")
    reference, reference_name = _frame(reference, reference_layer, "reference polygons")
    reference = _aligned(reference, reference_name, predicted.crs, "predicted polygons")
    ours, theirs = _polygons(predicted, predicted_name), _polygons(reference, reference_name)
    p, r = ours.values, theirs.values
    if rule == "iou":
        pairs = shapely.STRtree(r).query(p, predicate="intersects")
    else:
        # [reference point within predicted] and [predicted point within reference], as (predicted, reference).
        inside_predicted = shapely.STRtree(p).query(shapely.point_on_surface(r), predicate="within")[::-1]
        inside_reference = shapely.STRtree(r).query(shapely.point_on_surface(p), predicate="within")
        pairs = np.unique(np.concatenate([inside_predicted, inside_reference], axis=1), axis=1)
    shared = shapely.area(shapely.intersection(p[pairs[0]], r[pairs[1]]))
    iou = shared / (shapely.area(p[pairs[0]]) + shapely.area(r[pairs[1]]) - shared)
    if rule == "iou":
        keep = (shared > 0) & (iou >= iou_threshold)
        pairs, shared, iou = pairs[:, keep], shared[keep], iou[keep]
    taken = _greedy(pairs, iou if rule == "iou" else shared)
    matches = pd.DataFrame({"predicted": ours.index[pairs[0, taken]], "reference": theirs.index[pairs[1, taken]],
                            "iou": iou[taken]})
    detected = len(taken)
    missed, false = len(r) - detected, len(p) - detected
    scores = scores_from_counts(detected, false, missed, 0)
    return ObjectScores(rule=rule, description=description, detected=detected, missed=missed, false=false,
                        precision=scores.precision, recall=scores.recall, f1=scores.f1_landslide, matches=matches)


def object_table(scores: ObjectScores | Iterable[ObjectScores]) -> pd.DataFrame:
    """One row per rule: counts, precision, recall and F1 (fractions), and the rule's sentence.

    Args:
        scores: One result or several (e.g. the same maps under each rule).

    Returns:
        A frame with :data:`OBJECT_COLUMNS`.
    """
    rows = [scores] if isinstance(scores, ObjectScores) else list(scores)
    return pd.DataFrame([{column: getattr(row, column) for column in OBJECT_COLUMNS} for row in rows],
                        columns=list(OBJECT_COLUMNS))
