"""A trained model over one scene of any size: a probability map, a mask and landslide polygons, resumably.

The scene is walked in chunks (``chunk`` × ``chunk`` pixels, aligned with the
output's 512-px blocks). For each chunk, the tiles of the :class:`TileGrid` that
cover it are read window by window, predicted in batches and blended
(:mod:`.blend`); a :class:`TileCache` keeps the last ``cache_tiles`` tile predictions,
so a tile shared with the next chunk of the row is not predicted again (one shared
with the next row of chunks is, unless the cache holds a whole row). Memory is
therefore bounded by one chunk, one batch and the cache, whatever the scene's size.

Each finished chunk is written to working GeoTIFFs in ``<scene>.work/`` and
recorded in its ``progress.json``, so an interrupted scene resumes from the first
unfinished chunk; ``<scene>.lock``, held while a process predicts the scene, refuses
the same work to a second process. At the end the working rasters become Cloud-Optimized GeoTIFFs
(tiled, deflate, with overviews), the mask is vectorized, and a report
(``<scene>.prediction.json``) records the settings, the timings and the peak memory.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
import torch
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window
from torch import nn
from tqdm import tqdm

from ..errors import ConfigError, PredictionError
from ..io.atomic import atomic_path, write_text_atomic
from ..io.checksums import file_sha256
from ..io.lock import exclusive_lock
from ..io.raster import no_georeferencing_warnings, open_raster
from ..runtime.device import Runtime
from ..runtime.memory import PeakMemory
from ..sources.base import Normalisation
from ..train.checkpoints import load_checkpoint, trained_model
from .blend import TileCache, TileGrid, computed_tiles
from .formats import MASK_NODATA, PERCENT, PROBABILITY_NODATA, chunk_windows, output_paths
from .polygons import write_landslides

__all__ = [
    "BLOCK", "PROGRESS_FILE", "SETTINGS", "Predictor", "SceneReport", "blended_chunks", "finished_report", "predict_scene",
    "prediction_settings",
]

GDAL_CACHE_MB = 32
"""GDAL's block cache while predicting (its default, 5 % of RAM, would grow with the scene up to gigabytes)."""
BLOCK = 512
"""Block side of the written GeoTIFFs; chunks are a multiple of it, so each block is written once."""
PROGRESS_FILE = "progress.json"
UNGEOREFERENCED = "has no georeferencing (no CRS): outputs are in pixel coordinates and polygon areas in pixels"


@dataclass
class Predictor:
    """A model and what it needs to turn raw uint8 tiles into landslide probabilities."""

    model: nn.Module
    normalisation: Normalisation
    runtime: Runtime
    label: str
    """The model, in words (shown in reports)."""
    identity: str
    """What makes predictions reproducible: the checkpoint's SHA-256, or a name the caller vouches for."""
    bands: int = 3

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str = "auto", precision: str = "auto") -> Predictor:
        """The model a training checkpoint holds, normalising as it was trained, on ``device``.

        Raises:
            CheckpointError: The file is not a readable training checkpoint.
            DeviceError: The device or precision is not available.
        """
        path = Path(path)
        model, config = trained_model(load_checkpoint(path))
        runtime = Runtime.for_device(device, precision=precision)
        runtime.prepare_model(model)
        return cls(model, config.tile_source().normalisation, runtime, f"{config.model} ({path.name})",
                   file_sha256(path), int(config.model_options.get("in_channels", 3)))

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Probabilities ``(n, h, w)`` float32 for raw images ``(n, bands, h, w)``."""
        with torch.inference_mode(), self.runtime.autocast():
            logits = self.model(self.normalisation.batch(self.runtime.images(torch.from_numpy(images))))
        logits = logits.float()
        probability = torch.sigmoid(logits[:, 0]) if logits.shape[1] == 1 else torch.softmax(logits, 1)[:, 1]
        return probability.cpu().numpy()


def _padded(image: np.ndarray, tile: int) -> np.ndarray:
    """A tile read short of ``tile`` (the scene is smaller) reflected out to full size."""
    pad = ((0, 0), (0, tile - image.shape[1]), (0, tile - image.shape[2]))
    if not any(p for _, p in pad[1:]):
        return image
    return np.pad(image, pad, mode="reflect" if min(image.shape[1:]) > 1 else "edge")


def blended_chunks(src: DatasetReader, predictor: Predictor, grid: TileGrid, windows: list[Window], *,
                   bands: tuple[int, ...], batch_size: int, cache: TileCache,
                   bar: tqdm | None = None) -> Iterator[tuple[Window, np.ndarray]]:
    """Yield ``(window, probabilities)`` for each window, blending the tiles that cover it."""
    for window in windows:
        cached, missing = cache.split(grid.tiles_in(window))
        predicted = {key: cache.get(key) for key in cached}
        for start in range(0, len(missing), batch_size):
            keys = missing[start:start + batch_size]
            images = np.stack([_padded(src.read(bands, window=grid.window(k)), grid.tile) for k in keys])
            for key, probability in zip(keys, predictor(images), strict=True):
                cache.put(key, probability)
                predicted[key] = probability
            if bar is not None:
                bar.update(len(keys))
        yield window, grid.blend(window, predicted.items())


def _valid(src: DatasetReader, window: Window, bands: tuple[int, ...], fill: int | None) -> np.ndarray:
    """Pixels with data: inside the scene's mask (nodata, alpha) and, with ``fill``, not ``fill`` in every band."""
    valid = src.dataset_mask(window=window) > 0
    if fill is not None:
        valid &= ~(src.read(bands, window=window) == fill).all(axis=0)
    return valid


