"""Cutting a georeferenced scene into tiles in the CAS layout, keeping the georeferencing, with a tile index.

The CAS production code cut each scene into 512×512 tiles with a stride of 256
(neighbours overlap by half), shifted the last row and column flush with the
scene edge, numbered the tiles with one counter and dropped the georeferencing,
so no published tile can be traced back to its place. :func:`tile_scene` cuts
the same way but every tile keeps the scene's CRS, its own window transform and
the scene's nodata value, and a GeoPackage index (``tiles.gpkg``) records each
tile's footprint and pixel position, which the leakage audit and quality control
need.

The scene is read one window at a time (and vector labels are rasterized one
window at a time), so memory stays bounded by a few tiles, GDAL's block cache
and the label inventory, whatever the scene's size.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from pyogrio.errors import DataLayerError, DataSourceError
from rasterio import features, windows
from rasterio.crs import CRS
from rasterio.io import DatasetReader
from rasterio.windows import Window
from shapely.geometry import Polygon
from tqdm import tqdm

from ..errors import ConfigError, SceneError, UnreadableTileError
from ..io.atomic import atomic_path
from ..io.raster import open_raster, write_raster
from ..sources.cas.demo import label_rendering

__all__ = [
    "EDGE_MODES", "INDEX_COLUMNS", "INDEX_LAYER", "INDEX_NAME", "RASTER_LABEL_SUFFIXES", "Scorer", "TilingOptions",
    "TilingResult", "tile_scene", "tile_windows",
]

EDGE_MODES = ("shift", "pad")
INDEX_NAME = "tiles.gpkg"
INDEX_LAYER = "tiles"
INDEX_COLUMNS = ("name", "scene", "row", "col", "x_off", "y_off", "width", "height", "has_mask", "padded",
                 "valid_fraction", "size", "stride", "edge", "fill")
"""Columns of every index row; a scorer's columns follow them. ``size``, ``stride``, ``edge`` and ``fill`` are the
options the tile was cut with, so a rerun with other options is recognised."""
RASTER_LABEL_SUFFIXES = (".tif", ".tiff")
"""Label files with these endings are read as rasters; anything else as a vector inventory."""

Scorer = Callable[[np.ndarray, np.ndarray | None, np.ndarray | None], Mapping[str, float]]
"""``scorer(image (3, H, W) uint8, mask (H, W) uint8 0/1 or None, valid (H, W) bool or None) -> {column: value}``."""


@dataclass(frozen=True)
class TilingOptions:
    """How a scene is cut.

    Attributes:
        size: Side of the square tiles in pixels.
        stride: Distance between neighbouring tile origins; at most ``size``, so every scene pixel lands in a tile.
        edge: ``shift``: the last row and column of tiles are moved back flush with the scene edge (as the
            production code; a scene smaller than one tile cannot be cut). ``pad``: tiles keep the stride and
            those reaching past the edge are padded with ``fill``.
        fill: Value of padded pixels; ``None`` takes the scene's nodata value, else 0.
    """

    size: int = 512
    stride: int = 256
    edge: str = "shift"
    fill: int | None = None

    def __post_init__(self) -> None:
        """Reject options that cannot cut a scene.

        Raises:
            ConfigError: A size or stride below 1, a stride above the size, an unknown edge mode, or a fill
                value that uint8 pixels cannot hold.
        """
        if self.size < 1 or self.stride < 1:
            raise ConfigError(f"tile size ({self.size}) and stride ({self.stride}) must be at least 1 pixel")
        if self.stride > self.size:
            raise ConfigError(f"stride {self.stride} is larger than the tile size {self.size}, so pixels between "
                              "tiles would land in none; use a stride of at most the size")
        if self.edge not in EDGE_MODES:
            raise ConfigError(f"unknown edge mode {self.edge!r}; use one of {', '.join(EDGE_MODES)}")
        if self.fill is not None and not 0 <= self.fill <= 255:
            raise ConfigError(f"fill value {self.fill} does not fit in uint8; use 0 to 255")


@dataclass(frozen=True)
class TilingResult:
    """What :func:`tile_scene` did.

    Attributes:
        folder: The sub-dataset folder the tiles went to.
        index: The tile index GeoPackage.
        tiles: Tiles in the index after this run (of every scene cut into the folder).
        written: Tiles whose files this run wrote (0 when all were there already).
        seconds: Wall time of the run.
    """

    folder: Path
    index: Path
    tiles: int
    written: int
    seconds: float


def _starts(length: int, options: TilingOptions) -> list[int]:
    """Tile origins along one axis of ``length`` pixels (see :func:`tile_windows`).

    Raises:
        ConfigError: ``shift`` and a side smaller than one tile.
    """
    size, stride = options.size, options.stride
    if options.edge == "pad":
        # As few tiles as reach the edge: the k-th origin is k·stride, and the last one is the first whose
        # tile ends at or beyond the edge. Each origin lies inside the scene since stride <= size.
        count = 1 + max(0, -(-(length - size) // stride))
        return [k * stride for k in range(count)]
    if length < size:
        raise ConfigError(f"a scene side of {length} px is smaller than one {size}-px tile; use edge 'pad'")
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] + size < length:
        starts.append(length - size)
    return starts


def tile_windows(width: int, height: int, options: TilingOptions) -> list[tuple[int, int, Window]]:
    """Every tile's ``(row, col, window)`` for a ``width``×``height`` scene, in row-major order.

    ``row`` and ``col`` index the tile grid. Along each axis the origins are 0, stride, 2·stride, …:

    - ``shift``: while the tile fits in the scene; if the last one ends before the edge, one more tile flush
      with the edge is added (a 1000-px side with size 512 and stride 256 gives 0, 256, 488).
    - ``pad``: up to the first tile that reaches the edge (1000 px gives 0, 256, 512, the last padded). Every
      scene pixel lands in at least one tile and every tile holds at least one scene pixel.

    A side that is a multiple of the stride (and at least the size) gives the same origins in both modes.

    Raises:
        ConfigError: ``shift`` and a side smaller than one tile.
    """
    rows, cols = _starts(height, options), _starts(width, options)
    return [(r, c, Window(x, y, options.size, options.size)) for r, y in enumerate(rows) for c, x in enumerate(cols)]


@contextlib.contextmanager
def _open_scene(path: Path) -> Iterator[DatasetReader]:
    """Open a scene or label raster.

    Raises:
        SceneError: The file does not exist or GDAL cannot read it.
    """
    if not path.is_file():
        raise SceneError(path, "does not exist", "check the path")
    try:
        with open_raster(path) as src:
            yield src
    except UnreadableTileError as error:
        raise SceneError(path, error.problem, f"check that it is a complete GeoTIFF (gdalinfo '{path}')") from error


def _check_scene(path: Path, src: DatasetReader, options: TilingOptions) -> None:
    if src.crs is None:
        raise SceneError(path, "has no CRS, so its tiles could not be placed on the map",
                         f"assign one with gdal_edit.py -a_srs EPSG:xxxx '{path}'")
    if src.count < 3 or any(dtype != "uint8" for dtype in src.dtypes[:3]):
        raise SceneError(path, f"has {src.count} band(s) of type {', '.join(sorted(set(src.dtypes)))}; tiles need "
                               "at least 3 uint8 bands (RGB)",
                         f"convert it, e.g. gdal_translate -ot Byte -scale -b 1 -b 2 -b 3 '{path}' rgb.tif")
    if options.edge == "shift" and min(src.width, src.height) < options.size:
        raise SceneError(path, f"is {src.width}×{src.height} px, smaller than one {options.size}-px tile",
                         "use --edge pad (tiles reaching past the edge are padded with the fill value)")


def _footprint(window: Window, transform: Affine) -> Polygon:
    """The tile's outline in scene coordinates (its four corners, so a rotated grid is right too)."""
    corners = [(0, 0), (window.width, 0), (window.width, window.height), (0, window.height)]
    tile_transform = windows.transform(window, transform)
    return Polygon([tile_transform @ corner for corner in corners])


