"""Downloading the files of a Zenodo record, resumably and md5-verified, for any dataset published there.

The file list and md5 checksums come from the Zenodo API. Each file is fetched with :func:`pooch.retrieve`,
so pooch checks the md5 before the file gets its final name; our own downloader
keeps the bytes in a stable ``<name>.part`` file so an interrupted multi-gigabyte
transfer resumes with an HTTP ``Range`` request instead of starting over.

Files are cached in ``<root>/.downloads/``. A :class:`Target` says where each one
goes: a zip is unpacked into a folder (in a scratch folder renamed into place at
the end, together with a marker file holding the archive's md5, so a folder under
its final name is always complete and a second run skips it without touching the
network); any other file is put in place as it is. The CAS download
(:mod:`.cas.download`) and the HR-GLDD download (:mod:`.hrgldd`) both run here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

import pooch
import requests
from tqdm import tqdm

from ..errors import ChecksumMismatchError, DownloadError
from ..io.atomic import atomic_path

__all__ = [
    "API_ENV", "CACHE_FOLDER", "DEFAULT_API", "MARKER", "TIMEOUT", "ResumingDownloader", "Target", "ZenodoFile",
    "api_base", "fetch_file", "fetch_record", "fetch_targets", "format_listing", "human_size", "md5sum",
    "parse_entry", "record_page", "unpack_zip",
]

DEFAULT_API = "https://zenodo.org/api"
API_ENV = "LANDSLIDE_CORE_ZENODO_API"
CACHE_FOLDER = ".downloads"
MARKER = ".landslide-core-unpacked.json"
"""Written into an unpacked folder last; its md5 says which archive the folder holds."""
TIMEOUT = (15, 120)
"""Seconds to connect and to wait for the next bytes; Zenodo can be slow to start a file."""


@dataclass(frozen=True)
class ZenodoFile:
    """One file of a Zenodo record: name, size, md5 and download link."""

    key: str
    size: int
    md5: str
    url: str


@dataclass(frozen=True)
class Target:
    """A record file, where it goes under the data root, and whether it is a zip to unpack there."""

    file: ZenodoFile
    dest: Path
    unpack: bool


def api_base(api_url: str | None = None) -> str:
    """The API to ask: the argument, else ``$LANDSLIDE_CORE_ZENODO_API``, else Zenodo."""
    return (api_url or os.environ.get(API_ENV) or DEFAULT_API).rstrip("/")


def record_page(record: int) -> str:
    """Where a person can look at the record (and report a problem with it)."""
    return f"https://zenodo.org/records/{record}"


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


def parse_entry(entry: object, url: str) -> ZenodoFile:
    """Read one entry of the API's file list, refusing anything we could not use safely.

    Args:
        entry: The entry as the API gave it.
        url: The API address it came from (named in errors).

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
    return ZenodoFile(key=key, size=size, md5=md5.lower(), url=file_url)


def fetch_record(record: int, api_url: str | None = None) -> list[ZenodoFile]:
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
    return [parse_entry(entry, url) for entry in entries]


def human_size(n: int) -> str:
    """Bytes in decimal units, as Zenodo shows them."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


_File = TypeVar("_File", bound=ZenodoFile)


def format_listing(
    files: Sequence[_File], label: Callable[[_File], str] = lambda _: "", width: Callable[[str], int] = len
) -> str:
    """One line per file (name, optional label such as a sub-dataset key, size) and a total, for ``--list``.

    Args:
        files: The files to list.
        label: A short word per file; no column when every label is empty.
        width: Columns a name takes in a terminal (names with full-width characters take more than ``len``).
    """
    name_w = max((width(f.key) for f in files), default=0)
    label_w = max((len(label(f)) for f in files), default=0)
    lines = [
        f"{f.key}{' ' * (name_w - width(f.key))}  {f'{label(f):<{label_w}}  ' if label_w else ''}"
        f"{human_size(f.size):>9}"
        for f in files
    ]
    total = sum(f.size for f in files)
    lines.append(f"{len(files)} file(s), {human_size(total)} ({total:,} bytes) in total")
    return "\n".join(lines)


def md5sum(path: Path) -> str:
    """The md5 of a file, read in 1 MiB blocks."""
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
    ``record`` is the Zenodo record the file belongs to (named in errors).
    """

    chunk_size = 1 << 16

    def __init__(self, part: Path, size: int, progress: bool = True, *, record: int) -> None:
        self.part = part
        self.size = size
        self.progress = progress
        self.record = record
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
                        "run the same command again later; if it persists, check the record at "
                        f"{record_page(self.record)}",
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


