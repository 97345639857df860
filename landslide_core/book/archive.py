"""Results without checkpoints: one archive of a profile's records and run scores, verified before it is installed.

A grid trained on a cluster becomes a book on a laptop: :func:`pack` writes
``results/<profile>/`` into one ``.tar.gz``, leaving out checkpoints (``*.pt``),
scheduler job folders and working data the pages regenerate (``work/``,
``stand-ins/``), and runs made by other code versions. Inside, a manifest lists
every file with its SHA-256 and the provenance of the code that made them (commit,
package digest, library versions). :func:`unpack` checks every file against it
before it installs any, so a tampered or truncated archive is refused with the
file named, and nothing already on disk is replaced unless asked. The book then
reads the runs back instead of training them (as showyourwork caches expensive
results behind a DOI).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ArchiveError
from ..io.checksums import file_sha256
from ..provenance import git_state, library_versions
from .fingerprint import package_digest
from .runner import RESULTS_DIR, repository_root

__all__ = ["FORMAT", "MANIFEST", "Installed", "archive_sha256", "pack", "packed_files", "unpack"]

FORMAT = 1
MANIFEST = "landslide-core-results.json"
LEFT_OUT_SUFFIXES = {".pt", ".pkl", ".tmp"}
"""Checkpoints, submitit's pickles and unfinished atomic writes."""
LEFT_OUT_FOLDERS = {"jobs", "work", "stand-ins"}
"""Scheduler job folders and data the pages regenerate from their seeds."""


def archive_sha256(path: str | Path) -> str:
    """The SHA-256 of a whole archive: the value to publish beside it (and to pass to ``unpack --sha256``)."""
    return file_sha256(Path(path))


def packed_files(profile: str) -> Iterator[Path]:
    """The files :func:`pack` takes, relative to the repository root, in sorted order.

    Each section's records (the files at its top level) and, of its ``runs/`` folder, only the subfolder of this
    code version (see :func:`landslide_core.sections.benchmarks.runs_directory`), without the left-out files.
    """
    root = repository_root()
    base = root / RESULTS_DIR / profile
    version = package_digest()[:12]
    for path in sorted(base.rglob("*")):
        parts = path.relative_to(base).parts
        if not path.is_file() or len(parts) < 2 or path.suffix in LEFT_OUT_SUFFIXES:
            continue
        if LEFT_OUT_FOLDERS & set(parts[1:-1]):
            continue
        if len(parts) > 2 and not (parts[1] == "runs" and parts[2] == version):
            continue
        yield path.relative_to(root)


def pack(profile: str, out: str | Path | None = None) -> Path:
    """Write ``results/<profile>/`` (see :func:`packed_files`) and its manifest to one ``.tar.gz``; return its path.

    Raises:
        ArchiveError: The profile has no results here.
    """
    root = repository_root()
    files = list(packed_files(profile))
    if not files:
        raise ArchiveError(root / RESULTS_DIR / profile, "holds no results of this code version to pack",
                           f"build the book first (landslide-core book --profile {profile}) or run its grid")
    commit, dirty = git_state()
    manifest = {
        "format": FORMAT, "profile": profile, "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "package_digest": package_digest(), "commit": commit, "uncommitted_changes": dirty,
        "libraries": library_versions(),
        "files": {path.as_posix(): {"sha256": file_sha256(root / path), "bytes": (root / path).stat().st_size}
                  for path in files},
    }
    out = Path(out) if out else root / f"results-{profile}-{package_digest()[:12]}.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".tmp")
    with tarfile.open(partial, "w:gz") as tar:
        data = (json.dumps(manifest, indent=2) + "\n").encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime = len(data), int(datetime.now(UTC).timestamp())
        tar.addfile(info, io.BytesIO(data))
        for path in files:
            tar.add(root / path, arcname=path.as_posix(), recursive=False)
    os.replace(partial, out)
    return out


@dataclass(frozen=True)
class Installed:
    """What :func:`unpack` did."""

    profile: str
    written: list[Path]
    unchanged: list[Path]
    """Files already on disk with the same content."""
    manifest: dict[str, Any]


def _manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        manifest = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
    except (KeyError, AttributeError, ValueError):
        raise ArchiveError(archive, f"has no readable {MANIFEST}, so it is not a landslide-core results archive",
                           "make one with `landslide-core results pack`") from None
    if manifest.get("format") != FORMAT:
        raise ArchiveError(archive, f"is in results-archive format {manifest.get('format')!r}, this code reads "
                           f"{FORMAT}", "unpack it with the landslide-core version that packed it")
    return manifest


