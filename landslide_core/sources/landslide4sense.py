"""Landslide4Sense (Ghorbanzadeh et al., IEEE TGRS 60, 2022) as a tile source: 14-band HDF5 patches.

The original release holds ``TrainData/img/image_N.h5`` (dataset ``img``,
128×128×14 floats: Sentinel-2 B1–B12, then slope, then DEM) with
``TrainData/mask/mask_N.h5`` (dataset ``mask``, 128×128, 1 = landslide), paired
by ``N``. ``ValidData/img`` and ``TestData/img`` come without masks in that
release, so they are ignored: only the training patches are records (its 3,799,
Table 7's count). The dataset has no split of its own here.

Values are pre-standardised floats (negative ones included) and a few patches
hold NaN. RGB is bands 3, 2, 1 (B4, B3, B2), stretched to uint8 per band between
its 2nd and 98th percentile over the finite values of a seeded sample of up to 256
training patches (seed 0), computed once per ``TrainData/img`` folder and cached
on the source; NaN pixels become 0 (black).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np

from ..errors import (
    DatasetNotFoundError,
    ImageFormatError,
    MaskValueError,
    MissingPartnerError,
    TileError,
    UnreadableTileError,
)
from ..io.atomic import atomic_path
from ..tiles import TileRecord
from .base import ALL, Scan, StandardisedSource
from .cas.demo import fractal_noise
from .stand_in import paint, stand_in_style
from .stand_in_marker import write_marker
from .standardize import Stretch, sample_indices, training_stretch

__all__ = ["BANDS", "RGB_BANDS", "SAMPLE_PATCHES", "Landslide4SenseSource", "write_stand_in"]

TITLE = "Landslide4Sense"
BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11", "B12", "slope", "DEM")
"""The 14 layers of an ``img`` dataset, in order."""
RGB_BANDS = (3, 2, 1)
"""Indices of B4, B3, B2: red, green, blue."""
SAMPLE_PATCHES = 256
"""Training patches (drawn with seed 0) the uint8 stretch is computed from."""
PATCH = 128
_IMAGE = re.compile(r"^image_(\d+)\.h5$")
_MASK = re.compile(r"^mask_(\d+)\.h5$")


def _fix() -> str:
    return "extract the file again from the original Landslide4Sense release"


def _read(path: Path, key: str) -> np.ndarray:
    """The dataset ``key`` of an HDF5 file.

    Raises:
        ImageFormatError: The file has no such dataset.
        UnreadableTileError: h5py cannot open or read the file.
    """
    try:
        with h5py.File(path, "r") as f:
            if not isinstance(f.get(key), h5py.Dataset):
                raise ImageFormatError(
                    path, f"has no HDF5 dataset {key!r} (it holds: {', '.join(f.keys()) or 'nothing'})", _fix()
                )
            return np.asarray(f[key][()])
    except OSError as exc:
        raise UnreadableTileError(path, f"h5py cannot read this HDF5 file ({exc})", _fix()) from exc


def _check_image(path: Path, image: np.ndarray, size: int | None) -> None:
    """Raise unless ``image`` is H×W×14 floating point (and ``size``×``size`` when given).

    Raises:
        ImageFormatError: Another shape or data type.
    """
    shape_ok = image.ndim == 3 and image.shape[2] == len(BANDS) and (size is None or image.shape[:2] == (size, size))
    if not (shape_ok and np.issubdtype(image.dtype, np.floating)):
        raise ImageFormatError(
            path,
            f"dataset 'img' is a {image.dtype} array of shape {image.shape}; Landslide4Sense patches are "
            f"{PATCH}×{PATCH}×{len(BANDS)} floats (B1–B12, slope, DEM)",
            _fix(),
        )


def _check_mask(path: Path, mask: np.ndarray) -> None:
    """Raise unless ``mask`` is 2-D and holds only 0 and 1.

    Raises:
        ImageFormatError: Not a 2-D array of numbers.
        MaskValueError: Values other than 0 and 1 (NaN included).
    """
    if mask.ndim != 2 or not (np.issubdtype(mask.dtype, np.number) or mask.dtype == np.bool_):
        raise ImageFormatError(
            path, f"dataset 'mask' is a {mask.dtype} array of shape {mask.shape}; expected {PATCH}×{PATCH} 0/1", _fix()
        )
    values = np.unique(mask)
    bad = values[~np.isin(values, (0, 1))]
    if bad.size:
        shown = ", ".join(str(v) for v in bad[:8].tolist())
        raise MaskValueError(path, f"mask has values outside {{0, 1}}: {shown}", _fix())


def _numbered(folder: Path, pattern: re.Pattern[str]) -> dict[int, Path]:
    """The files of ``folder`` whose names match ``pattern``, by their number."""
    if not folder.is_dir():
        return {}
    return {int(m[1]): p for p in folder.iterdir() if (m := pattern.match(p.name)) and p.is_file()}


class Landslide4SenseSource(StandardisedSource):
    """Landslide4Sense's training patches ``<root>/TrainData/{img,mask}/`` as standard tiles."""

    name = "landslide4sense"
    title = TITLE
    homepage = (
        "https://github.com/iarai/Landslide4Sense-2022 (download links of the original release); a later copy with "
        "more labels: https://doi.org/10.5281/zenodo.10463239"
    )
    layout = (
        "<root>/TrainData/img/image_N.h5 (HDF5 dataset 'img', 128×128×14 floats) and <root>/TrainData/mask/mask_N.h5 "
        "(dataset 'mask', 128×128, 0/1), as in the original release; ValidData/ and TestData/ (no masks) are ignored"
    )
    mask_encoding = "HDF5 dataset 'mask' in TrainData/mask/mask_N.h5, 128×128: 1 = landslide, 0 = background"

    def __init__(self) -> None:
        self.options = {}
        self._stretches: dict[Path, Stretch] = {}

    def _missing_fix(self) -> str:
        return f"download Landslide4Sense from {self.homepage} and unpack it as: {self.layout}"

    def scan(self, root: str | Path, subdatasets: Iterable[str] | None = None) -> Scan:
        """Pair ``image_N.h5`` with ``mask_N.h5`` by ``N``; the first pair's format is checked.

        Args:
            root: The folder holding ``TrainData/``.
            subdatasets: Landslide4Sense has none; only ``landslide4sense`` itself is accepted.

        Raises:
            DatasetNotFoundError: ``root`` is missing, or has no ``TrainData/img`` and ``TrainData/mask`` with patches.
            ImageFormatError: The first image is not 128×128×14 floats under ``img``, or its mask has no ``mask``.
            MaskValueError: The first mask holds values other than 0 and 1.
            UnreadableTileError: h5py cannot read the first image or mask.
            UnknownSubDatasetError: ``subdatasets`` names something other than ``landslide4sense``.
        """
        for name in subdatasets or ():
            self.subdataset_key(name)
        root = Path(root)
        if not root.is_dir():
            raise DatasetNotFoundError(root, "this Landslide4Sense root does not exist", self._missing_fix())
        train = root / "TrainData"
        images, masks = _numbered(train / "img", _IMAGE), _numbered(train / "mask", _MASK)
        if not images or not (train / "mask").is_dir():
            raise DatasetNotFoundError(
                root, "has no TrainData/img/image_N.h5 patches with a TrainData/mask folder", self._missing_fix()
            )
        found = Scan(root)
        label = self.record_source(root)
        for number, image in images.items():
            mask = masks.get(number)
            if mask is None:
                found.problems.append(
                    MissingPartnerError(image, f"has no mask TrainData/mask/mask_{number}.h5", _fix())
                )
            else:
                found.records.append(
                    TileRecord(subdataset=self.name, group=ALL, name=image.stem, image=image, mask=mask, source=label)
                )
        found.problems.extend(
            MissingPartnerError(mask, f"has no image TrainData/img/image_{number}.h5", _fix())
            for number, mask in sorted(masks.items())
            if number not in images
        )
        found.problems.sort(key=lambda p: str(p.path))
        found.records.sort(key=lambda r: r.name)
        if found.records:
            first = found.records[0]
            assert first.mask is not None
            _check_image(first.image, _read(first.image, "img"), PATCH)
            _check_mask(first.mask, _read(first.mask, "mask"))
        return found

    def _stretch_of(self, folder: Path) -> Stretch:
        """The stretch of bands 3, 2, 1 over a seeded sample of the patches in ``folder`` (``TrainData/img``).

        Raises:
            TileError: ``folder`` holds no patches.
            ImageFormatError: A sampled patch is not in the format, or a band has no finite value in the sample.
            UnreadableTileError: A sampled patch cannot be read; every read names it until it is replaced.
        """
        cached = self._stretches.get(folder)
        if cached is not None:
            return cached
        patches = sorted(_numbered(folder, _IMAGE).values(), key=lambda p: p.name)
        if not patches:
            raise TileError(folder, "holds no image_N.h5 patches to compute the uint8 stretch from", self._missing_fix())
        samples = []
        for path in (patches[i] for i in sample_indices(len(patches), SAMPLE_PATCHES, seed=0)):
            image = _read(path, "img")
            _check_image(path, image, None)
            samples.append(np.moveaxis(image[..., list(RGB_BANDS)], -1, 0))
        stretch = training_stretch(samples, folder, "the B4, B3, B2 patches sampled", _fix())
        self._stretches[folder] = stretch
        return stretch

    def stretch(self, root: str | Path) -> Stretch:
        """The uint8 stretch of the patches under ``root`` (see the module's description).

        Raises:
            TileError: ``root/TrainData/img`` holds no patches.
            ImageFormatError: A sampled patch is not in the format, or a band has no finite value in the sample.
            UnreadableTileError: A sampled patch cannot be read.
        """
        return self._stretch_of(Path(root) / "TrainData" / "img")

    def load(self, record: TileRecord) -> tuple[np.ndarray, np.ndarray]:
        """The patch's B4, B3, B2 stretched to uint8 (NaN → 0) and its 0/1 mask.

        Raises:
            TileError: The record has no mask, or its folder holds no patches to compute the stretch from.
            ImageFormatError: The image is not H×W×14 floats under ``img``, or the mask has no ``mask``.
            MaskValueError: The mask holds values other than 0 and 1 (NaN included).
            UnreadableTileError: A file (or a patch sampled for the stretch) cannot be read.
        """
        if record.mask is None:
            raise TileError(record.image, "tile record has no mask", "pair the image with its mask before reading")
        image = _read(record.image, "img")
        _check_image(record.image, image, None)
        mask = _read(record.mask, "mask")
        _check_mask(record.mask, mask)
        stretch = self._stretch_of(record.image.parent)
        return stretch.apply(np.moveaxis(image[..., list(RGB_BANDS)], -1, 0)), mask.astype(np.uint8)[None]


