"""The Sichuan and surrounding areas landslide dataset (Zeng et al., Science Data Bank) in its download layout.

The archive ``landslide.zip`` holds ``Landslide001.tif`` … ``Landslide059.tif``
with their labels ``LandslideLabel001.tif`` … in one folder; aerial images of
1181×1181 px at 0.2–0.9 m. The folder's name inside the zip is not documented,
so :meth:`SichuanSource.folders` takes the root itself when it holds such files,
else the one folder directly inside it that does. Each image becomes one 512×512
tile (resized: ours, inferred from Table 7's counts; see :mod:`.standardize`).

The labels' encoding is not documented either. Accepted, after checking the first
label: a single band with two values (0 = background, the other = landslide) or
three bands with two colours (black = background, the other = landslide); a label
that is all one value or colour is read the same way. Anything else is a
:class:`MaskValueError` listing what was found.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.transform import Affine

from ..errors import DatasetNotFoundError, ImageFormatError, MaskValueError
from ..io.raster import write_raster
from .folder import FolderSource, describe_values, image_files, value_shares
from .stand_in import paint, stand_in_style
from .stand_in_marker import write_marker
from .standardize import resize_pair

__all__ = ["SICHUAN_SIZE", "SichuanSource", "write_stand_in"]

SICHUAN_SIZE = 1181
"""Side of the dataset's images in pixels."""
_UTM_48N = "EPSG:32648"


class SichuanSource(FolderSource):
    """Sichuan and surrounding areas: ``LandslideNNN.tif`` with ``LandslideLabelNNN.tif`` in one folder."""

    name = "sichuan"
    title = "Sichuan and surrounding areas"
    homepage = "https://doi.org/10.11922/sciencedb.j00001.00222"

    def __init__(self) -> None:
        super().__init__(images=".", masks=".", image_pattern="Landslide{id}", mask_pattern="LandslideLabel{id}")
        self.options = {}
        self.layout = ("LandslideNNN.tif images with LandslideLabelNNN.tif labels in one folder: the root, or the "
                       "one folder directly inside it (as landslide.zip unpacks)")
        self.mask_encoding = ("one band with 0 = background and one landslide value, or RGB with black = background "
                              "and one landslide colour")

    def _holds_tiles(self, folder: Path) -> bool:
        return any(self._image_re.fullmatch(p.stem) for p in image_files(folder))

    def folders(self, root: Path) -> tuple[Path, Path]:
        """The folder holding the images and labels: ``root``, or the one folder inside it that does.

        Raises:
            DatasetNotFoundError: No such folder, or several inside ``root``.
        """
        if self._holds_tiles(root):
            return root, root
        inside = [c for c in sorted(root.iterdir()) if c.is_dir() and not c.name.startswith(".") and self._holds_tiles(c)]
        if not inside:
            raise self.not_found(root, "no Landslide*.tif files here nor in a folder directly inside")
        if len(inside) > 1:
            raise DatasetNotFoundError(root, f"several folders hold Landslide*.tif files: {', '.join(c.name for c in inside)}",
                                       "pass the one to read as the root")
        return inside[0], inside[0]

    def decode_mask(self, path: Path, mask: np.ndarray) -> np.ndarray:
        """A label of two values or two colours (one of them 0 or black) as 0/1, 1 = the other one.

        Raises:
            ImageFormatError: Two bands, or three or more that are not 8-bit.
            MaskValueError: More than two values or colours, or two without 0 (black); the message lists them.
        """
        rgb = mask.shape[0] >= 3
        if mask.shape[0] == 2 or (rgb and mask.dtype != np.uint8):
            raise ImageFormatError(path, f"label has {mask.shape[0]} bands of {mask.dtype}; expected one band or "
                                   "8-bit RGB", "use the label of the Sichuan download")
        shares = value_shares(mask)
        background = "#000000" if rgb else "0"
        if len(shares) > 2 or (len(shares) == 2 and background not in {label for label, _ in shares}):
            kind = "colours" if rgb else "values"
            raise MaskValueError(
                path, f"label has {kind} {describe_values(shares)}; expected two: {background} (background) and one "
                "landslide value", "if one of them marks landslide, read the folder with --source folder "
                "--image-pattern 'Landslide{id}' --mask-pattern 'LandslideLabel{id}' and --mask-value N or "
                "--mask-colour '#rrggbb'")
        return (mask[:3].any(axis=0, keepdims=True) if rgb else mask != 0).astype(np.uint8)


def write_stand_in(root: str | Path, *, seed: int = 0, count: int = 16) -> Path:
    """A synthetic Sichuan dataset: ``root/landslide/Landslide001.tif`` … and ``LandslideLabel001.tif`` ….

    Images are 1181×1181 RGB uint8 GeoTIFFs in UTM 48N at 0.5 m with an aerial look, labels single-band
    uint8 0/255 on the same grid (both deflate-compressed); the folder inside the root stands for the
    zip's undocumented folder. To keep writing quick, each picture is painted at 1 m on a 591-px grid and
    resized to 1181 px (bilinear image, nearest-neighbour label), which gives it the ground scale of 0.5 m.
    """
    root = Path(root)
    folder = root / "landslide"
    style = stand_in_style(SichuanSource.title, satellite=False, resolution_m=1.0)
    for index in range(count):
        image, mask = paint(style, seed, SichuanSource.title, index, (SICHUAN_SIZE + 1) // 2)
        image, mask = resize_pair(image, mask[None], SICHUAN_SIZE)
        georef = {"crs": _UTM_48N, "transform": Affine(0.5, 0.0, 400_000.0 + 1000 * index, 0.0, -0.5, 3_300_000.0)}
        write_raster(folder / f"Landslide{index + 1:03d}.tif", image, compress="deflate", **georef)
        write_raster(folder / f"LandslideLabel{index + 1:03d}.tif", (mask[0] * 255).astype(np.uint8), compress="deflate",
                     **georef)
    write_marker(root, SichuanSource.title, seed, {"count": count})
    return root
