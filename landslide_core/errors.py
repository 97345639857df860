"""Exceptions of our own, each naming the file at fault and how to fix it.

Every error a user can meet carries two parts: what is wrong (with the path) and
what to do about it. The message is the same wherever the problem is found, so the
``validate`` command and the torch Dataset report a bad tile identically.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ArchiveError", "BaselineError", "CheckpointError", "ChecksumMismatchError", "ConfigError", "DatasetNotFoundError", "DecisionsError", "DeviceError",
    "DownloadError", "GridError",
    "LockHeldError",
    "ImageFormatError", "LandslideCoreError", "ManifestError", "MaskValueError", "MissingPartnerError", "NoDirectDownloadError",
    "NothingToEvaluateError", "PaperStatementError", "PathProblemError", "PredictionError", "ProfileError", "RankFailedError", "RunFolderError", "RunMismatchError", "SceneError", "SectionFailedError",
    "SubDatasetFolderError", "ThroughputError", "TileError", "TileSizeError", "TrainingDataError", "UnknownLossError",
    "UnknownModelError", "UnknownSourceError", "UnknownSubDatasetError", "UnreadableTileError"
]


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


class NoDirectDownloadError(LandslideCoreError):
    """A dataset that landslide-core cannot download itself; the message says where to get it."""


class UnknownSourceError(LandslideCoreError):
    """A tile-source name that is not registered; the message lists the valid ones."""


class ConfigError(LandslideCoreError):
    """A training configuration that cannot be used as it is."""


class DeviceError(LandslideCoreError):
    """A device that is not available on this machine."""


class UnknownLossError(LandslideCoreError):
    """A loss name that is not one of :data:`landslide_core.train.losses.LOSSES`; the message lists the valid ones."""


class UnknownModelError(LandslideCoreError):
    """A model name that is not registered; the message lists the valid ones."""


class RankFailedError(LandslideCoreError):
    """Raised on the other processes when rank 0 failed; rank 0 raises the original error."""


class CheckpointError(PathProblemError):
    """A checkpoint that cannot be read or does not belong to the run asked for."""


class TrainingDataError(PathProblemError):
    """The data root does not hold what a training run needs (e.g. no validation tiles for the group)."""


class NothingToEvaluateError(LandslideCoreError):
    """Evaluation was asked for on an empty set of tiles."""


class BaselineError(LandslideCoreError):
    """A results table whose models cannot be judged: the baselines of their pixels are missing."""


class ThroughputError(LandslideCoreError):
    """Throughput settings that cannot be measured, or a measurement that could not finish."""


class ProfileError(LandslideCoreError):
    """An unknown profile, or parameters a profile or command line gives wrongly."""


class SectionFailedError(LandslideCoreError):
    """A section's notebook raised; the message names the notebook, the cell and the error."""


class SceneError(PathProblemError):
    """A scene or label inventory that cannot be tiled as it is (no CRS, CRS mismatch, unreadable, wrong bands)."""


class DecisionsError(PathProblemError):
    """A quality-control decisions CSV that cannot be read back (missing columns, unknown tiles, bad values)."""


class GridError(LandslideCoreError):
    """A grid of training runs that cannot be listed, submitted or run as asked (bad cell number, scheduler)."""


class RunMismatchError(PathProblemError):
    """A finished run's ``config.json`` does not hold the configuration it is read back for."""


class RunFolderError(PathProblemError):
    """A finished run's folder that lacks a file this code writes into every finished run (e.g. ``tile_counts.csv``)."""


class LockHeldError(PathProblemError):
    """Work another live process holds the lock of (a run being trained, a scene being predicted); names the holder."""


class ArchiveError(PathProblemError):
    """A results archive that cannot be packed or installed: tampered, incomplete, or from other code."""


class PredictionError(PathProblemError):
    """A scene, checkpoint, reference inventory or output folder that scene prediction cannot use as it is."""


class PaperStatementError(LandslideCoreError, KeyError):
    """A page asked for a statement of the paper that ``landslide_core/paper/quotes.yaml`` does not hold."""
