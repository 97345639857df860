"""Exceptions of our own, each naming the file at fault and how to fix it.

Every error a user can meet carries two parts: what is wrong (with the path) and
what to do about it. The message is the same wherever the problem is found, so the
``validate`` command and the torch Dataset report a bad tile identically.
"""

from __future__ import annotations

from pathlib import Path


class LandslideCoreError(Exception):
    """Base class for every error raised on purpose by ``landslide_core``."""


class PathProblemError(LandslideCoreError):
    """A problem with one file or folder; the message names the path and the fix."""

    def __init__(self, path: str | Path, problem: str, fix: str) -> None:
        # A URL stays a string: Path() would fold its '//' and misquote it.
        self.path: Path | str = path if isinstance(path, str) and "://" in path else Path(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. Fix: {fix}")


class DatasetNotFoundError(PathProblemError):
    """The data root is missing or holds no recognisable sub-dataset folder."""


class UnknownSubDatasetError(LandslideCoreError):
    """A sub-dataset name that is not one of the 16 in paper Table 2."""


class TileError(PathProblemError):
    """A tile (image or mask) that cannot be used as it is."""


class MissingPartnerError(TileError):
    """An image without its mask, or a mask without its image."""


class TileSizeError(TileError):
    """A tile that is not 512×512, or whose image and mask differ in size."""


class MaskValueError(TileError):
    """A mask with values other than 0 (background) and 1 (landslide)."""


class ImageFormatError(TileError):
    """An image that is not 3-band uint8 RGB, or a mask that is not single-band uint8."""


class UnreadableTileError(TileError):
    """A file that GDAL cannot open or read to the end (corrupt or truncated)."""


class SubDatasetFolderError(PathProblemError):
    """A sub-dataset folder that is empty or whose name matches no known sub-dataset."""


class ManifestError(PathProblemError):
    """A split manifest that cannot be read back or points at missing files."""


class DownloadError(PathProblemError):
    """A download that failed or could not be verified."""


class ChecksumMismatchError(DownloadError):
    """A downloaded file whose md5 differs from the one Zenodo reports."""
