"""How scene prediction scales: synthetic scenes of any size, predicted in fresh processes, and what that showed.

:func:`predict_scene` walks a scene in chunks so that its memory is bounded by a chunk, a batch and the tile
cache whatever the scene's size, and its time grows with the pixels. This module measures whether it does. :func:`write_large_scene` writes a synthetic 8-bit RGB GeoTIFF of
any side window by window (never the whole scene in memory), tiled with a rendered demo texture.
:func:`measure_scene` predicts it in a fresh Python process (so nothing an earlier measurement left in memory
counts) and reads that process's peak resident set (``VmHWM``) at its end. :func:`scene_scale_frame` and
:func:`summary` turn the measurements into the table and the sentence that the benchmark record
(``benchmarks/scene_scale.py``) and the book's appendix show.

The model is either :data:`POINTWISE` (one fixed 1×1 convolution: the pipeline's own cost of reading, blending,
writing the COGs and vectorizing) or a registered network built untrained: an untrained network costs the same time
and memory as a trained one, and needs no checkpoint.

Run as ``python -m landslide_core.predict.scale '<json arguments>'`` this module is the measured process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import torch
from rasterio.transform import from_origin
from torch import nn
from tqdm import tqdm

from ..errors import ConfigError, LandslideCoreError, PredictionError
from ..io.atomic import atomic_path, write_text_atomic
from ..models import MODEL_NAMES, build_model
from ..runtime.device import Runtime
from ..runtime.memory import process_status_mib
from ..sources import get_source
from ..sources.base import Normalisation
from ..sources.cas.demo_scenes import render_scene
from .formats import chunk_windows, output_paths
from .scene import BLOCK, Predictor, predict_scene

__all__ = [
    "POINTWISE", "RECORD_PREFIX", "SCENE_CRS", "TEXTURE", "marker_path", "measure_scene", "scale_predictor",
    "scene_scale_frame", "scene_texture", "summary", "write_large_scene",
]

RECORD_PREFIX = "scene-scale"
"""Records of this benchmark are ``<RECORD_PREFIX>-<device>.{csv,json}``."""
POINTWISE = "pointwise"
SCENE_CRS = "EPSG:32654"
"""WGS 84 / UTM zone 54N, where Hokkaido is."""
PIXEL_M = 3.0
ORIGIN = (500_000.0, 4_800_000.0)
TEXTURE = 1024
"""Side of the texture the scenes repeat."""
_RENDER = 2048
"""Side of the demo scene the texture is cut from: large enough to hold a window clear of its cloud bank."""
_RENDER_SCENE = ("hokkaido", 1)
"""Sub-dataset and scene index of the demo scene rendered (seed from the caller)."""
_SEARCH_STEP = 64
_MARKER_VERSION = 1
_POINTWISE_WEIGHTS = (24.0, -45.0, 29.0)
_POINTWISE_BIAS = -1.0
"""Logit = 24 r - 45 g + 29 b - 1 on values in [0, 1]: bright, grey-brown pixels (the texture's scars and road)
against green vegetation, chosen on seed 0's texture so that the mask is whole scars rather than speckle."""
MODEL_SEED = 0
"""``torch.manual_seed`` before building an untrained network, so its weights (and its mask) repeat."""
MIB = 2**20
UNTRAINED_NOTE = ("registered networks are built untrained (random weights, seeded): an untrained network costs "
                  "the same time and memory as a trained one; its masks mean nothing")


def _clean_window(bad: np.ndarray, land: np.ndarray) -> tuple[int, int]:
    """Top-left of the ``TEXTURE`` window with the fewest ``bad`` pixels, then the most ``land`` (64-px grid)."""

    def integral(values: np.ndarray) -> np.ndarray:
        total = np.zeros((values.shape[0] + 1, values.shape[1] + 1), np.int64)
        total[1:, 1:] = values.astype(np.int64).cumsum(0).cumsum(1)
        return total

    def box(total: np.ndarray, row: int, col: int) -> int:
        return int(total[row + TEXTURE, col + TEXTURE] - total[row, col + TEXTURE] - total[row + TEXTURE, col]
                   + total[row, col])

    bad_sum, land_sum = integral(bad), integral(land)
    starts = range(0, bad.shape[0] - TEXTURE + 1, _SEARCH_STEP)
    return min(((r, c) for r in starts for c in starts),
               key=lambda rc: (box(bad_sum, *rc), -box(land_sum, *rc)))


@lru_cache(maxsize=2)
def scene_texture(seed: int) -> np.ndarray:
    """The ``(3, TEXTURE, TEXTURE)`` uint8 texture the scenes of ``seed`` repeat: terrain with landslides.

    A demo scene (:func:`~landslide_core.sources.cas.demo_scenes.render_scene`, Hokkaido style) is rendered at
    2048 px and the 1024-px window with the fewest fill-corner and cloud pixels (then the most landslide pixels)
    is kept, so the texture is mostly ground and landslides (the scene's seam between two acquisitions may run
    through it). Cached: the writer then allocates only windows.
    """
    scene = render_scene(seed, _RENDER_SCENE[1], _RENDER_SCENE[0], _RENDER)
    row, col = _clean_window(np.asarray(scene["fill"]) | np.asarray(scene["cloud"]), np.asarray(scene["mask"]))
    texture = np.ascontiguousarray(np.asarray(scene["image"])[:, row:row + TEXTURE, col:col + TEXTURE])
    texture.flags.writeable = False
    return texture


def marker_path(path: str | Path) -> Path:
    """The marker :func:`write_large_scene` writes beside a scene: its side, seed and file size."""
    path = Path(path)
    return path.with_name(path.name + ".scale.json")


def write_large_scene(path: str | Path, side: int, *, seed: int = 0, progress: bool = True) -> Path:
    """Write a ``side``×``side`` synthetic RGB GeoTIFF, one 1024-px window at a time.

    Each window is :func:`scene_texture`, mirrored left-right in odd texture columns and up-down in odd texture
    rows, so neighbouring copies meet without a seam. UTM (:data:`SCENE_CRS`), 3 m pixels, tiled 512, deflate,
    BigTIFF where GDAL judges the file could pass 4 GiB (``BIGTIFF=IF_SAFER``). A file this function wrote for
    the same side and seed (its marker, :func:`marker_path`, says so and the size matches) is kept, not rewritten.

    Args:
        path: The GeoTIFF to write (written whole or not at all).
        side: Width and height in pixels.
        seed: Seed of the texture.
        progress: Show a progress bar over the windows.

    Returns:
        ``path``.

    Raises:
        ConfigError: ``side`` is below 1.
    """
    if side < 1:
        raise ConfigError(f"a scene side must be at least 1 pixel; got {side}")
    path = Path(path)
    expected = {"side": side, "seed": seed, "version": _MARKER_VERSION}
    marker = marker_path(path)
    if path.is_file() and marker.is_file():
        saved = json.loads(marker.read_text("utf-8"))
        if saved.get("scene") == expected and saved.get("bytes") == path.stat().st_size:
            return path
    texture = scene_texture(seed)
    variants = {(flip_rows, flip_cols): texture[:, ::-1 if flip_rows else 1, ::-1 if flip_cols else 1]
                for flip_rows in (False, True) for flip_cols in (False, True)}
    profile = {"driver": "GTiff", "width": side, "height": side, "count": 3, "dtype": "uint8", "crs": SCENE_CRS,
               "transform": from_origin(*ORIGIN, PIXEL_M, PIXEL_M), "tiled": True, "blockxsize": BLOCK,
               "blockysize": BLOCK, "compress": "deflate", "BIGTIFF": "IF_SAFER"}
    windows = list(chunk_windows(side, side, TEXTURE))
    marker.unlink(missing_ok=True)
    with (rasterio.Env(GDAL_CACHEMAX=64 * MIB), atomic_path(path, suffix=".tmp.tif") as tmp,
          rasterio.open(tmp, "w", **profile) as dst):
        for window in tqdm(windows, desc=f"writing {path.name}", unit="window", disable=not progress):
            row, col = int(window.row_off) // TEXTURE, int(window.col_off) // TEXTURE
            values = variants[(row % 2 == 1, col % 2 == 1)]
            dst.write(values[:, :int(window.height), :int(window.width)], window=window)
    write_text_atomic(marker, json.dumps({"scene": expected, "bytes": path.stat().st_size}) + "\n")
    return path


def _pointwise() -> nn.Module:
    conv = nn.Conv2d(3, 1, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(_POINTWISE_WEIGHTS).reshape(1, 3, 1, 1))
        conv.bias.fill_(_POINTWISE_BIAS)
    return conv.eval()


def scale_predictor(model: str, device: str = "cpu") -> Predictor:
    """The predictor a measurement uses: :data:`POINTWISE`, or a registered network untrained.

    The pointwise model sees values scaled to [0, 1]; a network gets the CAS normalisation it is trained with.

    Args:
        model: :data:`POINTWISE` or a name in :data:`~landslide_core.models.MODEL_NAMES`.
        device: ``cpu``, ``cuda``, ``auto`` ... (precision ``auto``: bf16 or fp16 on a GPU, fp32 on the CPU).

    Raises:
        ConfigError: ``model`` is neither.
        DeviceError: The device is not available.
    """
    if model != POINTWISE and model not in MODEL_NAMES:
        raise ConfigError(f"unknown model '{model}' for the scale benchmark; use {POINTWISE} or one of "
                          f"{', '.join(MODEL_NAMES)}")
    runtime = Runtime.for_device(device)
    if model == POINTWISE:
        network, normalisation, label = _pointwise(), Normalisation(), "pointwise (one fixed 1×1 convolution)"
    else:
        torch.manual_seed(MODEL_SEED)
        network = build_model(model, pretrained=False).eval()
        normalisation, label = get_source("cas").normalisation, f"{model} (untrained)"
    runtime.prepare_model(network)
    return Predictor(network, normalisation, runtime, label, f"{label}, torch seed {MODEL_SEED}")


def _measured(arguments: dict[str, Any]) -> dict[str, Any]:
    """In the measured process: build the model, note the resident set, predict, note the peak."""
    predictor = scale_predictor(arguments["model"], arguments["device"])
    cuda = predictor.runtime.device.type == "cuda"
    baseline = process_status_mib("VmRSS")
    report = predict_scene(arguments["scene"], predictor, arguments["out"], tile=arguments["tile"],
                           overlap=arguments["overlap"], batch_size=arguments["batch_size"],
                           chunk=arguments["chunk"], cache_tiles=arguments["cache_tiles"],
                           progress=arguments["progress"])
    return {**report.to_dict(), "model": arguments["model"], "model_label": predictor.label,
            "baseline_rss_mib": round(baseline, 1), "process_peak_rss_mib": round(process_status_mib("VmHWM"), 1),
            "gpu_peak_mib": round(torch.cuda.max_memory_allocated() / MIB, 1) if cuda else None,
            "torch_threads": torch.get_num_threads()}


def measure_scene(path: str | Path, model: str, *, out: str | Path | None = None, device: str = "cpu",
                  tile: int = 512, overlap: int = 128, batch_size: int = 4, chunk: int = 2048, cache_tiles: int = 64,
                  progress: bool = True) -> dict[str, Any]:
    """Predict ``path`` with ``model`` in a fresh Python process and return what it measured.

    Earlier outputs of the scene in ``out`` are removed first, so the prediction runs whole rather than being
    found finished. The measured process builds the model, reads its resident set (``baseline_rss_mib``: after
    the imports and the model), runs :func:`predict_scene` and reads its peak resident set (``VmHWM``,
    ``process_peak_rss_mib``) at its end.

    Args:
        path: The scene (e.g. from :func:`write_large_scene`).
        model: :data:`POINTWISE` or a registered network name (built untrained, see :func:`scale_predictor`).
        out: Folder for the outputs (default: ``<scene stem>-<model>`` beside the scene).
        device: Where the model runs.
        tile: Tile side fed to the model.
        overlap: Pixels neighbouring tiles share.
        batch_size: Tiles per forward pass.
        chunk: Side of the chunks the scene is walked in.
        cache_tiles: Tile predictions kept for neighbouring chunks.
        progress: Let the process show its progress bar (on stderr, with any error); off, stderr is kept for
            the error message.

    Returns:
        The :class:`~landslide_core.predict.scene.SceneReport` as a dict, with ``model`` (the name given),
        ``model_label``, ``baseline_rss_mib``, ``process_peak_rss_mib``, ``gpu_peak_mib`` (``None`` off CUDA),
        ``torch_threads`` and ``process_s`` (the whole process's wall time, imports included).

    Raises:
        PredictionError: The measured process failed (its error is in the message, or printed above with
            ``progress``).
    """
    path = Path(path)
    out = Path(out) if out is not None else path.with_name(f"{path.stem}-{model}")
    paths = output_paths(path, out)
    for key in ("probability", "mask", "polygons", "report"):
        paths[key].unlink(missing_ok=True)
    shutil.rmtree(paths["work"], ignore_errors=True)
    arguments = {"scene": str(path), "model": model, "out": str(out), "device": device, "tile": tile,
                 "overlap": overlap, "batch_size": batch_size, "chunk": chunk, "cache_tiles": cache_tiles,
                 "progress": progress}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", __name__, json.dumps(arguments)], stdout=subprocess.PIPE,
                          stderr=None if progress else subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        detail = "its error is printed above" if progress else done.stderr.strip()[-2000:]
        raise PredictionError(path, f"the process predicting it with {model} failed (exit {done.returncode}): "
                              f"{detail}", "measure again once that error is fixed")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "process_s": round(time.perf_counter() - started, 1)}