class _RasterLabels:
    """A label raster on the scene's grid; nonzero pixels are landslide."""

    def __init__(self, path: Path, src: DatasetReader, scene: DatasetReader, scene_path: Path) -> None:
        same = (src.crs == scene.crs and src.width == scene.width and src.height == scene.height
                and src.transform.almost_equals(scene.transform))
        if not same:
            left, bottom, right, top = scene.bounds
            xres, yres = scene.res
            raise SceneError(
                path, f"is not on the grid of scene '{scene_path.name}' (CRS {src.crs} vs {scene.crs}, "
                      f"{src.width}×{src.height} vs {scene.width}×{scene.height} px, origin and pixel size "
                      f"{tuple(src.transform)[:6]} vs {tuple(scene.transform)[:6]})",
                f"resample it onto the scene's grid: gdalwarp -t_srs {scene.crs} -te {left} {bottom} {right} {top} "
                f"-tr {xres} {yres} -r near '{path}' labels-on-scene-grid.tif")
        self.src = src


class _VectorLabels:
    """Landslide polygons in the scene's CRS, rasterized one tile window at a time."""

    def __init__(self, path: Path, scene: DatasetReader) -> None:
        try:
            inventory = gpd.read_file(path)
        except (DataSourceError, DataLayerError) as error:
            raise SceneError(path, f"cannot be read as a vector inventory ({error})",
                             "pass a GeoPackage, shapefile or other file that geopandas reads (or a .tif raster)"
                             ) from error
        if inventory.crs is None:
            raise SceneError(path, "has no CRS, so its polygons cannot be placed on the scene",
                             f"assign one, e.g. ogr2ogr -a_srs EPSG:xxxx fixed.gpkg '{path}'")
        inventory = inventory[inventory.geometry.notna() & ~inventory.geometry.is_empty]
        if inventory.crs != scene.crs:
            inventory = inventory.to_crs(scene.crs)
        self.geometries = inventory.geometry.reset_index(drop=True)
        self.transform = scene.transform

    def mask(self, window: Window, size: int) -> np.ndarray:
        # The spatial index keeps only polygons whose bounds meet the tile's, so no window burns the whole
        # inventory; pixels beyond the scene edge (padding) are cleared by the caller.
        hits = self.geometries.sindex.query(_footprint(window, self.transform))
        if len(hits) == 0:
            return np.zeros((size, size), np.uint8)
        return features.rasterize(((geometry, 1) for geometry in self.geometries.iloc[np.sort(hits)]),
                                  out_shape=(size, size), transform=windows.transform(window, self.transform),
                                  fill=0, dtype="uint8")


