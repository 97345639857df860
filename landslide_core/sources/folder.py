"""Any folder of images and folder of masks, as standard 512×512 RGB tiles with 0/1 masks.

For datasets nobody wrote a source for: images in one folder and masks in another
(or the same one), in any format rasterio reads (PNG, JPEG, TIFF, BMP), any size,
one band (grey, repeated to RGB) or three or more (the first three taken), 8-bit.

**Pairing.** Image and mask stems follow patterns with one ``{id}`` field, e.g.
``Landslide{id}`` and ``LandslideLabel{id}``; an image and a mask pair when their
ids are equal, and the record is named by the id. An image file whose stem does
not match its folder's pattern is left out and listed in :attr:`Scan.ignored`
(files of other types are skipped without a note); an id
with an image but no mask (or the reverse) is a :class:`MissingPartnerError`. When
images and masks share a folder, a stem matching both patterns belongs to the
pattern with more fixed characters (``LandslideLabel001`` is a mask, not the image
``Landslide{id}`` with id ``Label001``); on a tie, the image pattern.

**Names that follow other patterns.** When images and masks are in different
folders and no image pairs with a mask (or a folder holds no file matching its
pattern), :func:`pairing_rule` looks at the names. If every image stem and every
mask stem is a fixed start, an id and a fixed end, and the ids pair the files one
to one (``Landslide001.png`` with ``LandslideLabel001.png`` as the public copies of
Sichuan have them, or ``001.png`` with ``001_label.png``), the scan fails with one
error naming the exact ``--image-pattern`` and ``--mask-pattern`` to pass (a
:class:`MissingPartnerError` instead of one per file; for a folder without a
matching file, its :class:`DatasetNotFoundError`). It does not pair them by itself:
the patterns are the source's options, recorded with every run and record, so they
have to say how the files were paired. Otherwise the problems are reported as
without it.

**Masks.** ``mask_colour`` reads RGB masks (landslide where the pixel is exactly
that colour); ``mask_value`` reads single-band masks (landslide where the value
is ``N``); with neither, masks must be single-band with at most two values, 0
being background and the other landslide. :meth:`FolderSource.scan` checks the
first mask and fails with the values or colours found and their shares (e.g.
``#000000 92 %, #ff0000 8 %``) and the option to pass; a JPEG mask, whose
compression blurs values and colours, is named as such.

**Standardising.** ``fit="resize"`` (the default) makes each image one tile,
resized to 512×512 (:func:`.standardize.resize_pair`). This is our reading, the most
likely one, of the paper's “we standardized the image to a resolution of 512 × 512
pixels”: its Table 7 training counts (770 Bijie, 59 Sichuan, 1,119 HR-GLDD, 3,799
Landslide4Sense) equal the numbers of images of the parts trained on, whereas
cutting the 1181×1181 Sichuan images would have given several tiles each, and
128×128 patches cannot be cut to 512 at all (see :mod:`.standardize`).
``fit="tile"`` cuts each image into side-by-side 512×512 windows
(:func:`.standardize.windows`, the last row and column flush with the edge) named
:func:`.standardize.window_name`, read window by window; an image smaller than one
window is a :class:`TileSizeError`.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from rasterio.windows import Window
from tqdm import tqdm

from ..errors import (
    ConfigError,
    DatasetNotFoundError,
    ImageFormatError,
    MaskValueError,
    MissingPartnerError,
    NoDirectDownloadError,
    PathProblemError,
    TileError,
    TileSizeError,
)
from ..io.raster import read_info, read_raster, write_raster
from ..tiles import TileRecord
from .base import ALL, Scan, StandardisedSource
from .stand_in import paint, stand_in_style
from .stand_in_marker import write_marker
from .standardize import FITS, STANDARD_SIZE, parse_window_name, window_name, windows

__all__ = [
    "COLOURS", "IMAGE_SUFFIXES", "FolderSource", "describe_values", "image_files", "pairing_rule", "parse_colour",
    "value_shares", "write_stand_in",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
"""File endings read as images or masks (any case)."""
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0), "yellow": (255, 255, 0), "magenta": (255, 0, 255), "green": (0, 255, 0),
    "blue": (0, 0, 255), "cyan": (0, 255, 255), "white": (255, 255, 255),
}
"""Colour names ``mask_colour`` accepts besides ``#rrggbb``."""

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
_LOSSY = (".jpg", ".jpeg")


