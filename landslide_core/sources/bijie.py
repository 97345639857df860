"""The Bijie landslide dataset (Ji et al., Landslides 17, 1337–1352, 2020) in its download layout.

TripleSat images of Bijie, Guizhou, as unpacked from the official download:
``Bijie-landslide-dataset/landslide/{image,mask,dem,polygon_coordinate}/`` and
``Bijie-landslide-dataset/non-landslide/{image,dem}/``, PNG files whose image and
mask share the file name, masks single-band with 255 = landslide and 0 =
background, image sizes varying (many under 512 px), no official split. The DEM
and polygon folders are not read. Each image becomes one 512×512 tile (resized:
ours, inferred from Table 7's counts; see :mod:`.standardize`).

Table 7's Bijie count, 770, is that of the landslide samples, so we read its model as trained on those only
(ours), which is the default.
``non_landslide=True`` adds the ``non-landslide/image/`` samples, which have no
mask file: their records are named ``non-landslide_<stem>`` and their mask path
is the image path itself, the convention :meth:`BijieSource.load` reads as "all
background". Both paths survive a split manifest, so records read back load too.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import ImageFormatError, MaskValueError
from ..io.atomic import write_text_atomic
from ..io.raster import write_raster
from ..tiles import TileRecord
from .base import ALL, Scan
from .cas.demo import Style, render_tile
from .folder import FolderSource, describe_values, image_files, value_shares
from .stand_in import paint, stand_in_style
from .stand_in_marker import write_marker

__all__ = ["BIJIE_FOLDER", "NON_LANDSLIDE_PREFIX", "BijieSource", "write_stand_in"]

BIJIE_FOLDER = "Bijie-landslide-dataset"
"""The folder the download unpacks to."""
NON_LANDSLIDE_PREFIX = "non-landslide_"
"""Start of the record names of non-landslide samples (their stems may repeat landslide ones)."""


class BijieSource(FolderSource):
    """The Bijie landslide dataset: ``landslide/{image,mask}/`` PNGs, masks 0/255, each image one tile.

    Args:
        non_landslide: Also take ``non-landslide/image/`` (all-background masks); Table 7's count, 770, leaves
            them out.
    """

    name = "bijie"
    title = "Bijie"
    homepage = "http://gpcv.whu.edu.cn/data/Bijie_pages.html"

    def __init__(self, non_landslide: bool = False) -> None:
        super().__init__(images="landslide/image", masks="landslide/mask")
        self.non_landslide = non_landslide
        self.options = {"non_landslide": non_landslide}
        self.layout = (f"<root>/{BIJIE_FOLDER}/landslide/{{image,mask}}/<name>.png, image and mask with the same name "
                       f"(or the root one level down: <root>/landslide/{{image,mask}}/), plus "
                       f"non-landslide/image/ for non_landslide=True")
        self.mask_encoding = ("one uint8 band: 255 = landslide, 0 = background; non-landslide samples have no mask "
                              "(all background)")

    def base(self, root: Path) -> Path:
        """The folder holding ``landslide/``: ``root/Bijie-landslide-dataset``, or ``root`` itself.

        Raises:
            DatasetNotFoundError: Neither holds a ``landslide`` folder.
        """
        for base in (root / BIJIE_FOLDER, root):
            if (base / "landslide").is_dir():
                return base
        raise self.not_found(root, f"neither {BIJIE_FOLDER}/landslide/ nor landslide/ is here")

    def folders(self, root: Path) -> tuple[Path, Path]:
        """``landslide/image`` and ``landslide/mask`` of :meth:`base`.

        Raises:
            DatasetNotFoundError: The layout is not there.
        """
        base = self.base(root)
        return super().folders(base)

    def decode_mask(self, path: Path, mask: np.ndarray) -> np.ndarray:
        """A Bijie mask (one band, 0/255) as 0/1.

        Raises:
            ImageFormatError: The mask has more than one band.
            MaskValueError: Values other than 0 and 255; the message lists those found.
        """
        if mask.shape[0] != 1:
            raise ImageFormatError(path, f"mask has {mask.shape[0]} bands; Bijie masks are single-band 0/255",
                                   "use the mask of the Bijie download, or read other masks with --source folder")
        if not set(np.unique(mask).tolist()) <= {0, 255}:
            raise MaskValueError(path, f"mask has values {describe_values(value_shares(mask))}; Bijie masks hold only "
                                 "0 (background) and 255 (landslide)",
                                 "re-extract the mask from the Bijie download, or read other encodings with --source "
                                 "folder --mask-value N")
        return (mask == 255).astype(np.uint8)

    def scan(self, root: str | Path, subdatasets: Iterable[str] | None = None, *, progress: bool = True) -> Scan:
        """The landslide pairs (see :meth:`FolderSource.scan`) and, with ``non_landslide``, the non-landslide images.

        Raises:
            DatasetNotFoundError: ``root`` is not in the Bijie layout (or lacks ``non-landslide/image/``).
            UnknownSubDatasetError: ``subdatasets`` names something other than ``bijie``.
            ImageFormatError: The first image (of either kind) or mask is not in the Bijie format.
            MaskValueError: The first mask is not 0/255.
        """
        found = super().scan(root, subdatasets, progress=progress)
        if self.non_landslide:
            folder = self.base(Path(root)) / "non-landslide" / "image"
            if not folder.is_dir():
                raise self.not_found(folder, "non_landslide=True but the non-landslide image folder does not exist")
            images = image_files(folder)
            if images:
                self.check_image_header(images[0])
            source = self.record_source(Path(root))
            found.folders.append(folder)
            found.records += [TileRecord(self.name, ALL, f"{NON_LANDSLIDE_PREFIX}{p.stem}", p, p, source=source)
                              for p in images]
            found.records.sort(key=lambda r: r.name)
        return found

    def load(self, record: TileRecord) -> tuple[np.ndarray, np.ndarray]:
        """The image as RGB uint8 and its 0/1 mask; a non-landslide sample (mask path = image path) gets zeros.

        Raises:
            TileError: A file cannot be read or decoded.
        """
        if record.mask == record.image:
            image = self.read_image(record.image)
            return image, np.zeros((1, *image.shape[1:]), np.uint8)
        return super().load(record)


def _paint_without_landslides(style: Style, seed: int, index: int, size: int) -> np.ndarray:
    """A landslide-free picture in ``style``: the CAS demo painter without scars."""
    rng = np.random.default_rng([seed, zlib.crc32(b"Bijie non-landslide"), index])
    return render_tile(rng, style, size, landslides=False).image


def write_stand_in(root: str | Path, *, seed: int = 0, landslide: int = 24, non_landslide: int = 8) -> Path:
    """A synthetic Bijie in the download's layout: PNGs of 150–600 px, single-band 0/255 masks.

    Writes ``root/Bijie-landslide-dataset/landslide/{image,mask}/NNNN.png`` and
    ``non-landslide/image/NNNN.png`` (invented names, numbered from 0001 in each folder, so the two kinds
    share stems), with one file in each of ``landslide/dem``, ``landslide/polygon_coordinate`` and
    ``non-landslide/dem`` as the download has; TripleSat-like look at 0.8 m. Heights and widths are drawn
    from ``seed``.
    """
    root = Path(root)
    base = root / BIJIE_FOLDER
    style = stand_in_style(BijieSource.title, satellite=True, resolution_m=0.8)
    rng = np.random.default_rng(seed)
    shapes = rng.integers(150, 601, (landslide + non_landslide, 2)).tolist()
    for index in range(landslide):
        height, width = shapes[index]
        image, mask = paint(style, seed, BijieSource.title, index, max(height, width))
        stem = f"{index + 1:04d}"
        write_raster(base / "landslide" / "image" / f"{stem}.png", image[:, :height, :width], driver="PNG")
        write_raster(base / "landslide" / "mask" / f"{stem}.png", (mask[:height, :width] * 255).astype(np.uint8),
                     driver="PNG")
        if index == 0:
            write_raster(base / "landslide" / "dem" / f"{stem}.png", image[1, :height, :width], driver="PNG")
            write_text_atomic(base / "landslide" / "polygon_coordinate" / f"{stem}.txt",
                              f"0 0\n0 {width}\n{height} {width}\n{height} 0\n")
    for index in range(non_landslide):
        height, width = shapes[landslide + index]
        image = _paint_without_landslides(style, seed, index, max(height, width))[:, :height, :width]
        stem = f"{index + 1:04d}"
        write_raster(base / "non-landslide" / "image" / f"{stem}.png", image, driver="PNG")
        if index == 0:
            write_raster(base / "non-landslide" / "dem" / f"{stem}.png", image[1], driver="PNG")
    write_marker(root, BijieSource.title, seed, {"landslide": landslide, "non_landslide": non_landslide})
    return root
