"""Downloading the CAS Landslide Dataset from Zenodo, resumably and verified.

The file list and md5 checksums come from the Zenodo API (the only place the md5s
are published). Each archive is fetched with :func:`pooch.retrieve`, so pooch checks
the md5 before the file gets its final name; our own downloader keeps the bytes in a
stable ``<name>.part`` file so an interrupted multi-gigabyte transfer resumes with an
HTTP ``Range`` request instead of starting over.

Archives are cached in ``<root>/.downloads/`` and unpacked to
``<root>/<zip stem>/{img,label,mask}/`` (the layout :mod:`.layout`
reads), the study-areas shapefile to ``<root>/study_areas/``. Unpacking happens in a
scratch folder that is renamed into place at the end, together with a marker file
holding the archive's md5: a folder under its final name is always complete, and a
second run skips it without touching the network.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import unicodedata
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import pooch
import requests
from tqdm import tqdm

from ...errors import ChecksumMismatchError, DownloadError, UnknownSubDatasetError
from ...io.atomic import atomic_path
from .registry import STUDY_AREAS_FOLDER, ZENODO_RECORD, SubDataset, find_subdataset, normalize_name, subdatasets

__all__ = [
    "API_ENV", "CACHE_FOLDER", "DEFAULT_API", "MARKER", "STUDY_AREAS", "TILE_DIRS", "TIMEOUT", "Kind", "RemoteFile",
    "ResumingDownloader", "api_base", "destination", "download", "fetch_record", "format_listing", "human_size",
    "record_page", "select_files"
]

DEFAULT_API = "https://zenodo.org/api"
API_ENV = "LANDSLIDE_CORE_ZENODO_API"
STUDY_AREAS = "study-areas"
"""Name under which the study-areas shapefile archive is selected."""
CACHE_FOLDER = ".downloads"
MARKER = ".landslide-core-unpacked.json"
"""Written into an unpacked folder last; its md5 says which archive the folder holds."""
TILE_DIRS = frozenset({"img", "label", "mask"})
TIMEOUT = (15, 120)
"""Seconds to connect and to wait for the next bytes; Zenodo can be slow to start a file."""

Kind = Literal["subdataset", "study-areas", "other"]


@dataclass(frozen=True)
class RemoteFile:
    """One file of the Zenodo record and what it holds."""

    key: str
    size: int
    md5: str
    url: str
    subdataset: SubDataset | None
    kind: Kind


def api_base(api_url: str | None = None) -> str:
    """The API to ask: the argument, else ``$LANDSLIDE_CORE_ZENODO_API``, else Zenodo."""
    return (api_url or os.environ.get(API_ENV) or DEFAULT_API).rstrip("/")


def record_page(record: int = ZENODO_RECORD) -> str:
    """Where a person can look at the record (and report a problem with it)."""
    return f"https://zenodo.org/records/{record}"


def _is_study_areas(name: str) -> bool:
    return "studyarea" in normalize_name(name).replace("_", "").replace("-", "")


def _api_fix() -> str:
    return f"check your internet connection and run the command again, or set {API_ENV} to a reachable Zenodo API"


def _get_json(url: str) -> object:
    """GET ``url`` and decode its JSON, turning every failure into a DownloadError.

    Raises:
        DownloadError: The API cannot be reached, answers other than HTTP 200, or answers without JSON.
    """
    try:
        response = requests.get(url, timeout=TIMEOUT, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise DownloadError(url, f"cannot reach the Zenodo API ({exc})", _api_fix()) from exc
    if response.status_code != 200:
        raise DownloadError(url, f"the Zenodo API answered HTTP {response.status_code}", _api_fix())
    try:
        return response.json()
    except ValueError as exc:
        raise DownloadError(url, f"the Zenodo API did not answer with JSON ({exc})", _api_fix()) from exc


def _remote_file(entry: object, url: str) -> RemoteFile:
    """Read one entry of the API's file list, refusing anything we could not use safely.

    Raises:
        DownloadError: The entry lacks key, size, checksum or links, has no md5, or its name is not a plain
            file name.
    """
    try:
        key = entry["key"]  # type: ignore[index]
        size = int(entry["size"])  # type: ignore[index]
        checksum = str(entry["checksum"])  # type: ignore[index]
        links = entry["links"]  # type: ignore[index]
        file_url = links.get("content") or links["self"]
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise DownloadError(url, f"a file entry lacks key, size, checksum or links ({entry!r})", _api_fix()) from exc
    algorithm, _, md5 = checksum.rpartition(":")
    if algorithm not in ("", "md5") or not re.fullmatch(r"[0-9a-fA-F]{32}", md5):
        raise DownloadError(url, f"file {key!r} has no md5 checksum ({checksum!r})", _api_fix())
    if not isinstance(key, str) or key in ("", ".", "..") or "/" in key or "\\" in key:
        raise DownloadError(url, f"file name {key!r} is not a plain file name; refusing to write it", _api_fix())
    sd = find_subdataset(key) if key.lower().endswith(".zip") else None
    kind: Kind = "subdataset" if sd else "study-areas" if _is_study_areas(key) else "other"
    return RemoteFile(key=key, size=size, md5=md5.lower(), url=file_url, subdataset=sd, kind=kind)


def fetch_record(record: int = ZENODO_RECORD, api_url: str | None = None) -> list[RemoteFile]:
    """The files of a Zenodo record, with sizes, md5s and download links.

    Zenodo lists the files in the record itself; plain InvenioRDM answers only
    ``/files`` (``{"entries": [...]}``), which is asked when the first has no list.

    Args:
        record: The Zenodo record id.
        api_url: The API base URL; see :func:`api_base` for the default.

    Raises:
        DownloadError: The API cannot be reached or gives no usable answer, its answer holds no file list,
            or a file entry cannot be used.
    """
    url = f"{api_base(api_url)}/records/{record}"
    data = _get_json(url)
    entries = data.get("files") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        url = f"{url}/files"
        data = _get_json(url)
        entries = data.get("entries") if isinstance(data, dict) else None
        if isinstance(entries, dict):
            entries = list(entries.values())
    if not isinstance(entries, list):
        raise DownloadError(url, "the answer holds no file list", _api_fix())
    return [_remote_file(entry, url) for entry in entries]


def _valid_names() -> str:
    names = ", ".join(f"{sd.key} ({sd.name})" for sd in subdatasets())
    return f"{names}, {STUDY_AREAS}, or a file name shown by `landslide-core download --list`"


def _missing(expected: str, files: list[RemoteFile]) -> DownloadError:
    unmatched = ", ".join(f.key for f in files if f.kind == "other") or "none"
    return DownloadError(
        expected,
        f"not in the Zenodo record's file list (files there that match no sub-dataset: {unmatched})",
        f"check the record at {record_page()}; if the file was renamed, report it so the name can be added "
        "to landslide_core/sources/cas/table2_subdatasets.csv",
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


def human_size(n: int) -> str:
    """Bytes in decimal units, as Zenodo shows them."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def _width(text: str) -> int:
    """Columns a string takes in a terminal: full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _label(f: RemoteFile) -> str:
    return f.subdataset.key if f.subdataset else STUDY_AREAS if f.kind == "study-areas" else "other"


def format_listing(files: list[RemoteFile]) -> str:
    """One line per file (name, sub-dataset key, size) and a total, for ``--list``."""
    name_w = max((_width(f.key) for f in files), default=0)
    label_w = max((len(_label(f)) for f in files), default=0)
    lines = [
        f"{f.key}{' ' * (name_w - _width(f.key))}  {_label(f):<{label_w}}  {human_size(f.size):>9}" for f in files
    ]
    total = sum(f.size for f in files)
    lines.append(f"{len(files)} file(s), {human_size(total)} ({total:,} bytes) in total")
    return "\n".join(lines)


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ResumingDownloader:
    """A pooch downloader that survives interruptions.

    Bytes go to a stable ``.part`` file (pooch's own temporary file gets a new
    random name on every run, so it cannot be resumed from). A rerun asks for the
    rest with ``Range: bytes=N-``; a server answering 200 instead of 206 sends the
    whole file, and the part is restarted. When complete, the part is moved onto
    pooch's output file, and pooch checks its md5. The md5 is also computed here,
    as the bytes arrive, so a mismatch can be reported with the actual value.
    """

    chunk_size = 1 << 16

    def __init__(self, part: Path, size: int, progress: bool = True) -> None:
        self.part = part
        self.size = size
        self.progress = progress
        self.md5: str | None = None
        self._digest = hashlib.md5()

    def __call__(self, url: str, output_file: str, pooch_instance: object) -> None:
        """Fetch ``url`` (resuming from the part file) and move the result to ``output_file``.

        Raises:
            DownloadError: The part file does not end up with the expected size, or the transfer fails.
        """
        have = self.part.stat().st_size if self.part.exists() else 0
        if have > self.size:
            self.part.unlink()
            have = 0
        self._digest = hashlib.md5()
        if have:
            with open(self.part, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    self._digest.update(block)
        if have < self.size:
            self._transfer(url, have)
        got = self.part.stat().st_size if self.part.exists() else 0
        if got != self.size:
            raise DownloadError(
                url,
                f"the server sent {got} of {self.size} bytes and ended the transfer",
                f"run the same command again; it resumes from {self.part}",
            )
        self.md5 = self._digest.hexdigest()
        os.replace(self.part, output_file)

    def _transfer(self, url: str, start: int) -> None:
        """Append the bytes from ``start`` on to the part file, updating the running md5.

        Raises:
            DownloadError: The server answers other than HTTP 200, 206 or 416, or the transfer breaks off.
        """
        try:
            headers = {"Range": f"bytes={start}-"} if start else {}
            with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as response:
                if response.status_code == 416:  # the part no longer fits the file: start over
                    self.part.unlink()
                    self._digest = hashlib.md5()
                    response.close()
                    self._transfer(url, 0)
                    return
                if response.status_code not in (200, 206):
                    raise DownloadError(
                        url,
                        f"the server answered HTTP {response.status_code}",
                        f"run the same command again later; if it persists, check the record at {record_page()}",
                    )
                if response.status_code == 200 and start:  # the server ignored the Range: restart
                    start, self._digest = 0, hashlib.md5()
                with (
                    open(self.part, "ab" if start else "wb") as out,
                    tqdm(
                        total=self.size,
                        initial=start,
                        unit="B",
                        unit_scale=True,
                        desc=self.part.name.removesuffix(".part"),
                        disable=not self.progress,
                        leave=False,
                    ) as bar,
                ):
                    for chunk in response.iter_content(self.chunk_size):
                        out.write(chunk)
                        self._digest.update(chunk)
                        bar.update(len(chunk))
        except requests.RequestException as exc:
            have = self.part.stat().st_size if self.part.exists() else 0
            raise DownloadError(
                url,
                f"the transfer broke off after {have} of {self.size} bytes ({exc})",
                f"run the same command again; it resumes from {self.part}",
            ) from exc


@contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Silence pooch's "Downloading data from..." lines: we say what happens ourselves."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def destination(file: RemoteFile, root: str | Path) -> Path:
    """Where a record file ends up under the data root."""
    root = Path(root)
    if file.kind == "subdataset":
        return root / PurePosixPath(file.key).stem
    if file.kind == "study-areas":
        return root / STUDY_AREAS_FOLDER
    return root / file.key


def _installed(file: RemoteFile, dest: Path) -> bool:
    """True when ``dest`` already holds this very file (same md5), unpacked or copied."""
    if file.kind == "other":
        return dest.is_file() and _md5(dest) == file.md5
    try:
        return json.loads((dest / MARKER).read_text(encoding="utf-8")).get("md5") == file.md5
    except (OSError, ValueError, AttributeError):
        return False


@dataclass
class _Plan:
    file: RemoteFile
    dest: Path
    installed: bool
    to_fetch: int


def _plan(file: RemoteFile, root: Path) -> _Plan:
    """What is left to do for one file, and how many bytes that needs.

    Raises:
        DownloadError: The destination folder exists but was not unpacked by landslide-core.
    """
    dest = destination(file, root)
    if _installed(file, dest):
        return _Plan(file, dest, True, 0)
    if file.kind != "other" and dest.exists() and not (dest / MARKER).is_file():
        raise DownloadError(
            dest,
            f"this folder exists but was not unpacked by landslide-core (it has no {MARKER}), so it is left alone",
            f"move or delete it and run the same command again, or leave '{file.key}' out of the download",
        )
    cache = root / CACHE_FOLDER
    archive, part = cache / file.key, cache / f"{file.key}.part"
    if archive.is_file():
        if _md5(archive) == file.md5:
            return _Plan(file, dest, False, 0)
        archive.unlink()  # damaged or outdated: fetch it again
    have = part.stat().st_size if part.is_file() else 0
    return _Plan(file, dest, False, file.size - have if have <= file.size else file.size)


def _fetch(file: RemoteFile, cache: Path, progress: bool) -> Path:
    """The verified archive in the cache, downloaded (or resumed) by pooch when needed.

    Raises:
        ChecksumMismatchError: Pooch's md5 check of the download failed.
        DownloadError: Writing the download fails.
    """
    downloader = ResumingDownloader(cache / f"{file.key}.part", file.size, progress)
    try:
        with _quiet_pooch():
            return Path(
                pooch.retrieve(
                    file.url, known_hash=f"md5:{file.md5}", fname=file.key, path=cache, downloader=downloader
                )
            )
    except ValueError as exc:  # pooch's md5 check failed; it has deleted the bytes
        raise ChecksumMismatchError(
            cache / file.key,
            f"the downloaded '{file.key}' has md5 {downloader.md5 or 'unknown'} but Zenodo lists md5 {file.md5}; "
            "the bytes were deleted and nothing was unpacked",
            "run the same command again to download it afresh; if the mismatch persists, report it at "
            f"{record_page()}",
        ) from exc
    except OSError as exc:
        raise DownloadError(
            cache / file.key, f"cannot write the download ({exc})", "check free disk space and write permission"
        ) from exc


def _unsafe(archive: Path, name: str) -> DownloadError:
    return DownloadError(
        archive,
        f"member {name!r} would be written outside the folder it is unpacked to; the archive was not unpacked",
        f"do not unpack this archive by hand; report it at {record_page()}",
    )


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's real name: zips without the UTF-8 flag often still hold UTF-8 (or GBK) bytes."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437")  # undo zipfile's fallback decoding
    for encoding in ("utf-8", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return info.filename


def _member_path(archive: Path, info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The relative path to unpack a file member to; None for folders and macOS clutter; raises if it escapes.

    Raises:
        DownloadError: The member's name is absolute, starts with a drive letter, or contains ``..``.
    """
    name = _member_name(info).replace("\\", "/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in parts:
        error = _unsafe(archive, name)
        raise error
    if name.endswith("/") or not parts or "__MACOSX" in parts or parts[-1].startswith("._") or parts[-1] == ".DS_Store":
        return None
    return PurePosixPath(*parts)


def _extract(archive: Path, work: Path, dest: Path) -> Path:
    """Unpack ``archive`` into ``work`` (on its way to ``dest``); return the folder holding its content.

    Every member name is checked before anything is written. When the zip wraps
    its content in one top folder, that folder is the content; ``img``/``mask``
    at the top mean the zip's top is.

    Raises:
        DownloadError: A member would be written outside ``work``, the zip cannot be read or uses a compression
            Python cannot unpack, or the files cannot be written.
    """
    fix = f"delete {archive} and run the same command again; if it happens again, report it at {record_page()}"
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [(info, _member_path(archive, info)) for info in zf.infolist()]
            for info, rel in members:
                if rel is None:
                    continue
                target = work.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise DownloadError(archive, f"the archive is not a readable zip file ({exc})", fix) from exc
    except NotImplementedError as exc:
        raise DownloadError(
            archive,
            f"the archive uses a compression Python cannot unpack ({exc})",
            f"unpack it by hand (e.g. with 7-Zip) so that {dest / 'img'} exists",
        ) from exc
    except OSError as exc:
        raise DownloadError(
            archive, f"cannot write the unpacked files ({exc})", "check free disk space and write permission"
        ) from exc
    entries = list(work.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name.lower() not in TILE_DIRS:
        return entries[0]
    return work


def _unpack(file: RemoteFile, archive: Path, dest: Path) -> None:
    """Unpack an archive to ``dest`` so that ``dest`` appears only once complete.

    Raises:
        DownloadError: Unpacking fails, or the unpacked files cannot be put in place.
    """
    cache = archive.parent
    work = cache / f"unpack-{uuid.uuid4().hex}"
    work.mkdir()
    try:
        content = _extract(archive, work, dest)
        marker = {"file": file.key, "md5": file.md5, "size": file.size}
        (content / MARKER).write_text(json.dumps(marker, ensure_ascii=False, indent=1), encoding="utf-8")
        if dest.exists():  # an outdated unpack of ours: swap it out, then delete it
            stale = work.with_name(f"stale-{uuid.uuid4().hex}")
            dest.rename(stale)
            content.rename(dest)
            shutil.rmtree(stale)
        else:
            content.rename(dest)
    except OSError as exc:
        raise DownloadError(
            dest, f"cannot put the unpacked files in place ({exc})", "check free disk space and write permission"
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _install(file: RemoteFile, archive: Path, dest: Path) -> None:
    """Unpack an archive, or copy a plain file (the README) next to the data.

    Raises:
        DownloadError: The file cannot be copied or the archive cannot be unpacked.
    """
    if file.kind == "other":
        try:
            with atomic_path(dest) as tmp:
                shutil.copyfile(archive, tmp)
        except OSError as exc:
            raise DownloadError(
                dest, f"cannot copy the file here ({exc})", "check free disk space and write permission"
            ) from exc
    else:
        _unpack(file, archive, dest)


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
    cache = root / CACHE_FOLDER
    files = select_files(fetch_record(record, api_url), names)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            cache, f"cannot create the download folder ({exc})", "choose a --root you can write to"
        ) from exc
    plans = [_plan(f, root) for f in files]
    pending = [p for p in plans if not p.installed]
    total = sum(p.to_fetch for p in pending)
    fetching = sum(1 for p in pending if p.to_fetch)
    done = len(plans) - len(pending)
    echo(
        f"Zenodo record {record}: {len(plans)} file(s) selected, {done} already in place; "
        f"{fetching} file(s) to download, {human_size(total)} ({total:,} bytes) still to fetch."
    )
    for plan in plans:
        file, dest = plan.file, plan.dest
        if plan.installed:
            echo(f"{file.key}: already in {dest}")
            continue
        echo(f"{file.key}: {'downloading ' + human_size(plan.to_fetch) if plan.to_fetch else 'verifying'}")
        archive = _fetch(file, cache, progress)
        echo(f"{file.key}: md5 verified; {'unpacking' if file.kind != 'other' else 'copying'} to {dest}")
        _install(file, archive, dest)
        if not keep_archives:
            archive.unlink()
    return [p.dest for p in plans]