def parse_colour(colour: str) -> tuple[int, int, int]:
    """``(r, g, b)`` of ``#rrggbb`` (the ``#`` optional) or of a name in :data:`COLOURS`.

    Raises:
        ConfigError: Neither a hex colour nor a known name.
    """
    named = COLOURS.get(colour.strip().lower())
    if named is not None:
        return named
    match = _HEX.match(colour.strip())
    if not match:
        raise ConfigError(f"mask colour {colour!r} is not '#rrggbb' nor one of {', '.join(COLOURS)}")
    value = int(match[1], 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _packed(mask: np.ndarray) -> np.ndarray:
    """The first three bands of a uint8 mask as one ``0xrrggbb`` integer per pixel."""
    rgb = mask[:3].astype(np.uint32)
    return (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]


def value_shares(mask: np.ndarray) -> list[tuple[str, float]]:
    """Distinct values of a ``(bands, h, w)`` mask with their shares of the pixels, commonest first.

    A mask of three or more uint8 bands is read as colours (first three bands, written ``#rrggbb``); any
    other mask by its first band.
    """
    if mask.shape[0] >= 3 and mask.dtype == np.uint8:
        values, counts = np.unique(_packed(mask), return_counts=True)
        labels = [f"#{int(v):06x}" for v in values]
    else:
        values, counts = np.unique(mask[0], return_counts=True)
        labels = [str(v) for v in values.tolist()]
    order = np.argsort(-counts, kind="stable")
    total = float(counts.sum())
    return [(labels[i], float(counts[i]) / total) for i in order]


def describe_values(shares: list[tuple[str, float]], limit: int = 6) -> str:
    """``#000000 92 %, #ff0000 8 %``: the ``limit`` commonest values of :func:`value_shares`, and how many more."""

    def percent(share: float) -> str:
        p = share * 100
        return f"{p:.0f} %" if p >= 1 else f"{p:.2g} %"

    text = ", ".join(f"{label} {percent(share)}" for label, share in shares[:limit])
    return text + (f", and {len(shares) - limit} more" if len(shares) > limit else "")


def _lossy_note(path: Path) -> str:
    return " (this mask is a JPEG: its compression blurs values and colours, so save masks as PNG or TIFF)" \
        if path.suffix.lower() in _LOSSY else ""


def _compile(pattern: str, option: str) -> re.Pattern[str]:
    if pattern.count("{id}") != 1:
        raise ConfigError(f"{option} {pattern!r} must contain the field {{id}} exactly once, e.g. 'Landslide{{id}}'")
    before, after = pattern.split("{id}")
    return re.compile(f"{re.escape(before)}(?P<id>.+){re.escape(after)}")


def pairing_rule(images: list[str], masks: list[str]) -> tuple[str, str] | None:
    """The image and mask stem patterns under which ``images`` and ``masks`` pair one to one, or ``None``.

    Each pattern is the start and the end that all stems of its kind share, with ``{id}`` between; what both
    kinds share next to the id goes back into it, so ``Landslide0…``/``LandslideLabel0…`` give ``Landslide{id}``
    and ``LandslideLabel{id}`` with ids ``001``…, not ``01``…. ``None`` when the counts differ, an id is empty,
    two files of a kind have one id, or an id has no partner.
    """
    if not images or len(images) != len(masks):
        return None
    fixed = []
    for stems in (images, masks):
        start = os.path.commonprefix(stems)
        end = os.path.commonprefix([s[len(start):][::-1] for s in stems])[::-1]
        fixed.append((start, end))
    (image_start, image_end), (mask_start, mask_end) = fixed
    shared = len(os.path.commonprefix([image_start[::-1], mask_start[::-1]]))
    image_start, mask_start = image_start[:len(image_start) - shared], mask_start[:len(mask_start) - shared]
    shared = len(os.path.commonprefix([image_end, mask_end]))
    image_end, mask_end = image_end[shared:], mask_end[shared:]
    patterns = f"{image_start}{{id}}{image_end}", f"{mask_start}{{id}}{mask_end}"
    ids = []
    for stems, pattern in zip((images, masks), patterns, strict=True):
        matches = [_compile(pattern, "pattern").fullmatch(stem) for stem in stems]
        found = {match["id"] for match in matches if match}
        if len(found) != len(stems):
            return None
        ids.append(found)
    return patterns if ids[0] == ids[1] else None


def image_files(folder: Path) -> list[Path]:
    """Files of :data:`IMAGE_SUFFIXES` directly in ``folder`` (hidden ones left out), sorted."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


def _image_format_problem(path: Path, count: int, dtype: str) -> ImageFormatError | None:
    """Why an image with this band count and data type cannot be read as RGB, or ``None``."""
    if dtype != "uint8":
        return ImageFormatError(path, f"image has {count} band(s) of {dtype}; the folder source reads 8-bit images",
                                "convert it to 8-bit, e.g. `gdal_translate -ot Byte -scale IN OUT`")
    if count == 2:
        return ImageFormatError(path, "image has 2 bands (grey and alpha?); expected 1 (grey) or 3 or more (RGB…)",
                                "save it as greyscale or RGB, e.g. `gdal_translate -b 1 IN OUT`")
    return None


class FolderSource(StandardisedSource):
    """Images in one folder, masks in another, paired by an ``{id}`` in their stems (see the module docstring).

    Args:
        images: The image folder, relative to the root (``"."``: the root itself) or absolute.
        masks: The mask folder, the same way (it may be the image folder).
        image_pattern: Image stem with one ``{id}`` field, e.g. ``Landslide{id}``.
        mask_pattern: Mask stem with one ``{id}`` field, e.g. ``LandslideLabel{id}``.
        mask_colour: Landslide colour of RGB masks, ``#rrggbb`` or a name of :data:`COLOURS`.
        mask_value: Landslide value of single-band masks.
        fit: ``resize`` each image to one tile (ours, inferred from Table 7's counts) or cut it into ``tile`` windows.
        size: Side of the standard tiles (and of the windows).

    Raises:
        ConfigError: Both ``mask_colour`` and ``mask_value``, an unknown colour or fit, a pattern without
            exactly one ``{id}``, or a size under 1.
    """

    name = "folder"
    title = "image folder"
    ignored_note = "not an image file whose name matches the image or mask pattern"

    def __init__(self, images: str = "images", masks: str = "masks", image_pattern: str = "{id}",
                 mask_pattern: str = "{id}", mask_colour: str | None = None, mask_value: int | None = None,
                 fit: str = "resize", size: int = STANDARD_SIZE) -> None:
        if mask_colour is not None and mask_value is not None:
            raise ConfigError("pass either mask_colour (RGB masks) or mask_value (single-band masks), not both")
        if fit not in FITS:
            raise ConfigError(f"fit {fit!r} is not one of {', '.join(FITS)}")
        if size < 1:
            raise ConfigError(f"tile size {size} must be at least 1 pixel")
        self.images, self.masks = str(images), str(masks)
        self.image_pattern, self.mask_pattern = image_pattern, mask_pattern
        self._image_re, self._mask_re = _compile(image_pattern, "image_pattern"), _compile(mask_pattern, "mask_pattern")
        self.colour = parse_colour(mask_colour) if mask_colour is not None else None
        self.mask_value = mask_value
        self.fit, self.size = fit, size
        self.tile_size = size
        self.options = {"images": self.images, "masks": self.masks, "image_pattern": image_pattern,
                        "mask_pattern": mask_pattern, "mask_colour": mask_colour, "mask_value": mask_value,
                        "fit": fit, "size": size}
        self.layout = (f"images in '{self.images}' and masks in '{self.masks}' under the root, image stems "
                       f"'{image_pattern}' and mask stems '{mask_pattern}' with the same id")
        if self.colour is not None:
            self.mask_encoding = f"RGB: {_hex(self.colour)} = landslide, any other colour = background"
        elif mask_value is not None:
            self.mask_encoding = f"one band: {mask_value} = landslide, any other value = background"
        else:
            self.mask_encoding = "one band with two values: 0 = background, the other (e.g. 1 or 255) = landslide"

    # ------------------------------------------------------------------ layout

    def not_found(self, path: Path, problem: str) -> DatasetNotFoundError:
        """The error for a root that is missing or not in :attr:`layout`, naming where the data comes from."""
        if self.homepage:
            fix = f"download {self.title} from {self.homepage} and unpack it as: {self.layout}"
        else:
            fix = f"point --images and --masks at the folders (expected: {self.layout})"
        return DatasetNotFoundError(path, problem, fix)

    def folders(self, root: Path) -> tuple[Path, Path]:
        """The image and mask folders under ``root``.

        Raises:
            DatasetNotFoundError: One of them is not a folder.
        """
        found = root / self.images, root / self.masks
        for kind, folder in zip(("image", "mask"), found, strict=True):
            if not folder.is_dir():
                raise self.not_found(folder, f"the {kind} folder does not exist")
        return found

    def _matches(self, folder: Path, kind: str, shared: bool) -> tuple[dict[str, list[Path]], list[Path]]:
        """Files of one kind in ``folder`` by id, and files of image type that match no pattern."""
        own, other = (self._image_re, self._mask_re) if kind == "image" else (self._mask_re, self._image_re)
        fixed = {"image": len(self.image_pattern), "mask": len(self.mask_pattern)}
        own_fixed, other_fixed = (fixed[kind], fixed["mask" if kind == "image" else "image"])
        by_id: dict[str, list[Path]] = {}
        ignored = []
        for path in image_files(folder):
            match, rival = own.fullmatch(path.stem), other.fullmatch(path.stem) if shared else None
            if match and not (rival and (other_fixed > own_fixed or (other_fixed == own_fixed and kind == "mask"))):
                by_id.setdefault(match["id"], []).append(path)
            elif not (shared and rival):
                ignored.append(path)
        return by_id, ignored

    def _other_patterns(self, image_dir: Path, mask_dir: Path) -> tuple[str, str] | None:
        """The patterns :func:`pairing_rule` finds for the two folders, in words, and the flags to pass; or ``None``."""
        image_paths, mask_paths = image_files(image_dir), image_files(mask_dir)
        rule = pairing_rule([p.stem for p in image_paths], [p.stem for p in mask_paths])
        if rule is None:
            return None
        image_pattern, mask_pattern = rule
        image = image_paths[0]
        id_ = _compile(image_pattern, "image_pattern").fullmatch(image.stem)["id"]  # type: ignore[index]
        mask = next(p for p in mask_paths if p.stem == mask_pattern.replace("{id}", id_))
        flags = " ".join(f"{flag} {shlex.quote(str(value))}" for flag, value in (
            ("--images", image_dir), ("--masks", mask_dir), ("--image-pattern", image_pattern),
            ("--mask-pattern", mask_pattern)))
        return (f"all {len(image_paths)} images pair one to one with the {len(mask_paths)} masks by the image stem "
                f"pattern '{image_pattern}' and the mask stem pattern '{mask_pattern}' (e.g. {image.name} with "
                f"{mask.name})", f"read them with {flags} (image_pattern='{image_pattern}', "
                f"mask_pattern='{mask_pattern}')")

    def pairs(self, image_dir: Path, mask_dir: Path) -> tuple[list[tuple[str, Path, Path]], list[PathProblemError],
                                                              list[Path]]:
        """``(id, image, mask)`` of every pair by id, the problems found by name, and the files ignored.

        Raises:
            DatasetNotFoundError: A folder holds no file matching its pattern (the fix names other patterns when
                they would pair every file, see :func:`pairing_rule`).
            ConfigError: Images and masks share a folder and a pattern, so they cannot be told apart.
            MissingPartnerError: No image pairs with a mask, and other patterns would pair them all; the message
                names them.
        """
        shared = image_dir.resolve() == mask_dir.resolve()
        if shared and self.image_pattern == self.mask_pattern:
            raise ConfigError(f"images and masks are both in {image_dir} with the same stem pattern "
                              f"{self.image_pattern!r}: give them different patterns, e.g. mask_pattern='{{id}}_mask'")
        images, ignored = self._matches(image_dir, "image", shared)
        masks, ignored_masks = self._matches(mask_dir, "mask", shared)
        ignored += [p for p in ignored_masks if not shared]
        hint = None if shared or images.keys() & masks.keys() else self._other_patterns(image_dir, mask_dir)
        for kind, folder, found, pattern in (("image", image_dir, images, self.image_pattern),
                                             ("mask", mask_dir, masks, self.mask_pattern)):
            if not found:
                seen = ", ".join(p.name for p in image_files(folder)[:3]) or "no image files"
                problem = f"no {kind} file matches the stem pattern '{pattern}' ({seen})"
                if hint:
                    raise DatasetNotFoundError(folder, f"{problem}, but {hint[0]}", hint[1])
                raise self.not_found(folder, problem)
        if hint:
            raise MissingPartnerError(image_dir, f"no image here pairs with a mask in {mask_dir} by the stem patterns "
                                      f"'{self.image_pattern}' and '{self.mask_pattern}', but {hint[0]}", hint[1])
        problems: list[PathProblemError] = []
        pairs = []
        for id_ in sorted(images.keys() | masks.keys()):
            for kind, files in (("image", images.get(id_, [])), ("mask", masks.get(id_, []))):
                if len(files) > 1:
                    problems.append(MissingPartnerError(
                        files[1], f"two {kind} files have the id '{id_}' ({files[0].name} and {files[1].name})",
                        "keep one of them; images and masks are paired by the id in their names"))
            if id_ not in masks:
                problems.append(MissingPartnerError(
                    images[id_][0], f"image has no mask with the id '{id_}' (a mask named "
                    f"'{self.mask_pattern.replace('{id}', id_)}' in {mask_dir})", "add its mask, or remove the image"))
            elif id_ not in images:
                problems.append(MissingPartnerError(
                    masks[id_][0], f"mask has no image with the id '{id_}' (an image named "
                    f"'{self.image_pattern.replace('{id}', id_)}' in {image_dir})", "add its image, or remove the mask"))
            else:
                pairs.append((id_, images[id_][0], masks[id_][0]))
        return pairs, problems, ignored

    def check_image_header(self, path: Path) -> None:
        """Check from its header that an image is 8-bit grey or RGB (three or more bands).

        Raises:
            ImageFormatError: It is not.
            UnreadableTileError: GDAL cannot open it.
        """
        info = read_info(path)
        problem = _image_format_problem(path, info.count, info.dtype)
        if problem is not None:
            raise problem

    def check_first(self, image: Path, mask: Path) -> None:
        """Check the first pair against what the source reads: image format from its header, mask values.

        Raises:
            ImageFormatError: The image is not 8-bit grey or RGB, or the mask's band count does not fit.
            MaskValueError: The mask's values do not fit the mask settings; the message lists those found.
        """
        self.check_image_header(image)
        data = read_raster(mask)
        self.decode_mask(mask, data)
        self.check_mask_values(mask, data)

    def scan(self, root: str | Path, subdatasets: Iterable[str] | None = None, *, progress: bool = True) -> Scan:
        """Pair every image with its mask by name, check the first pair, and (``fit="tile"``) list the windows.

        Args:
            root: The data root.
            subdatasets: Only the source's own name is accepted (a folder has no sub-datasets).
            progress: Show a progress bar while reading image sizes (``fit="tile"``).

        Raises:
            DatasetNotFoundError: ``root`` or one of its folders is missing or holds no matching file.
            UnknownSubDatasetError: ``subdatasets`` names something other than this source.
            ImageFormatError: The first image or mask has a format the source cannot read.
            MaskValueError: The first mask's values do not fit the mask settings.
            MissingPartnerError: No image pairs with a mask and other patterns would pair them all; the message
                names the ``--image-pattern`` and ``--mask-pattern`` to pass.
        """
        for name in subdatasets or ():
            self.subdataset_key(name)
        root = Path(root)
        if not root.is_dir():
            raise self.not_found(root, "the data root does not exist")
        image_dir, mask_dir = self.folders(root)
        pairs, problems, ignored = self.pairs(image_dir, mask_dir)
        found = Scan(root=root, problems=problems, ignored=ignored, folders=list(dict.fromkeys((image_dir, mask_dir))))
        if pairs:
            self.check_first(pairs[0][1], pairs[0][2])
        source = self.record_source(root)
        for id_, image, mask in tqdm(pairs, desc="reading image sizes", unit="image",
                                     disable=not progress or self.fit != "tile"):
            if self.fit == "resize":
                found.records.append(TileRecord(self.name, ALL, id_, image, mask, source=source))
                continue
            try:
                info = read_info(image)
            except TileError as error:
                found.problems.append(error)
                continue
            if info.height < self.size or info.width < self.size:
                found.problems.append(TileSizeError(
                    image, f"image is {info.width}×{info.height} pixels, smaller than one {self.size}×{self.size} "
                    "window", "read the folder with fit='resize' (--fit resize), or leave the image out"))
                continue
            found.records += [TileRecord(self.name, ALL, window_name(id_, row, col), image, mask, source=source,
                                         scene=id_, row=row, col=col)
                              for row, col in windows(info.height, info.width, self.size)]
        found.records.sort(key=lambda r: r.name)
        return found

    # ------------------------------------------------------------------ reading

    def _window(self, record: TileRecord) -> Window | None:
        parsed = parse_window_name(record.name) if self.fit == "tile" else None
        return None if parsed is None else Window(parsed[2], parsed[1], self.size, self.size)

    def _read(self, path: Path, window: Window | None) -> np.ndarray:
        if window is not None:
            info = read_info(path)
            if window.row_off + window.height > info.height or window.col_off + window.width > info.width:
                raise TileSizeError(path, f"file is {info.width}×{info.height} pixels; window (row {window.row_off}, "
                                    f"col {window.col_off}) of {self.size} px reaches beyond it",
                                    "make image and mask the same size, then scan the folder again")
        return read_raster(path, window)

    def read_image(self, path: Path, window: Window | None = None) -> np.ndarray:
        """An image (or a window of it) as ``(3, h, w)`` uint8 RGB: grey repeated, the first three bands of more.

        Raises:
            ImageFormatError: Not 8-bit, or two bands.
            TileError: The file cannot be read, or the window reaches beyond it.
        """
        image = self._read(path, window)
        problem = _image_format_problem(path, image.shape[0], image.dtype.name)
        if problem is not None:
            raise problem
        return np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image[:3]

    def check_mask_values(self, path: Path, mask: np.ndarray) -> None:
        """Check, on the first mask only, that the landslide colour or value of the settings is there.

        A mask holding two or more values (colours) of which none is the landslide one, or a JPEG mask with
        more than two, points to wrong settings; a mask that is all one value may simply show no landslide.
        Later masks are not held to this (a multi-class mask may lack the landslide class).

        Raises:
            MaskValueError: The values found, with their shares, and the option to pass.
        """
        if self.colour is None and self.mask_value is None:
            return
        shares = value_shares(mask)
        target = _hex(self.colour) if self.colour is not None else str(self.mask_value)
        found = {label for label, _ in shares}
        if path.suffix.lower() in _LOSSY and len(shares) > 2:
            raise MaskValueError(path, f"JPEG mask has {len(shares)} distinct values: {describe_values(shares)}",
                                 "save the masks without loss (PNG or TIFF): JPEG compression blurs values and "
                                 "colours, so no exact colour or value marks the landslides")
        if len(shares) > 1 and target not in found:
            option = "--mask-colour" if self.colour is not None else "--mask-value"
            raise MaskValueError(path, f"mask holds no {target} (the landslide setting); found {describe_values(shares)}",
                                 f"pass the landslide {'colour' if self.colour else 'value'} found in the masks "
                                 f"with {option}")

    def decode_mask(self, path: Path, mask: np.ndarray) -> np.ndarray:
        """A mask array as stored ``(bands, h, w)`` → ``(1, h, w)`` uint8, 1 = landslide.

        Raises:
            ImageFormatError: A band count (or type) the mask settings cannot read.
            MaskValueError: Without ``mask_colour``/``mask_value``: an RGB mask, or more than two values, or two
                values without 0; the message lists the values found and the option to pass.
        """
        if self.colour is not None:
            if mask.shape[0] < 3 or mask.dtype != np.uint8:
                raise ImageFormatError(path, f"mask has {mask.shape[0]} band(s) of {mask.dtype}; mask_colour reads "
                                       f"8-bit RGB masks (values found: {describe_values(value_shares(mask))})",
                                       "pass --mask-value N (mask_value=N) for single-band masks")
            red, green, blue = self.colour
            return (_packed(mask) == ((red << 16) | (green << 8) | blue)).astype(np.uint8)[None]
        if mask.shape[0] != 1:
            if mask.shape[0] >= 3 and mask.dtype == np.uint8 and self.mask_value is None:
                shares = value_shares(mask)
                colour = next((label for label, _ in shares if label != "#000000"), "#ffffff")
                raise MaskValueError(path, f"mask is RGB with colours {describe_values(shares)}",
                                     f"pass the landslide colour, e.g. --mask-colour '{colour}' "
                                     f"(mask_colour='{colour}'){_lossy_note(path)}")
            raise ImageFormatError(path, f"mask has {mask.shape[0]} bands of {mask.dtype}; expected one band",
                                   "save the mask as one band, or pass --mask-colour for RGB masks")
        if self.mask_value is not None:
            return (mask == self.mask_value).astype(np.uint8)
        values = np.unique(mask)
        if values.size > 2 or (values.size == 2 and values[0] != 0):
            shares = value_shares(mask)
            value = next(label for label, _ in reversed(shares) if label != "0")  # landslides: the smaller share
            raise MaskValueError(path, f"mask has values {describe_values(shares)}; without --mask-value a mask may "
                                 "hold only 0 (background) and one landslide value",
                                 f"pass the landslide value, e.g. --mask-value {value} (mask_value={value})"
                                 f"{_lossy_note(path)}")
        return (mask != 0).astype(np.uint8)

    def load(self, record: TileRecord) -> tuple[np.ndarray, np.ndarray]:
        """The image (or window) as RGB uint8 and its decoded 0/1 mask, at the file's size.

        A window is found from the record's name alone (:func:`.standardize.parse_window_name`), so records
        read back from a split manifest load too.

        Raises:
            TileError: A file cannot be read or decoded; the message names it and the fix.
        """
        if record.mask is None:
            raise TileError(record.image, "tile record has no mask", "pair the image with its mask before reading")
        window = self._window(record)
        image = self.read_image(record.image, window)
        return image, self.decode_mask(record.mask, self._read(record.mask, window))

    def download(self, names: Iterable[str], root: str | Path, **options: object) -> list[Path]:
        """No download: an image folder is the user's own; a named dataset says where to get it.

        Raises:
            NoDirectDownloadError: Always.
        """
        if self.homepage:
            return super().download(names, root, **options)
        raise NoDirectDownloadError(f"the {self.title} source reads your own folders and has nothing to download; "
                                    f"pass them with --images DIR --masks DIR ({self.layout})")


def write_stand_in(root: str | Path, *, seed: int = 0, count: int = 12, sizes: tuple[int, int] = (300, 900),
                   colour: str = "#ff0000", image_pattern: str = "img_{id}", mask_pattern: str = "{id}_mask") -> Path:
    """A small synthetic image folder: PNG images of varying sizes and RGB masks coloured ``colour``.

    Writes ``root/images/<image_pattern>.png`` and ``root/masks/<mask_pattern>.png`` with ids ``001``…;
    heights and widths are each spread evenly over ``sizes`` and shuffled from ``seed``, so there are
    images on both sides of 512. Read it with
    ``FolderSource(image_pattern=..., mask_pattern=..., mask_colour=colour)``.

    Raises:
        ConfigError: An unknown colour.
    """
    root = Path(root)
    rgb = np.asarray(parse_colour(colour), np.uint8).reshape(3, 1, 1)
    rng = np.random.default_rng(seed)
    spread = np.linspace(sizes[0], sizes[1], count).round().astype(int)
    heights, widths = rng.permutation(spread), rng.permutation(spread)
    style = stand_in_style(FolderSource.title, satellite=False, resolution_m=0.5)
    for index, (height, width) in enumerate(zip(heights.tolist(), widths.tolist(), strict=True)):
        image, mask = paint(style, seed, FolderSource.title, index, max(height, width))
        image, mask = image[:, :height, :width], mask[:height, :width]
        id_ = f"{index + 1:03d}"
        write_raster(root / "images" / f"{image_pattern.replace('{id}', id_)}.png", image, driver="PNG")
        write_raster(root / "masks" / f"{mask_pattern.replace('{id}', id_)}.png", np.where(mask > 0, rgb, 0)
                     .astype(np.uint8), driver="PNG")
    write_marker(root, FolderSource.title, seed, {"count": count, "sizes": list(sizes), "colour": colour,
                                                  "image_pattern": image_pattern, "mask_pattern": mask_pattern})
    return root