def _cut(src: DatasetReader, window: Window, size: int, fill: int, labels: _RasterLabels | _VectorLabels | None
         ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, bool]:
    """One tile's image, mask (or None), valid pixels and whether it is padded, reading only its window."""
    x0, y0 = int(window.col_off), int(window.row_off)
    x1, y1 = min(x0 + size, src.width), min(y0 + size, src.height)
    inner = Window(x0, y0, x1 - x0, y1 - y0)
    place = (slice(0, y1 - y0), slice(0, x1 - x0))
    image = np.full((3, size, size), fill, np.uint8)
    image[:, place[0], place[1]] = src.read((1, 2, 3), window=inner)
    valid = np.zeros((size, size), bool)
    valid[place] = src.dataset_mask(window=inner) > 0
    mask = None
    if isinstance(labels, _RasterLabels):
        mask = np.zeros((size, size), np.uint8)
        mask[place] = labels.src.read(1, window=inner) != 0
    elif labels is not None:
        mask = np.zeros((size, size), np.uint8)
        mask[place] = labels.mask(window, size)[place]  # polygons reaching into the padding do not count
    return image, mask, valid, (x1 - x0, y1 - y0) != (size, size)


def _scores(scorer: Scorer, image: np.ndarray, mask: np.ndarray | None, valid: np.ndarray) -> dict[str, float]:
    """The scorer's values as floats.

    Raises:
        ConfigError: A score's name is an index column.
    """
    scores = scorer(image, mask, valid)
    clash = set(scores) & set(INDEX_COLUMNS)
    if clash:
        raise ConfigError(f"the scorer returns {', '.join(sorted(clash))}, which the tile index uses itself; "
                          "rename those scores")
    return {key: float(value) for key, value in scores.items()}


def _read_index(index: Path) -> gpd.GeoDataFrame | None:
    if not index.is_file():
        return None
    try:
        return gpd.read_file(index, layer=INDEX_LAYER)
    except (DataSourceError, DataLayerError) as error:
        raise SceneError(index, f"cannot be read as a tile index ({error})",
                         "delete the folder and tile the scenes again") from error


