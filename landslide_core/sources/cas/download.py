"""Downloading the CAS Landslide Dataset from Zenodo, resumably and verified.

The transfer itself (file list and md5s from the Zenodo API, resumable
downloads checked by pooch, safe unzipping) is :mod:`..zenodo`'s; this module
knows which record file holds which sub-dataset and where each goes.

Archives are cached in ``<root>/.downloads/`` and unpacked to
``<root>/<zip stem>/{img,label,mask}/`` (the layout :mod:`.layout`
reads), the study-areas shapefile to ``<root>/study_areas/``. Unpacking happens in a
scratch folder that is renamed into place at the end, together with a marker file
holding the archive's md5: a folder under its final name is always complete, and a
second run skips it without touching the network.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from ...errors import DownloadError, UnknownSubDatasetError
from .. import zenodo
from ..zenodo import (
    API_ENV,
    CACHE_FOLDER,
    DEFAULT_API,
    MARKER,
    TIMEOUT,
    ResumingDownloader,
    Target,
    ZenodoFile,
    api_base,
    fetch_targets,
    human_size,
    record_page,
)
from .registry import STUDY_AREAS_FOLDER, ZENODO_RECORD, SubDataset, find_subdataset, normalize_name, subdatasets

__all__ = [
    "API_ENV", "CACHE_FOLDER", "DEFAULT_API", "MARKER", "STUDY_AREAS", "TILE_DIRS", "TIMEOUT", "Kind", "RemoteFile",
    "ResumingDownloader", "api_base", "destination", "download", "fetch_record", "format_listing", "human_size",
    "record_page", "select_files"
]

STUDY_AREAS = "study-areas"
"""Name under which the study-areas shapefile archive is selected."""
TILE_DIRS = frozenset({"img", "label", "mask"})

Kind = Literal["subdataset", "study-areas", "other"]


@dataclass(frozen=True)
class RemoteFile(ZenodoFile):
    """One file of the CAS record and what it holds."""

    subdataset: SubDataset | None
    kind: Kind


def _is_study_areas(name: str) -> bool:
    return "studyarea" in normalize_name(name).replace("_", "").replace("-", "")


def _classify(file: ZenodoFile) -> RemoteFile:
    """The record file with the sub-dataset it holds (zips only), or what else it is."""
    sd = find_subdataset(file.key) if file.key.lower().endswith(".zip") else None
    kind: Kind = "subdataset" if sd else "study-areas" if _is_study_areas(file.key) else "other"
    return RemoteFile(key=file.key, size=file.size, md5=file.md5, url=file.url, subdataset=sd, kind=kind)


def fetch_record(record: int = ZENODO_RECORD, api_url: str | None = None) -> list[RemoteFile]:
    """The files of the CAS record, with sizes, md5s, download links and the sub-dataset each holds.

    Args:
        record: The Zenodo record id.
        api_url: The API base URL; see :func:`~..zenodo.api_base` for the default.

    Raises:
        DownloadError: The API cannot be reached or gives no usable answer, its answer holds no file list,
            or a file entry cannot be used.
    """
    return [_classify(f) for f in zenodo.fetch_record(record, api_url)]


def _valid_names() -> str:
    names = ", ".join(f"{sd.key} ({sd.name})" for sd in subdatasets())
    return f"{names}, {STUDY_AREAS}, or a file name shown by `landslide-core download --list`"


def _missing(expected: str, files: list[RemoteFile]) -> DownloadError:
    unmatched = ", ".join(f.key for f in files if f.kind == "other") or "none"
    return DownloadError(
        expected,
        f"not in the Zenodo record's file list (files there that match no sub-dataset: {unmatched})",
        f"check the record at {record_page(ZENODO_RECORD)}; if the file was renamed, report it so the name can be "
        "added to landslide_core/paper/table2_subdatasets.csv",
    )


def select_files(files: list[RemoteFile], names: Iterable[str]) -> list[RemoteFile]:
    """The record files that ``names`` ask for; no names means all 16 sub-datasets and the study areas.

    A name is any spelling of a sub-dataset the registry knows, ``study-areas``, or
    a file name of the record (to fetch e.g. the README). Asking for something the
    record lacks raises, so a download never quietly misses a sub-dataset.

    Raises:
        UnknownSubDatasetError: A name is neither a known sub-dataset, ``study-areas``, nor a file of the record.
        DownloadError: A sub-dataset or the study areas asked for are not in the record's file list.
    """
    names = [names] if isinstance(names, str) else list(names)
    wanted: list[str | SubDataset] = list(names) if names else [*subdatasets(), STUDY_AREAS]
    selected: list[RemoteFile] = []
    for item in wanted:
        if isinstance(item, str) and _is_study_areas(item):
            matches = [f for f in files if f.kind == "study-areas"]
            expected = "study areas shp.zip"
        else:
            sd = item if isinstance(item, SubDataset) else find_subdataset(item)
            if sd is not None:
                matches = [f for f in files if f.subdataset == sd]
                expected = sd.zenodo_file
            else:
                matches = [f for f in files if normalize_name(f.key) == normalize_name(str(item))]
                if not matches:
                    raise UnknownSubDatasetError(f"unknown sub-dataset {item!r}; valid names: {_valid_names()}")
        if not matches:
            error = _missing(expected, files)
            raise error
        selected.extend(f for f in matches if f not in selected)
    return selected


def _width(text: str) -> int:
    """Columns a string takes in a terminal: full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _label(f: RemoteFile) -> str:
    return f.subdataset.key if f.subdataset else STUDY_AREAS if f.kind == "study-areas" else "other"


def format_listing(files: list[RemoteFile]) -> str:
    """One line per file (name, sub-dataset key, size) and a total, for ``--list``."""
    return zenodo.format_listing(files, _label, _width)


def destination(file: RemoteFile, root: str | Path) -> Path:
    """Where a record file ends up under the data root."""
    root = Path(root)
    if file.kind == "subdataset":
        return root / PurePosixPath(file.key).stem
    if file.kind == "study-areas":
        return root / STUDY_AREAS_FOLDER
    return root / file.key


def download(
    names: Iterable[str],
    root: str | Path,
    *,
    record: int = ZENODO_RECORD,
    api_url: str | None = None,
    progress: bool = True,
    keep_archives: bool = True,
    echo: Callable[[str], None] = print,
) -> list[Path]:
    """Download, verify and unpack sub-datasets (all 16 and the study areas when ``names`` is empty).

    Says how much it will fetch before fetching anything. Safe to run again at any
    time: finished files are skipped, partial downloads resume. Returns the folder
    (or file) each selected record file ended up in, in the order selected.

    Args:
        names: Sub-datasets, ``study-areas`` or file names of the record (see :func:`select_files`).
        root: The data root to unpack into; archives are cached in its ``.downloads`` folder.
        record: The Zenodo record id.
        api_url: The API base URL; see :func:`api_base` for the default.
        progress: Show progress bars.
        keep_archives: Keep each archive in the cache after it is unpacked.
        echo: Where progress lines go.

    Raises:
        DownloadError: The download folder cannot be created, or listing, fetching, verifying or unpacking
            a file fails.
    """
    root = Path(root)
    files = select_files(fetch_record(record, api_url), names)
    targets = [Target(f, destination(f, root), f.kind != "other") for f in files]
    return fetch_targets(
        targets, root, record=record, progress=progress, keep_archives=keep_archives, keep_top=TILE_DIRS, echo=echo
    )