# ---------------------------------------------------------------------- stand-in

_MEAN = np.array([0.30, 0.28, 0.30, 0.27, 0.33, 0.40, 0.43, 0.45, 0.20, 0.02, 0.35, 0.26], np.float32)
_STD = np.array([0.08, 0.09, 0.10, 0.11, 0.10, 0.12, 0.13, 0.14, 0.06, 0.01, 0.10, 0.09], np.float32)
"""The reflectance mean and std the stand-in's twelve Sentinel-2 bands are standardised with."""


def _sentinel_bands(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(3, h, w)`` uint8 RGB as ``(h, w, 14)`` float32 standardised layers, B1–B12, slope, DEM."""
    r, g, b = rgb.astype(np.float32) / np.float32(255.0)
    h, w = r.shape
    nir = np.clip(0.6 * (r + g + b) / 3 + 2.0 * np.maximum(g - r, 0) + 0.1, 0, 1)
    vapour = 0.15 + 0.1 * fractal_noise(rng, (h, w), 64.0)
    reflectance = np.stack(
        [0.8 * b + 0.05, b, g, r, 0.7 * r + 0.3 * nir, 0.4 * r + 0.6 * nir, 0.2 * r + 0.8 * nir, nir,
         vapour, np.full((h, w), 0.02, np.float32), 0.6 * r + 0.3 * nir, 0.7 * r + 0.1 * nir],
        axis=-1,
    )
    reflectance += rng.normal(0, 0.01, reflectance.shape).astype(np.float32)
    dem = 800 + 1200 * fractal_noise(rng, (h, w), 48.0)
    dy, dx = np.gradient(dem, 10.0)
    slope = np.degrees(np.arctan(np.hypot(dx, dy)))
    return np.concatenate(
        [(reflectance - _MEAN) / _STD, ((slope - 15) / 10)[..., None], ((dem - 1400) / 300)[..., None]], axis=-1
    ).astype(np.float32)


def _write_h5(path: Path, key: str, data: np.ndarray) -> None:
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset(key, data=data)


def write_stand_in(root: str | Path, *, seed: int = 0, train: int = 64, valid: int = 8) -> Path:
    """Write a synthetic Landslide4Sense in the original release's format, then the marker.

    ``TrainData/img/image_N.h5`` (``img``: float32 128×128×14, the painted RGB in bands 3, 2, 1 and plausible
    other bands, each standardised so values go negative too; NaN in a 6×6 block of patches 2 and 5) with
    ``TrainData/mask/mask_N.h5`` (``mask``: uint8 128×128, 0/1), N from 1; ``ValidData/img/image_N.h5``
    without masks. Every picture is drawn from ``seed``.

    Returns:
        ``root``.
    """
    root = Path(root)
    style = stand_in_style(TITLE, satellite=True, resolution_m=10.0)
    for folder, count, offset in (("TrainData", train, 0), ("ValidData", valid, train)):
        for number in range(1, count + 1):
            index = offset + number - 1
            rgb, mask = paint(style, seed, TITLE, index, PATCH)
            image = _sentinel_bands(rgb, np.random.default_rng([seed, index, 14]))
            if folder == "TrainData" and number in (2, 5):
                image[40:46, 70:76, :] = np.nan
            _write_h5(root / folder / "img" / f"image_{number}.h5", "img", image)
            if folder == "TrainData":
                _write_h5(root / folder / "mask" / f"mask_{number}.h5", "mask", mask.astype(np.uint8))
    write_marker(root, TITLE, seed, {"train": train, "valid": valid, "size": PATCH})
    return root