def _check_index(old: gpd.GeoDataFrame, folder: Path, index: Path, scene: str, names: list[str], prefix: str,
                 options: TilingOptions, fill: int, crs: CRS) -> None:
    """Refuse a run that would mix options or CRSs, renumber a scene, or overwrite another scene's tiles.

    Raises:
        SceneError: The first such problem, with its fix.
    """
    used = old[["size", "stride", "edge"]].drop_duplicates()
    asked = (options.size, options.stride, options.edge)
    if len(used) > 1 or tuple(used.iloc[0]) != asked:
        before = "; ".join(f"size {s}, stride {t}, edge {e}" for s, t, e in used.itertuples(index=False))
        raise SceneError(folder, f"holds tiles cut with {before}; this run asks for size {asked[0]}, stride "
                                 f"{asked[1]}, edge {asked[2]}",
                         "use another --out, or delete the folder to cut it again with the new options")
    if old.crs != crs:
        raise SceneError(folder, f"holds tiles in CRS {old.crs}; scene {scene} is in {crs}, and one index holds "
                                 "one CRS",
                         f"reproject the scene (gdalwarp -t_srs {old.crs} ...) or cut it into another --subdataset")
    mine, others = old[old["scene"] == scene], old[old["scene"] != scene]
    fills = sorted({int(value) for value in mine["fill"]})
    if len(mine) and fills != [fill]:
        raise SceneError(folder, f"holds tiles of {scene} padded with fill {fills}; this run "
                                 f"asks for fill {fill}",
                         "use another --out, or delete the folder to cut it again with the new options")
    if len(mine) and sorted(mine["name"]) != sorted(names):
        raise SceneError(index, f"scene {scene} was cut into this folder before as {min(mine['name'])} … "
                                f"{max(mine['name'])}; this run would name its tiles {names[0]} … {names[-1]}",
                         "pass the same --start and --prefix as before, or delete the folder to cut it again")
    clash = others[others["name"].isin(names)]
    if len(clash):
        numbers = [int(n[len(prefix):]) for n in old["name"] if n.startswith(prefix) and n[len(prefix):].isdigit()]
        raise SceneError(index, f"tile {clash['name'].iloc[0]} came from another scene, "
                                f"{clash['scene'].iloc[0]}; its tiles would be overwritten",
                         f"pass --start {max(numbers) + 1} (the next free number) to number this scene's tiles "
                         "after them")


def _write_index(frame: gpd.GeoDataFrame, index: Path) -> None:
    with atomic_path(index, suffix=".tmp.gpkg") as tmp:
        tmp.unlink()  # GDAL creates the GeoPackage itself; an empty file would not open as one
        frame.to_file(tmp, layer=INDEX_LAYER, driver="GPKG")