def scene_scale_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per measurement (as :func:`measure_scene` returns them), in the units the record shows.

    ``seconds`` is the prediction's whole time (predict and blend, write the COGs, vectorize), ``mpx_per_s`` the
    scene's megapixels over it; ``peak_rss_mib`` is the process's ``VmHWM`` and ``growth_mib`` that above its
    resident set before predicting; ``scene_array_mib`` is the scene as one uint8 RGB array.
    """
    table = []
    for row in rows:
        width, height, seconds = row["width"], row["height"], row["seconds"]
        total = sum(seconds.get(k, 0.0) for k in ("predict", "write", "vectorize"))
        megapixels = width * height / 1e6
        table.append({
            "run": f"{row['model']} {width}²" if width == height else f"{row['model']} {width}×{height}",
            "model": row["model"], "side_px": width if width == height else None,
            "megapixels": round(megapixels, 2), "tiles": row["tiles_computed"],
            "predict_s": seconds.get("predict"), "write_s": seconds.get("write"),
            "vectorize_s": seconds.get("vectorize"), "seconds": round(total, 2),
            "mpx_per_s": round(megapixels / max(total, 1e-9), 3), "polygons": row["polygons"],
            "baseline_rss_mib": row["baseline_rss_mib"], "peak_rss_mib": row["process_peak_rss_mib"],
            "growth_mib": round(row["process_peak_rss_mib"] - row["baseline_rss_mib"], 1),
            "scene_array_mib": round(3 * width * height / MIB, 1), "gpu_peak_mib": row.get("gpu_peak_mib"),
            "device": row["device"], "torch_threads": row["torch_threads"],
        })
    return pd.DataFrame(table)


def _mib(value: float) -> str:
    return f"{value:,.0f} MiB"


def summary(frame: pd.DataFrame) -> str:
    """Per model: Mpx/s at each size, linear time, peak memory and the largest scene against its array size.

    Mpx/s and seconds are end to end (predict and blend, write the COGs, vectorize). Linear time is the ratio of
    seconds per megapixel on the largest scene to that on the smallest: 1 is linear, below 1 means fixed costs
    were spread over more pixels.

    Args:
        frame: :func:`scene_scale_frame`'s table (or the record read back).
    """
    sentences = []
    for model, rows in frame.groupby("model", sort=False):
        rows = rows.sort_values("megapixels")
        small, large = rows.iloc[0], rows.iloc[-1]

        def size(row: Any, model: str = str(model)) -> str:
            return str(row.run).removeprefix(f"{model} ")

        rates = ", ".join(f"{r.mpx_per_s:.3g} Mpx/s at {size(r)}" for r in rows.itertuples())
        per_mpx = (large.seconds / large.megapixels) / (small.seconds / small.megapixels)
        sentences.append(
            f"{model}: {rates} end to end; seconds per megapixel at {size(large)} are {per_mpx:.2f}× those at "
            f"{size(small)} (1 is linear time); peak resident memory {_mib(rows.peak_rss_mib.min())} to "
            f"{_mib(rows.peak_rss_mib.max())}; at {size(large)} the process held {_mib(large.peak_rss_mib)} at "
            f"most ({_mib(large.growth_mib)} above its size before predicting) while the scene as one uint8 RGB "
            f"array is {_mib(large.scene_array_mib)}.")
    return " ".join(sentences)


if __name__ == "__main__":
    try:
        print(json.dumps(_measured(json.loads(sys.argv[1]))))
    except LandslideCoreError as error:  # our errors say what to fix: the message, not a traceback
        sys.exit(str(error))
