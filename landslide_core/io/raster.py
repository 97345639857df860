"""Raster IO through rasterio: whole tiles, windows of large scenes, atomic writes.

CAS tiles carry no georeferencing, so rasterio warns on every open; that warning
is silenced here (and only here) so reading 20,865 tiles does not flood the output.
Every GDAL failure becomes :class:`~landslide_core.errors.UnreadableTileError`
naming the file, so callers never see a bare rasterio traceback.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from ..errors import UnreadableTileError
from .atomic import atomic_path

__all__ = ["UNREADABLE_FIX", "RasterInfo", "no_georeferencing_warnings", "open_raster", "pixel_reads", "read_info", "read_raster", "write_raster"]

UNREADABLE_FIX = "re-extract the file from its sub-dataset zip (or re-download it with `landslide-core download`)"


@dataclass(frozen=True)
class RasterInfo:
    """What the header of a raster says, without reading its pixels."""

    path: Path
    width: int
    height: int
    count: int
    dtype: str
    georeferenced: bool


_quiet_lock = threading.Lock()
_quiet_users = 0
_quiet: warnings.catch_warnings | None = None


@contextmanager
def no_georeferencing_warnings() -> Iterator[None]:
    """Silence rasterio's NotGeoreferencedWarning, safely when several threads read at once.

    ``warnings.catch_warnings`` is not thread-safe: a thread leaving it restores the filters it saved while another
    thread is still inside, which then warns. Here one shared ``catch_warnings`` is entered by the first thread in
    and left by the last one out.
    """
    global _quiet, _quiet_users
    with _quiet_lock:
        if _quiet_users == 0:
            _quiet = warnings.catch_warnings()
            _quiet.__enter__()
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
        _quiet_users += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_users -= 1
            if _quiet_users == 0 and _quiet is not None:
                _quiet.__exit__(None, None, None)
                _quiet = None


@contextmanager
def open_raster(path: str | Path) -> Iterator[rasterio.io.DatasetReader]:
    """Open a raster for reading, quietly if it has no georeferencing.

    Raises:
        UnreadableTileError: GDAL cannot open the file, or a rasterio error escapes the ``with`` block.
    """
    path = Path(path)
    try:
        with no_georeferencing_warnings(), rasterio.open(path) as src:
            yield src
    except RasterioError as exc:
        raise UnreadableTileError(path, f"GDAL cannot read this raster ({exc})", UNREADABLE_FIX) from exc


@contextmanager
def pixel_reads() -> Iterator[None]:
    """GDAL settings for reading whole small rasters' pixels one after another (tiles for training).

    ``GTIFF_VIRTUAL_MEM_IO=YES`` maps an uncompressed GeoTIFF (as the CAS tiles are) into memory and copies its
    pixels from there, instead of through GDAL's block cache; compressed files are read as before. A truncated
    file still fails to read. ``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`` skips listing the file's folder for
    sidecar files (``.aux.xml``, ``.ovr``, ``.msk``, world files), which a full-resolution read of the pixels takes
    nothing from; and opening inside one ``rasterio.Env`` spares each ``rasterio.open`` setting up GDAL's
    environment anew. Together: about 1.4× the image/mask pairs per second on the real Hokkaido tiles. Use it
    only where pixels are read: georeferencing from a world file is not found inside it.
    """
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR", GTIFF_VIRTUAL_MEM_IO="YES"):
        yield


def read_info(path: str | Path) -> RasterInfo:
    """Read a raster's size, band count and data type from its header."""
    with open_raster(path) as src:
        return RasterInfo(
            path=Path(path),
            width=src.width,
            height=src.height,
            count=src.count,
            dtype=src.dtypes[0],
            georeferenced=src.crs is not None,
        )


def read_raster(path: str | Path, window: Window | None = None) -> np.ndarray:
    """Read all bands (or a window of them) as a ``(bands, height, width)`` array.

    Reading the pixels to the end is what finds a truncated file: its header can
    still be valid.

    Raises:
        UnreadableTileError: The file cannot be opened, or its pixels cannot be read to the end.
    """
    with open_raster(path) as src:
        try:
            with no_georeferencing_warnings():
                return src.read(window=window)
        except RasterioError as exc:
            detail = exc.__cause__ or exc  # rasterio puts GDAL's own message on the cause
            raise UnreadableTileError(
                path, f"the pixel data cannot be read to the end; the file is truncated or corrupt ({detail})",
                UNREADABLE_FIX,
            ) from exc


def write_raster(path: str | Path, array: np.ndarray, *, compress: str | None = None, **profile: object) -> Path:
    """Write a ``(bands, h, w)`` or ``(h, w)`` array as a GeoTIFF, atomically.

    The file appears under its final name only once complete, so an interrupted
    run never leaves a half-written tile that later looks valid. Extra keyword
    arguments (``crs``, ``transform``, ``nodata``...) go to the GDAL profile.
    """
    path = Path(path)
    data = array[np.newaxis] if array.ndim == 2 else array
    options: dict[str, object] = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        **profile,
    }
    if compress:
        options["compress"] = compress
    with atomic_path(path, suffix=".tmp.tif") as tmp, no_georeferencing_warnings():
        with rasterio.open(tmp, "w", **options) as dst:
            dst.write(data)
    return path