@dataclass
class SceneReport:
    """What one scene's prediction did: settings, sizes, timings, memory and where the outputs are."""

    scene: str
    model: str
    checkpoint_sha256: str
    width: int
    height: int
    georeferenced: bool
    crs: str | None
    settings: dict[str, Any]
    tiles: int
    """Tiles in the grid."""
    tiles_computed: int = 0
    """Tile predictions this run made (more than ``tiles`` when the cache was too small to reuse every shared one;
    fewer when it resumed)."""
    chunks_resumed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_mib: float = 0.0
    added_rss_mib: float = 0.0
    polygons: int = 0
    landslide_pixels: int = 0
    valid_pixels: int = 0
    device: str = ""
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def megapixels_per_second(self) -> float:
        """Scene megapixels over the seconds spent predicting and blending (not writing the COGs or polygons)."""
        return self.width * self.height / 1e6 / max(self.seconds.get("predict", 0.0), 1e-9)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, with the throughput."""
        return {**asdict(self), "megapixels_per_second": round(self.megapixels_per_second, 3)}


def _check_scene(path: Path, src: DatasetReader, bands: tuple[int, ...]) -> None:
    if max(bands) > src.count:
        raise PredictionError(path, f"has {src.count} band(s), but bands {list(bands)} were asked for",
                              "pass --bands with the scene's red, green and blue band numbers (1-based)")
    if src.dtypes[bands[0] - 1] != "uint8":
        raise PredictionError(path, f"holds {src.dtypes[bands[0] - 1]} pixels; the models were trained on 8-bit RGB",
                              "convert it first, e.g. gdal_translate -ot Byte -scale <min> <max> 0 255 in.tif out.tif")


def _work_profile(src: DatasetReader, nodata: int) -> dict[str, Any]:
    return {"driver": "GTiff", "width": src.width, "height": src.height, "count": 1, "dtype": "uint8",
            "crs": src.crs, "transform": src.transform, "nodata": nodata, "tiled": True, "blockxsize": BLOCK,
            "blockysize": BLOCK, "compress": "deflate"}


def _start_work(work: Path, settings: dict[str, Any], src: DatasetReader) -> list[int]:
    """Chunks already finished under the same settings; anything else in ``work`` is started over."""
    progress = work / PROGRESS_FILE
    if progress.is_file():
        saved = json.loads(progress.read_text("utf-8"))
        if saved.get("settings") == settings and all((work / n).is_file() for n in ("probability.tif", "mask.tif")):
            return list(saved["done"])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name, nodata in (("probability.tif", PROBABILITY_NODATA), ("mask.tif", MASK_NODATA)):
        with rasterio.open(work / name, "w", **_work_profile(src, nodata)):
            pass
    write_text_atomic(progress, json.dumps({"settings": settings, "done": []}) + "\n")
    return []


def _to_cog(work_file: Path, final: Path, resampling: str) -> None:
    with atomic_path(final, suffix=".tmp.tif") as tmp:
        rasterio.shutil.copy(work_file, tmp, driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=str(BLOCK),
                             OVERVIEW_RESAMPLING=resampling)


SETTINGS = ("tile", "overlap", "threshold", "min_area", "fill", "bands", "chunk")
"""The keyword arguments of :func:`predict_scene` that decide its outputs (with the scene and the model)."""


def prediction_settings(scene: Path, identity: str, *, tile: int = 512, overlap: int = 128, threshold: float = 0.5,
                        min_area: float = 0.0, fill: int | None = None, bands: tuple[int, ...] = (1, 2, 3),
                        chunk: int = 2048) -> dict[str, Any]:
    """Everything that decides a scene's outputs, as its report and work folder record it.

    The scene file (path, size, modification time), the model's identity, and :data:`SETTINGS`, with ``chunk``
    rounded as prediction uses it: up to a multiple of :data:`BLOCK` and at least ``tile``.
    """
    stat = scene.stat()
    return {"scene": str(scene.resolve()), "scene_bytes": stat.st_size, "scene_mtime": stat.st_mtime,
            "model": identity, "tile": tile, "overlap": overlap, "threshold": threshold, "min_area": min_area,
            "fill": fill, "bands": list(bands), "chunk": max(-(-chunk // BLOCK) * BLOCK, -(-tile // BLOCK) * BLOCK)}


def finished_report(paths: dict[str, Path], settings: dict[str, Any]) -> dict[str, Any] | None:
    """The saved report of a scene whose outputs all exist and were made with exactly ``settings``; else None."""
    if not paths["report"].is_file() or not all(paths[k].is_file() for k in ("probability", "mask", "polygons")):
        return None
    saved = json.loads(paths["report"].read_text("utf-8"))
    return saved if saved.get("settings") == settings else None


def predict_scene(scene: str | Path, predictor: Predictor, out: str | Path, *, tile: int = 512, overlap: int = 128,
                  batch_size: int = 8, threshold: float = 0.5, min_area: float = 0.0, fill: int | None = None,
                  bands: tuple[int, ...] = (1, 2, 3), chunk: int = 2048, cache_tiles: int = 64,
                  progress: bool = True) -> SceneReport:
    """Predict a scene into ``out``: probability and mask COGs, a polygon GeoPackage and a JSON report.

    A scene whose outputs and report already exist under the same settings is not predicted again; one whose
    work was interrupted resumes from its last finished chunk.

    Args:
        scene: Any raster GDAL reads (GeoTIFF, PNG, ...); 8-bit, with at least the bands in ``bands``.
        predictor: The model (:meth:`Predictor.from_checkpoint`).
        out: Output folder (created).
        tile: Side of the tiles fed to the model (a multiple of 32).
        overlap: Pixels neighbouring tiles share; predictions are blended across them.
        batch_size: Tiles per forward pass.
        threshold: Probability at or above which a pixel is mapped as landslide.
        min_area: Polygons smaller than this (m², or pixels without georeferencing) are dropped.
        fill: A value that marks pixels without data when every band holds it (e.g. 255 for a white collar),
            besides the scene's own nodata; no landslide is mapped there.
        bands: The scene's red, green and blue bands (1-based).
        chunk: Side of the chunks the scene is walked in (rounded up to a multiple of 512 and at least ``tile``).
        cache_tiles: Tile predictions kept for neighbouring chunks.
        progress: Show a progress bar (tiles/s and time left).

    Raises:
        PredictionError: The scene cannot be read or has too few or non-8-bit bands.
        ConfigError: Tile, overlap, threshold or chunk settings that cannot work.
        LockHeldError: Another live process is predicting this scene into ``out`` (the message names it).
    """
    scene, out = Path(scene), Path(out)
    if not 0.0 < threshold < 1.0 or batch_size < 1 or cache_tiles < 0:
        raise ConfigError(f"need 0 < threshold < 1, batch_size >= 1 and cache_tiles >= 0; got {threshold}, "
                          f"{batch_size}, {cache_tiles}")
    if not scene.is_file():
        raise PredictionError(scene, "scene not found", "pass the path of a GeoTIFF (or any raster GDAL reads)")
    paths = output_paths(scene, out)
    settings = prediction_settings(scene, predictor.identity, tile=tile, overlap=overlap, threshold=threshold,
                                   min_area=min_area, fill=fill, bands=bands, chunk=chunk)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with (exclusive_lock(out / f"{scene.stem}.lock", f"predicting {scene}"),
              rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 1024 * 1024), open_raster(scene) as src,
              no_georeferencing_warnings()):
            return _predict(scene, src, predictor, paths, settings, batch_size=batch_size, cache_tiles=cache_tiles,
                            progress=progress)
    except RasterioError as error:
        raise PredictionError(scene, f"GDAL failed while predicting it ({error})",
                              "check the scene opens in QGIS or gdalinfo; rerun to resume") from error


def _predict(scene: Path, src: DatasetReader, predictor: Predictor, paths: dict[str, Path], settings: dict[str, Any],
             *, batch_size: int, cache_tiles: int, progress: bool) -> SceneReport:
    bands, chunk = tuple(settings["bands"]), settings["chunk"]
    threshold, fill = settings["threshold"], settings["fill"]
    _check_scene(scene, src, bands)
    grid = TileGrid.build(src.width, src.height, settings["tile"], settings["overlap"])
    georeferenced = src.crs is not None
    if not georeferenced:  # said once here; rasterio's own warnings on the outputs are silenced
        warnings.warn(f"{scene} {UNGEOREFERENCED}", UserWarning, stacklevel=3)
    saved = finished_report(paths, settings)
    if saved is not None:
        return SceneReport(**{k: v for k, v in saved.items() if k != "megapixels_per_second"})
    report = SceneReport(scene=str(scene), model=predictor.label, checkpoint_sha256=predictor.identity,
                         width=src.width, height=src.height, georeferenced=georeferenced,
                         crs=src.crs.to_string() if georeferenced else None, settings=settings, tiles=grid.count,
                         device=str(predictor.runtime.device))
    work = paths["work"]
    done = set(_start_work(work, settings, src))
    windows = list(chunk_windows(src.width, src.height, chunk))
    todo = [(i, w) for i, w in enumerate(windows) if i not in done]
    report.chunks_resumed = len(done)
    report.tiles_computed = computed_tiles(grid, [w for _, w in todo], cache_tiles)
    cache = TileCache(cache_tiles)
    with PeakMemory() as memory:
        started = time.perf_counter()
        with tqdm(total=report.tiles_computed, unit="tile", desc=scene.name, disable=not progress) as bar:
            chunks = blended_chunks(src, predictor, grid, [w for _, w in todo], bands=bands,
                                    batch_size=batch_size, cache=cache, bar=bar)
            for (index, _), (window, probability) in zip(todo, chunks, strict=True):
                _write_chunk(work, src, window, probability, threshold, bands, fill)
                done.add(index)
                write_text_atomic(work / PROGRESS_FILE, json.dumps({"settings": settings, "done": sorted(done)}))
        report.seconds["predict"] = time.perf_counter() - started
        started = time.perf_counter()
        paths["probability"].parent.mkdir(parents=True, exist_ok=True)
        _to_cog(work / "probability.tif", paths["probability"], "AVERAGE")
        _to_cog(work / "mask.tif", paths["mask"], "NEAREST")
        report.seconds["write"] = time.perf_counter() - started
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the no-georeferencing warning was given above
            report.polygons = write_landslides(paths["mask"], paths["polygons"], paths["probability"],
                                               min_area=settings["min_area"], chunk=chunk, progress=False)
        report.seconds["vectorize"] = time.perf_counter() - started
    report.peak_rss_mib, report.added_rss_mib = round(memory.peak_mib, 1), round(memory.added_mib, 1)
    report.landslide_pixels, report.valid_pixels = _mask_counts(paths["mask"], chunk)
    report.seconds = {k: round(v, 3) for k, v in report.seconds.items()}
    report.outputs = {k: str(paths[k]) for k in ("probability", "mask", "polygons")}
    write_text_atomic(paths["report"], json.dumps(report.to_dict(), indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return report


def _write_chunk(work: Path, src: DatasetReader, window: Window, probability: np.ndarray, threshold: float,
                 bands: tuple[int, ...], fill: int | None) -> None:
    valid = _valid(src, window, bands, fill)
    percent = np.where(valid, np.rint(probability * PERCENT), PROBABILITY_NODATA).astype(np.uint8)
    mask = np.where(valid, probability >= threshold, MASK_NODATA).astype(np.uint8)
    for name, values in (("probability.tif", percent), ("mask.tif", mask)):
        with rasterio.open(work / name, "r+") as dst:
            dst.write(values, 1, window=window)


def _mask_counts(mask: Path, chunk: int) -> tuple[int, int]:
    """(landslide pixels, pixels with data) of a written mask, read chunk by chunk."""
    landslide = valid = 0
    with rasterio.open(mask) as src:
        for window in chunk_windows(src.width, src.height, chunk):
            values = src.read(1, window=window)
            landslide += int((values == 1).sum())
            valid += int((values != MASK_NODATA).sum())
    return landslide, valid
