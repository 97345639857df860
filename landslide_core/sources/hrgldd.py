"""HR-GLDD (Meena et al., ESSD 15, 3283–3298, 2023) as a tile source: NumPy arrays with their own split.

Zenodo record 7189381 serves six plain ``.npy`` files: ``trainX``/``trainY``,
``valX``/``valY`` and ``testX``/``testY`` (:data:`SPLIT_ROWS`: 1119/284/355 rows). Images are
N×128×128×4 floats of about 0–1 (PlanetScope, 3 m); masks are N×128×128×1, landslide where ≥ 0.5.
Which channels are red, green and blue is ours (:data:`RGB`): the dataset's description does not fix the
band order, and the arrays may be B, G, R, NIR, hence the ``rgb`` option.

Each array row is one record (``train_00012`` …), image and mask files being the
arrays themselves; the training rows keep the split ``train`` and the held-out
arrays (``val`` or ``test``) the split ``val``. Rows are read through memory
maps, so a record costs one row, not the array. RGB floats become uint8 with a
:class:`~.standardize.Stretch` (percentiles 2/98 per channel) computed on a
seeded sample of up to 256 rows of ``trainX.npy``; the same arrays always give
the same stretch and so the same bytes. The download fetches the record's files
with md5 checks and resume (:mod:`.zenodo`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    ConfigError,
    DatasetNotFoundError,
    ImageFormatError,
    MaskValueError,
    MissingPartnerError,
    TileError,
    UnknownSubDatasetError,
    UnreadableTileError,
)
from ..io.atomic import atomic_path
from ..tiles import TileRecord
from . import zenodo
from .base import ALL, Scan, StandardisedSource
from .stand_in import paint, stand_in_style
from .stand_in_marker import write_marker
from .standardize import Stretch, sample_indices, training_stretch

__all__ = [
    "HELD_OUT", "RGB", "SAMPLE_ROWS", "SPLIT_ROWS", "ZENODO_RECORD", "HRGLDDSource", "download", "select_files",
    "write_stand_in",
]

ZENODO_RECORD = 7189381
"""The Zenodo record HR-GLDD is published in."""
SPLITS = ("train", "val", "test")
SPLIT_ROWS = {"train": 1119, "val": 284, "test": 355}
"""Rows (images) of each split's arrays in the Zenodo record."""
RGB = (0, 1, 2)
"""Ours: the channels read as red, green and blue by default (R, G, B, NIR); the arrays may be B, G, R, NIR."""
HELD_OUT = ("val", "test")
"""The arrays that can serve as the held-out (``val``) part."""
SAMPLE_ROWS = 256
"""Rows of ``trainX.npy`` (drawn with seed 0) the uint8 stretch is computed from."""
TITLE = "HR-GLDD"
_ROW_NAME = re.compile(r"^(?P<split>train|val|test)_(?P<row>\d+)$")
_Signature = tuple[int, int, int]


def _signature(path: Path) -> _Signature:
    """What identifies one version of a file: replaced or rewritten files get another."""
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _format_fix() -> str:
    return (
        f"use the arrays as published on Zenodo record {ZENODO_RECORD} (`landslide-core download --source hr-gldd`)"
        ", or convert yours to float32 N×H×W×4 images and N×H×W×1 masks"
    )


def _open_array(path: Path) -> np.ndarray:
    """A read-only memory map of a ``.npy`` file.

    Raises:
        UnreadableTileError: NumPy cannot open it as an array (missing, truncated, pickled objects …).
    """
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UnreadableTileError(
            path,
            f"NumPy cannot read this array ({exc})",
            f"download it again from Zenodo record {ZENODO_RECORD} (`landslide-core download --source hr-gldd`)",
        ) from exc


def _check_images(path: Path, images: np.ndarray) -> None:
    """Raise unless ``images`` is N×H×W×4 floating point, as HR-GLDD's ``…X.npy`` arrays are.

    Raises:
        ImageFormatError: Another shape or data type.
    """
    if images.ndim != 4 or images.shape[-1] != 4 or not np.issubdtype(images.dtype, np.floating):
        raise ImageFormatError(
            path,
            f"holds a {images.dtype} array of shape {images.shape}; HR-GLDD images are N×128×128×4 floats "
            "(four bands: red, green, blue and near-infrared)",
            _format_fix(),
        )