def fetch_file(file: ZenodoFile, cache: Path, *, record: int, progress: bool = True) -> Path:
    """The md5-verified file in ``cache``, downloaded (or resumed) by pooch when needed.

    Args:
        file: The record file.
        cache: The folder downloads are kept in.
        record: The record it belongs to (named in errors).
        progress: Show a progress bar.

    Raises:
        ChecksumMismatchError: Pooch's md5 check of the download failed; the bytes were deleted.
        DownloadError: The transfer or writing the download fails.
    """
    downloader = ResumingDownloader(cache / f"{file.key}.part", file.size, progress, record=record)
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
            f"{record_page(record)}",
        ) from exc
    except OSError as exc:
        raise DownloadError(
            cache / file.key, f"cannot write the download ({exc})", "check free disk space and write permission"
        ) from exc


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


def _member_path(archive: Path, info: zipfile.ZipInfo, record: int) -> PurePosixPath | None:
    """The relative path to unpack a file member to; None for folders and macOS clutter; raises if it escapes.

    Raises:
        DownloadError: The member's name is absolute, starts with a drive letter, or contains ``..``.
    """
    name = _member_name(info).replace("\\", "/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in parts:
        raise DownloadError(
            archive,
            f"member {name!r} would be written outside the folder it is unpacked to; the archive was not unpacked",
            f"do not unpack this archive by hand; report it at {record_page(record)}",
        )
    if name.endswith("/") or not parts or "__MACOSX" in parts or parts[-1].startswith("._") or parts[-1] == ".DS_Store":
        return None
    return PurePosixPath(*parts)


def _extract(archive: Path, work: Path, dest: Path, record: int, keep_top: frozenset[str]) -> Path:
    """Unpack ``archive`` into ``work`` (on its way to ``dest``); return the folder holding its content.

    Every member name is checked before anything is written. When the zip wraps
    its content in one top folder, that folder is the content, unless its
    lower-cased name is in ``keep_top`` (then the zip's top is).

    Raises:
        DownloadError: A member would be written outside ``work``, the zip cannot be read or uses a compression
            Python cannot unpack, or the files cannot be written.
    """
    fix = f"delete {archive} and run the same command again; if it happens again, report it at {record_page(record)}"
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [(info, _member_path(archive, info, record)) for info in zf.infolist()]
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
            f"unpack it by hand (e.g. with 7-Zip) into {dest}",
        ) from exc
    except OSError as exc:
        raise DownloadError(
            archive, f"cannot write the unpacked files ({exc})", "check free disk space and write permission"
        ) from exc
    entries = list(work.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name.lower() not in keep_top:
        return entries[0]
    return work


def unpack_zip(
    file: ZenodoFile, archive: Path, dest: Path, *, record: int, keep_top: frozenset[str] = frozenset()
) -> None:
    """Unpack a downloaded zip to ``dest`` so that ``dest`` appears only once complete, with its marker.

    Args:
        file: The record file the archive is.
        archive: The verified archive.
        dest: The folder to create (an outdated unpack of ours there is replaced).
        record: The record it belongs to (named in errors).
        keep_top: Names of a single top folder that is part of the layout rather than a wrapper to unwrap
            (CAS: ``img``, ``mask``, ``label``).

    Raises:
        DownloadError: Unpacking fails, or the unpacked files cannot be put in place.
    """
    work = archive.parent / f"unpack-{uuid.uuid4().hex}"
    work.mkdir()
    try:
        content = _extract(archive, work, dest, record, keep_top)
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


def _installed(target: Target) -> bool:
    """True when the target's destination already holds this very file (same md5), unpacked or copied."""
    if not target.unpack:
        return target.dest.is_file() and md5sum(target.dest) == target.file.md5
    try:
        return json.loads((target.dest / MARKER).read_text(encoding="utf-8")).get("md5") == target.file.md5
    except (OSError, ValueError, AttributeError):
        return False


@dataclass
class _Plan:
    target: Target
    installed: bool
    to_fetch: int


def _plan(target: Target, cache: Path) -> _Plan:
    """What is left to do for one file, and how many bytes that needs.

    Raises:
        DownloadError: The destination folder exists but was not unpacked by landslide-core.
    """
    file, dest = target.file, target.dest
    if _installed(target):
        return _Plan(target, True, 0)
    if target.unpack and dest.exists() and not (dest / MARKER).is_file():
        raise DownloadError(
            dest,
            f"this folder exists but was not unpacked by landslide-core (it has no {MARKER}), so it is left alone",
            f"move or delete it and run the same command again, or leave '{file.key}' out of the download",
        )
    archive, part = cache / file.key, cache / f"{file.key}.part"
    if archive.is_file():
        if md5sum(archive) == file.md5:
            return _Plan(target, False, 0)
        archive.unlink()  # damaged or outdated: fetch it again
    have = part.stat().st_size if part.is_file() else 0
    return _Plan(target, False, file.size - have if have <= file.size else file.size)


def _put_in_place(archive: Path, dest: Path, keep_archive: bool) -> None:
    """Copy (or, when the cached file is not kept, move) a plain file to ``dest``, atomically.

    Raises:
        DownloadError: The file cannot be copied or moved.
    """
    try:
        if keep_archive:
            with atomic_path(dest) as tmp:
                shutil.copyfile(archive, tmp)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(archive, dest)
    except OSError as exc:
        raise DownloadError(
            dest, f"cannot put the file here ({exc})", "check free disk space and write permission"
        ) from exc


def fetch_targets(
    targets: Iterable[Target],
    root: Path,
    *,
    record: int,
    progress: bool = True,
    keep_archives: bool = True,
    keep_top: frozenset[str] = frozenset(),
    echo: Callable[[str], None] = print,
) -> list[Path]:
    """Download, verify and put in place the targets of one record; returns their destinations in order.

    Says how much it will fetch before fetching anything. Safe to run again at any
    time: files already in place are skipped, partial downloads resume.

    Args:
        targets: The record files and where they go.
        root: The data root; downloads are cached in its ``.downloads`` folder.
        record: The Zenodo record id (named in the plan line and in errors).
        progress: Show progress bars.
        keep_archives: Keep each downloaded file in the cache once it is in place.
        keep_top: See :func:`unpack_zip`.
        echo: Where progress lines go.

    Raises:
        DownloadError: The download folder cannot be created, or fetching, verifying or unpacking a file fails.
    """
    cache = root / CACHE_FOLDER
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            cache, f"cannot create the download folder ({exc})", "choose a --root you can write to"
        ) from exc
    plans = [_plan(t, cache) for t in targets]
    pending = [p for p in plans if not p.installed]
    total = sum(p.to_fetch for p in pending)
    fetching = sum(1 for p in pending if p.to_fetch)
    done = len(plans) - len(pending)
    echo(
        f"Zenodo record {record}: {len(plans)} file(s) selected, {done} already in place; "
        f"{fetching} file(s) to download, {human_size(total)} ({total:,} bytes) still to fetch."
    )
    for plan in plans:
        file, dest = plan.target.file, plan.target.dest
        if plan.installed:
            echo(f"{file.key}: already in {dest}")
            continue
        echo(f"{file.key}: {'downloading ' + human_size(plan.to_fetch) if plan.to_fetch else 'verifying'}")
        archive = fetch_file(file, cache, record=record, progress=progress)
        action = "unpacking" if plan.target.unpack else "copying" if keep_archives else "moving"
        echo(f"{file.key}: md5 verified; {action} to {dest}")
        if plan.target.unpack:
            unpack_zip(file, archive, dest, record=record, keep_top=keep_top)
            if not keep_archives:
                archive.unlink()
        else:
            _put_in_place(archive, dest, keep_archives)
    return [p.target.dest for p in plans]