def _check_member(member: tarfile.TarInfo, archive: Path, manifest: dict[str, Any]) -> PurePosixPath:
    name = PurePosixPath(member.name)
    allowed = PurePosixPath(RESULTS_DIR.as_posix(), manifest["profile"])
    if name.is_absolute() or ".." in name.parts or allowed not in name.parents or not member.isfile():
        raise ArchiveError(f"{archive}: {member.name}", "is not a plain file under "
                           f"{allowed}/ (an absolute path, '..', a link or a folder), so the archive is refused",
                           "use an archive written by `landslide-core results pack`")
    if member.name not in manifest["files"]:
        raise ArchiveError(f"{archive}: {member.name}", "is in the archive but not in its manifest: the archive "
                           "was changed after it was packed", "get the archive again from its source")
    return name


def _verified(tar: tarfile.TarFile, archive: Path, manifest: dict[str, Any], staging: Path) -> list[PurePosixPath]:
    """Extract every member into ``staging``, checking each against the manifest; all or nothing.

    Raises:
        ArchiveError: A member is not a plain file under ``results/<profile>/``, is not in the manifest, differs
            from its checksum, or a listed file is missing.
    """
    seen = []
    for member in tar.getmembers():
        if member.name == MANIFEST:
            continue
        name = _check_member(member, archive, manifest)
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with tar.extractfile(member) as source, target.open("wb") as sink:  # type: ignore[union-attr]
            shutil.copyfileobj(source, sink)
        expected = manifest["files"][member.name]["sha256"]
        if file_sha256(target) != expected:
            raise ArchiveError(f"{archive}: {member.name}", "does not match the SHA-256 its manifest lists: the "
                               "file was changed or damaged after packing, so nothing was installed",
                               "get the archive again from its source (or pack it again)")
        seen.append(name)
    missing = sorted(set(manifest["files"]) - {n.as_posix() for n in seen})
    if missing:
        raise ArchiveError(f"{archive}: {missing[0]}", f"is listed in the manifest but not in the archive "
                           f"({len(missing)} file(s) missing), so nothing was installed",
                           "get the complete archive again from its source")
    return seen


def unpack(archive: str | Path, *, force: bool = False, sha256: str | None = None) -> Installed:
    """Verify an archive from :func:`pack` and install its files under the repository's ``results/``.

    Args:
        archive: The ``.tar.gz`` file.
        force: Replace files on disk whose content differs from the archive's (otherwise refused, listing them).
        sha256: The whole archive's published SHA-256 (:func:`archive_sha256`), checked first when given.

    Raises:
        ArchiveError: The archive is not one, does not match ``sha256``, holds a file its manifest does not list
            (or lacks one it lists), a file whose checksum differs, a path outside ``results/<profile>/``, was
            made by other code than this checkout's, or would replace different files on disk without ``force``.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise ArchiveError(archive, "does not exist", "give the path of a file written by `landslide-core results pack`")
    if sha256 and archive_sha256(archive) != sha256.lower():
        raise ArchiveError(archive, f"has SHA-256 {archive_sha256(archive)}, not the {sha256} given: it is not the "
                           "published archive", "download it again")
    root = repository_root()
    try:
        tar = tarfile.open(archive, "r:gz")
    except (tarfile.TarError, OSError) as error:
        raise ArchiveError(archive, f"cannot be read as a .tar.gz ({error})", "download it again") from None
    with tar, tempfile.TemporaryDirectory(prefix=".unpack-", dir=root) as staging:
        manifest = _manifest(tar, archive)
        if manifest["package_digest"] != package_digest():
            raise ArchiveError(archive, f"was made by landslide_core {manifest['package_digest'][:12]} (commit "
                               f"{manifest['commit']}), this checkout's code is {package_digest()[:12]}: its book "
                               "would look for the runs elsewhere and train them again",
                               f"check out commit {manifest['commit']} (git checkout {manifest['commit']}) and unpack "
                               "again")
        try:
            names = _verified(tar, archive, manifest, Path(staging))
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ArchiveError(archive, f"is damaged ({type(error).__name__}: {error}), so nothing was installed",
                               "download it again") from None
        written, unchanged, conflicts = [], [], []
        for name in names:
            target = root / name
            if target.is_file():
                same = file_sha256(target) == manifest["files"][name.as_posix()]["sha256"]
                (unchanged if same else conflicts).append(target)
        if conflicts and not force:
            raise ArchiveError(conflicts[0], f"differs from the archive's copy ({len(conflicts)} file(s) would be "
                               "replaced), so nothing was installed", "move your results aside, or pass --force to "
                               "replace them")
        for name in names:
            target = root / name
            if target in unchanged:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(Path(staging) / name, target)
            written.append(target)
    return Installed(manifest["profile"], written, unchanged, manifest)