def _check_masks(path: Path, masks: np.ndarray, images_path: Path, images: np.ndarray) -> None:
    """Raise unless ``masks`` is numeric N×H×W×1 (or N×H×W) on the pixel grid of ``images``.

    Raises:
        ImageFormatError: Another shape or a non-numeric type.
    """
    shape_ok = masks.ndim == 3 or (masks.ndim == 4 and masks.shape[-1] == 1)
    numeric = np.issubdtype(masks.dtype, np.number) or masks.dtype == np.bool_
    if not (shape_ok and numeric and masks.shape[1:3] == images.shape[1:3]):
        raise ImageFormatError(
            path,
            f"holds a {masks.dtype} array of shape {masks.shape}; the masks of {images_path.name} "
            f"{images.shape} must be N×{images.shape[1]}×{images.shape[2]}×1 numbers",
            _format_fix(),
        )


class HRGLDDSource(StandardisedSource):
    """HR-GLDD's arrays ``<root>/{train,val,test}{X,Y}.npy`` (or one folder down) as standard tiles.

    Args:
        held_out: Which arrays are the held-out (``val``) part: ``val`` or ``test``; the other is not listed.
        rgb: The channels of the ``…X.npy`` arrays that are red, green and blue; ours by default (:data:`RGB`),
            e.g. ``[2, 1, 0]`` for B, G, R, NIR.

    Raises:
        ConfigError: ``held_out`` is not ``val`` or ``test``, or ``rgb`` is not three channel indices 0–3.
    """

    name = "hr-gldd"
    title = TITLE
    homepage = f"https://zenodo.org/records/{ZENODO_RECORD}"
    layout = (
        "<root>/trainX.npy, trainY.npy, valX.npy, valY.npy, testX.npy, testY.npy, the six files of the Zenodo record "
        "as downloaded (the record serves plain .npy files, no archive); the same files one folder down "
        "(<root>/<folder>/trainX.npy …) are found too"
    )
    mask_encoding = "N×128×128×1 numbers per split (trainY.npy, valY.npy, testY.npy): landslide where ≥ 0.5"

    def __init__(self, held_out: str = "val", rgb: Sequence[int] = RGB) -> None:
        if held_out not in HELD_OUT:
            raise ConfigError(f"HR-GLDD held_out must be one of {', '.join(HELD_OUT)}; got {held_out!r}")
        channels = list(rgb)
        if len(channels) != 3 or not all(isinstance(c, int) and 0 <= c <= 3 for c in channels):
            raise ConfigError(f"HR-GLDD rgb must be three channel indices 0–3 (e.g. [0, 1, 2]); got {rgb!r}")
        self.held_out = held_out
        self.rgb = channels
        self.options = {"held_out": held_out, "rgb": channels}
        self._arrays: dict[Path, tuple[_Signature, np.ndarray]] = {}
        self._stretches: dict[Path, tuple[_Signature, Stretch]] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the memory maps (a pickled map would carry the whole array); workers reopen them."""
        return {**self.__dict__, "_arrays": {}}

    # ------------------------------------------------------------------ layout

    def _missing_fix(self, root: Path) -> str:
        return (
            f"download HR-GLDD from {self.homepage} (`landslide-core download --source hr-gldd --root {root}`) "
            f"so that the layout is: {self.layout}"
        )

    def folder(self, root: str | Path) -> Path:
        """The folder holding the arrays: ``root`` itself, or the one folder directly inside it that holds them.

        Raises:
            DatasetNotFoundError: ``root`` does not exist, or neither it nor exactly one folder inside it holds
                ``trainX.npy``.
        """
        root = Path(root)
        if not root.is_dir():
            raise DatasetNotFoundError(root, "this HR-GLDD root does not exist", self._missing_fix(root))
        if (root / "trainX.npy").is_file():
            return root
        inside = sorted(
            p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "trainX.npy").is_file()
        )
        if len(inside) == 1:
            return inside[0]
        if inside:
            raise DatasetNotFoundError(
                root,
                f"several folders hold HR-GLDD arrays ({', '.join(p.name for p in inside)})",
                "pass the one to use as the root",
            )
        raise DatasetNotFoundError(
            root, "holds no trainX.npy, nor does any folder directly inside it", self._missing_fix(root)
        )

    def _pair(self, folder: Path, split: str, found: Scan, label: str) -> None:
        """Add the records of one split's arrays (checked) to ``found``, or the problem that stops them.

        Raises:
            DatasetNotFoundError: Neither array of the split exists.
            ImageFormatError: An array is not in HR-GLDD's format.
            UnreadableTileError: NumPy cannot read an array.
        """
        x_path, y_path = folder / f"{split}X.npy", folder / f"{split}Y.npy"
        if not x_path.is_file() and not y_path.is_file():
            other = "pass held_out='test' (--source-option held_out test) or " if split == "val" else ""
            raise DatasetNotFoundError(
                folder,
                f"has no {x_path.name} or {y_path.name}",
                f"{other}download the missing arrays from {self.homepage}",
            )
        for have, lack in ((x_path, y_path), (y_path, x_path)):
            if not lack.is_file():
                found.problems.append(
                    MissingPartnerError(have, f"has no partner {lack.name} beside it", f"download {lack.name} from "
                                        f"{self.homepage} into {folder}")
                )
                return
        images, masks = self._array(x_path), self._array(y_path)
        _check_images(x_path, images)
        _check_masks(y_path, masks, x_path, images)
        rows = min(len(images), len(masks))
        if len(images) != len(masks):
            longer = x_path if len(images) > len(masks) else y_path
            found.problems.append(
                MissingPartnerError(
                    longer,
                    f"has {max(len(images), len(masks))} rows but its partner has {rows}; rows {rows} to "
                    f"{max(len(images), len(masks)) - 1} have no partner",
                    f"download both {x_path.name} and {y_path.name} again from {self.homepage}",
                )
            )
        split_of_record = "train" if split == "train" else "val"
        found.records.extend(
            TileRecord(
                subdataset=self.name, group=ALL, name=f"{split}_{i:05d}", image=x_path, mask=y_path, source=label,
                split=split_of_record,
            )
            for i in range(rows)
        )

    def scan(self, root: str | Path, subdatasets: Iterable[str] | None = None) -> Scan:
        """One record per row of the training arrays and of the held-out arrays; array headers are checked.

        Args:
            root: The folder holding the arrays (or holding one folder that does).
            subdatasets: HR-GLDD has none; only ``hr-gldd`` itself is accepted.

        Raises:
            DatasetNotFoundError: ``root`` is missing or not in the layout (see :attr:`layout`).
            ImageFormatError: An array is not N×H×W×4 floats, or its masks are not N×H×W×1 on the same grid.
            UnreadableTileError: NumPy cannot read an array.
            UnknownSubDatasetError: ``subdatasets`` names something other than ``hr-gldd``.
        """
        for name in subdatasets or ():
            self.subdataset_key(name)
        folder = self.folder(root)
        found = Scan(Path(root))
        label = self.record_source(folder)
        for split in ("train", self.held_out):
            self._pair(folder, split, found, label)
        found.records.sort(key=lambda r: r.name)
        return found

    # ------------------------------------------------------------------ pixels

    def _array(self, path: Path) -> np.ndarray:
        """The memory map of ``path``, opened once per version of the file.

        Raises:
            UnreadableTileError: The file is missing or NumPy cannot read it.
        """
        try:
            signature = _signature(path)
        except OSError as exc:
            raise UnreadableTileError(path, f"cannot open this array ({exc})", self._missing_fix(path.parent)) from exc
        cached = self._arrays.get(path)
        if cached is None or cached[0] != signature:
            cached = (signature, _open_array(path))
            self._arrays[path] = cached
        return cached[1]

    def _stretch_of(self, train_x: Path) -> Stretch:
        """The stretch of the ``rgb`` channels of ``trainX.npy``, computed once per version of that file.

        Raises:
            ImageFormatError: ``trainX.npy`` is not HR-GLDD images, or a channel has no finite value in the sample.
            UnreadableTileError: It cannot be read.
        """
        images = self._array(train_x)
        signature = self._arrays[train_x][0]
        cached = self._stretches.get(train_x)
        if cached is not None and cached[0] == signature:
            return cached[1]
        _check_images(train_x, images)
        rows = sample_indices(len(images), SAMPLE_ROWS, seed=0)
        samples = np.moveaxis(np.asarray(images[rows][..., self.rgb], np.float64), -1, 1)
        stretch = training_stretch(samples, train_x, "the rows sampled", _format_fix())
        self._stretches[train_x] = (signature, stretch)
        return stretch

    def stretch(self, root: str | Path) -> Stretch:
        """The uint8 stretch of the data under ``root`` (see the module's description).

        Raises:
            DatasetNotFoundError: ``root`` is not in the layout.
            ImageFormatError: ``trainX.npy`` is not HR-GLDD images, or a channel has no finite value in the sample.
            UnreadableTileError: ``trainX.npy`` cannot be read.
        """
        return self._stretch_of(self.folder(root) / "trainX.npy")

    def load(self, record: TileRecord) -> tuple[np.ndarray, np.ndarray]:
        """Row ``N`` of the record's arrays: RGB stretched to uint8 (NaN → 0) and the mask thresholded at 0.5.

        Raises:
            TileError: The record's name is not ``<split>_<row>``, it has no mask, or the row is not in the arrays.
            ImageFormatError: An array is not in HR-GLDD's format.
            MaskValueError: The mask row holds NaN.
            UnreadableTileError: An array (or ``trainX.npy`` beside it, for the stretch) cannot be read.
        """
        match = _ROW_NAME.match(record.name)
        if match is None or record.mask is None:
            raise TileError(
                record.image,
                f"record {record.name!r} is not an HR-GLDD row with a mask (names are <split>_<row>, e.g. train_00012)",
                "list the tiles again from the data root instead of editing the records",
            )
        row = int(match["row"])
        images, masks = self._array(record.image), self._array(record.mask)
        _check_images(record.image, images)
        _check_masks(record.mask, masks, record.image, images)
        if row >= min(len(images), len(masks)):
            raise TileError(
                record.image,
                f"has no row {row} with a mask ({len(images)} image rows, {len(masks)} mask rows)",
                "make the split manifest again from this data root",
            )
        stretch = self._stretch_of(record.image.parent / "trainX.npy")
        image = stretch.apply(np.moveaxis(np.asarray(images[row][..., self.rgb], np.float64), -1, 0))
        labels = np.asarray(masks[row], np.float64).reshape(masks.shape[1], masks.shape[2])
        if not np.isfinite(labels).all():
            raise MaskValueError(
                record.mask,
                f"mask row {row} holds NaN",
                "set NaN mask pixels to 0 (background) or 1 (landslide) in the array",
            )
        return image, (labels >= 0.5).astype(np.uint8)[None]

    # ------------------------------------------------------------------ download

    def download(self, names: Iterable[str], root: str | Path, **options: object) -> list[Path]:
        """Fetch the record's files into ``root``, md5-verified and resumable (see :func:`download`)."""
        return download(names, root, **options)  # type: ignore[arg-type]


def select_files(files: list[zenodo.ZenodoFile], names: Iterable[str]) -> list[zenodo.ZenodoFile]:
    """The record files ``names`` ask for: every file for no names (or ``hr-gldd``), else those file names.

    Raises:
        UnknownSubDatasetError: A name is neither ``hr-gldd`` nor a file of the record.
    """
    names = [names] if isinstance(names, str) else list(names)
    wanted = [n for n in names if n.lower() != HRGLDDSource.name]
    if not wanted:
        return list(files)
    by_key = {f.key.lower(): f for f in files}
    unknown = [n for n in wanted if n.lower() not in by_key]
    if unknown:
        raise UnknownSubDatasetError(
            f"HR-GLDD has no sub-datasets; got {', '.join(map(repr, unknown))}. Ask for 'hr-gldd' (every file) or "
            f"file names of Zenodo record {ZENODO_RECORD}: {', '.join(f.key for f in files)}"
        )
    return list(dict.fromkeys(by_key[n.lower()] for n in wanted))


def download(
    names: Iterable[str],
    root: str | Path,
    *,
    record: int = ZENODO_RECORD,
    api_url: str | None = None,
    progress: bool = True,
    keep_archives: bool = False,
    echo: Callable[[str], None] = print,
) -> list[Path]:
    """Download HR-GLDD from Zenodo into ``root``: every file of the record, md5-verified, resumable.

    Says how much it will fetch before fetching anything; safe to run again (files
    in place are skipped, partial downloads resume). ``.npy`` and other plain files
    go to ``root/<name>``; a zip is unpacked to ``root/<zip stem>/`` (its one top
    folder unwrapped), where :meth:`HRGLDDSource.scan` finds arrays one folder down.

    Args:
        names: Empty or ``hr-gldd`` for every file; else file names of the record (see :func:`select_files`).
        root: The data root.
        record: The Zenodo record id.
        api_url: The Zenodo API base URL (default: ``$LANDSLIDE_CORE_ZENODO_API``, else zenodo.org).
        progress: Show progress bars.
        keep_archives: Keep a second copy of each download in ``root/.downloads`` (off: the arrays are large).
        echo: Where progress lines go.

    Returns:
        Where each selected file ended up: the record's order for every file, else the order asked for.

    Raises:
        UnknownSubDatasetError: A name is neither ``hr-gldd`` nor a file of the record.
        DownloadError: Listing, fetching, verifying (md5) or unpacking a file fails.
    """
    root = Path(root)
    files = select_files(zenodo.fetch_record(record, api_url), names)
    targets = [
        zenodo.Target(f, root / Path(f.key).stem, True) if f.key.lower().endswith(".zip")
        else zenodo.Target(f, root / f.key, False)
        for f in files
    ]
    return zenodo.fetch_targets(targets, root, record=record, progress=progress, keep_archives=keep_archives,
                                echo=echo)


# ---------------------------------------------------------------------- stand-in


def _planet_bands(rgb: np.ndarray) -> np.ndarray:
    """``(3, h, w)`` uint8 RGB as ``(h, w, 4)`` float32 R, G, B, NIR in [0, 1]; NIR is bright where green beats red."""
    r, g, b = (rgb.astype(np.float32) / np.float32(255.0))
    nir = np.clip(0.6 * (r + g + b) / 3 + 2.0 * np.maximum(g - r, 0) + 0.1, 0, 1)
    return np.stack([r, g, b, nir], axis=-1).astype(np.float32)


def _save(path: Path, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp, open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)


def write_stand_in(root: str | Path, *, seed: int = 0, train: int = 48, val: int = 12, test: int = 12) -> Path:
    """Write a synthetic HR-GLDD in its exact format: the six ``.npy`` arrays at ``root``, then the marker.

    Images are float32 N×128×128×4 in [0, 1] (painted RGB / 255 and a NIR band bright on vegetation), masks
    float32 N×128×128×1 in {0, 1}; every picture is drawn from ``seed``.

    Returns:
        ``root``.
    """
    root = Path(root)
    style = stand_in_style(TITLE, satellite=True, resolution_m=3.0)
    index = 0
    for split, count in zip(SPLITS, (train, val, test), strict=True):
        images = np.zeros((count, 128, 128, 4), np.float32)
        masks = np.zeros((count, 128, 128, 1), np.float32)
        for i in range(count):
            rgb, mask = paint(style, seed, TITLE, index, 128)
            images[i], masks[i, ..., 0] = _planet_bands(rgb), mask
            index += 1
        _save(root / f"{split}X.npy", images)
        _save(root / f"{split}Y.npy", masks)
    write_marker(root, TITLE, seed, {"train": train, "val": val, "test": test, "size": 128})
    return root