def tile_scene(scene: str | Path, out: str | Path, *, labels: str | Path | None = None,
               subdataset: str | None = None, prefix: str | None = None, start: int = 1,
               options: TilingOptions = TilingOptions(), scorer: Scorer | None = None,
               progress: bool = True) -> TilingResult:
    """Cut ``scene`` into georeferenced tiles under ``out/<folder>/{img,mask,label}/`` and index them.

    Tiles are named ``<prefix><NNNN>.tif``, numbered from ``start`` in row-major order (one counter, as the
    production code). ``img`` holds the scene's first three bands (uint8), ``mask`` 0/1 uint8 (1 = landslide)
    and ``label`` its RGB rendering (landslide black, background white); without ``labels`` only ``img`` is
    written. Every tile keeps the scene's CRS and nodata value and gets its own window's transform.

    Labels are a raster on the scene's grid (``.tif``/``.tiff``; nonzero = landslide) or a vector inventory
    (anything geopandas reads), reprojected to the scene's CRS where it differs and rasterized per tile
    window from the polygons whose bounds meet the window; the masks equal those of rasterizing the whole
    scene at once (GDAL's rule: a pixel whose centre lies in a polygon is landslide).

    The index ``out/<folder>/tiles.gpkg`` (layer ``tiles``, written atomically) has one row per tile, in
    row-major order after the rows of scenes cut into the folder before, with the tile's footprint in the
    scene's CRS and :data:`INDEX_COLUMNS`, plus the ``scorer``'s values. The scorer receives the image, the
    mask (``None`` without labels) and ``valid``: False on padding and where GDAL's dataset mask marks the
    scene's pixels invalid (all bands equal to the scene's nodata value); ``valid_fraction`` is its mean.

    Running again with the same scene and options resumes: tiles whose files all exist are not written
    again (their index rows are computed afresh). Another scene can be added to the folder with a ``start``
    after the numbers in use.

    Args:
        scene: A GeoTIFF (or any raster GDAL reads) with a CRS and at least three uint8 bands.
        out: The dataset root; tiles go to ``out/<folder>``.
        labels: Landslide labels (raster or vector), or ``None`` for images only.
        subdataset: The folder name; default: the scene's file stem.
        prefix: The tile-name prefix; default: the folder name without spaces.
        start: The first tile number.
        options: Tile size, stride, edge mode and fill value.
        scorer: Called on every tile; its values become index columns.
        progress: Show a tqdm bar (unit: tile).

    Returns:
        The folder, the index, the tiles in the index, the tiles written now and the time taken.

    Raises:
        SceneError: The scene or labels cannot be read, the scene has no CRS, fewer than three uint8 bands or
            (``shift``) is smaller than one tile, a label raster is not on the scene's grid, a vector inventory
            has no CRS, or the folder holds tiles cut with other options, numbered otherwise for this scene, or
            of another scene under the names this run would use.
        ConfigError: A scorer column clashes with an index column.
    """
    started = time.perf_counter()
    scene, out = Path(scene), Path(out)
    folder_name = subdataset or scene.stem
    prefix = folder_name.replace(" ", "") if prefix is None else prefix
    folder = out / folder_name
    index = folder / INDEX_NAME
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(_open_scene(scene))
        _check_scene(scene, src, options)
        fill = options.fill if options.fill is not None else int(src.nodata or 0)
        label_source: _RasterLabels | _VectorLabels | None = None
        if labels is not None:
            labels = Path(labels)
            if labels.suffix.lower() in RASTER_LABEL_SUFFIXES:
                label_source = _RasterLabels(labels, stack.enter_context(_open_scene(labels)), src, scene)
            elif not labels.exists():
                raise SceneError(labels, "does not exist", "check the path")
            else:
                label_source = _VectorLabels(labels, src)
        grid = tile_windows(src.width, src.height, options)
        names = [f"{prefix}{start + i:04d}" for i in range(len(grid))]
        old = _read_index(index)
        if old is not None:
            _check_index(old, folder, index, scene.name, names, prefix, options, fill, src.crs)
        kinds = ("img", "mask", "label") if label_source is not None else ("img",)
        rows, footprints, written = [], [], 0
        for name, (row, col, window) in zip(names, tqdm(grid, unit="tile", desc=scene.name, disable=not progress),
                                            strict=True):
            image, mask, valid, padded = _cut(src, window, options.size, fill, label_source)
            paths = {kind: folder / kind / f"{name}.tif" for kind in kinds}
            if not all(path.exists() for path in paths.values()):
                geo = {"crs": src.crs, "transform": windows.transform(window, src.transform)}
                if mask is not None:
                    write_raster(paths["mask"], mask, **geo)
                    write_raster(paths["label"], label_rendering(mask), **geo)
                write_raster(paths["img"], image, nodata=src.nodata, **geo)
                written += 1
            record = {"name": name, "scene": scene.name, "row": row, "col": col, "x_off": int(window.col_off),
                      "y_off": int(window.row_off), "width": options.size, "height": options.size,
                      "has_mask": mask is not None, "padded": padded, "valid_fraction": float(valid.mean()),
                      "size": options.size, "stride": options.stride, "edge": options.edge, "fill": fill}
            if scorer is not None:
                record.update(_scores(scorer, image, mask, valid))
            rows.append(record)
            footprints.append(_footprint(window, src.transform))
        frame = gpd.GeoDataFrame(rows, geometry=footprints, crs=src.crs)
    if old is not None:
        frame = pd.concat([old[old["scene"] != scene.name], frame], ignore_index=True)
    _write_index(frame, index)
    return TilingResult(folder=folder, index=index, tiles=len(frame), written=written,
                        seconds=time.perf_counter() - started)

