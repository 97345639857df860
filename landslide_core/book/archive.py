"""Results without checkpoints: one archive of a profile's records and run scores, verified before it is installed.

A grid trained on a cluster becomes a book on a laptop: :func:`pack` writes
``results/<profile>/`` into one ``.tar.gz``, leaving out checkpoints (``*.pt``),
scheduler job folders and working data the pages regenerate (``work/``,
``stand-ins/``), and runs made by other code versions. Inside, a manifest lists
every file with its SHA-256 and size and the provenance of the code that made them
(commit, package digest, library versions). :func:`unpack` checks every file against
it before it installs any, so a tampered or truncated archive is refused with the
file named, and nothing already on disk is replaced unless asked. The book then
reads the runs back instead of training them (as showyourwork caches expensive
results behind a DOI).

**What unpacking proves.** That the archive agrees with its own manifest: exactly
the listed files, each of the listed size and SHA-256, under ``results/<profile>/``.
Anyone can write an archive that agrees with its own manifest, so it is the
published archive only when ``sha256`` (``--sha256``) is taken from a trusted place,
such as the page that published it. Before anything is extracted, a manifest over
:data:`MAX_MANIFEST_BYTES`, files listing more than :data:`MAX_TOTAL_BYTES` in all, a
member whose size differs from its listed size, and a name that occurs twice are
refused, so a small archive cannot fill the disk.
"""

from __future__ import annotations

import io
import json
import os
import re
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
from ..io.lock import LOCK_FILE
from ..provenance import git_state, library_versions
from .fingerprint import package_digest
from .runner import RESULTS_DIR, repository_root

__all__ = ["FORMAT", "MANIFEST", "MAX_MANIFEST_BYTES", "MAX_TOTAL_BYTES", "PROFILE_NAME", "Installed", "archive_sha256",
           "pack", "packed_files", "unpack"]

FORMAT = 1
MANIFEST = "landslide-core-results.json"
LEFT_OUT_SUFFIXES = {".pt", ".pkl", ".tmp"}
"""Checkpoints, submitit's pickles and unfinished atomic writes."""
LEFT_OUT_NAMES = {LOCK_FILE}
"""Lock files of work in progress (a crashed run's stays behind)."""
LEFT_OUT_FOLDERS = {"jobs", "work", "stand-ins"}
"""Scheduler job folders and data the pages regenerate from their seeds."""
PROFILE_NAME = re.compile(r"[A-Za-z0-9_-]+")
"""What a profile name may be: one folder name under ``results/``, never empty, ``.``, ``..`` or a path."""
MAX_MANIFEST_BYTES = 16 * 2**20
"""The largest manifest :func:`unpack` reads (16 MiB, about 100,000 files' entries)."""
MAX_TOTAL_BYTES = 256 * 2**20
"""The most bytes an archive may hold in all (256 MiB); records and run scores take far less."""


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def _check_profile(profile: object, where: str | Path) -> None:
    """Refuse a profile that is not a :data:`PROFILE_NAME`, so that files stay in ``results/<profile>/``.

    Raises:
        ArchiveError: It is not one.
    """
    if isinstance(profile, str) and PROFILE_NAME.fullmatch(profile):
        return
    raise ArchiveError(where, f"names the profile {profile!r}, which is not a profile name (letters, digits, '_' "
                       "and '-' only), so its files could land outside results/<profile>/",
                       "name a profile of landslide_core/book/profiles.yaml, e.g. paper, and use an archive written "
                       "by `landslide-core results pack`")


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
        if not path.is_file() or len(parts) < 2 or path.suffix in LEFT_OUT_SUFFIXES or path.name in LEFT_OUT_NAMES:
            continue
        if LEFT_OUT_FOLDERS & set(parts[1:-1]):
            continue
        if len(parts) > 2 and not (parts[1] == "runs" and parts[2] == version):
            continue
        yield path.relative_to(root)


def pack(profile: str, out: str | Path | None = None) -> Path:
    """Write ``results/<profile>/`` (see :func:`packed_files`) and its manifest to one ``.tar.gz``; return its path.

    Raises:
        ArchiveError: The profile is not a :data:`PROFILE_NAME`, has no results here, or its files exceed
            :data:`MAX_TOTAL_BYTES` (or their manifest :data:`MAX_MANIFEST_BYTES`), so :func:`unpack` would refuse them.
    """
    root = repository_root()
    _check_profile(profile, "--profile")
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
    total = sum(entry["bytes"] for entry in manifest["files"].values())
    data = (json.dumps(manifest, indent=2) + "\n").encode()
    if total > MAX_TOTAL_BYTES or len(data) > MAX_MANIFEST_BYTES:
        raise ArchiveError(root / RESULTS_DIR / profile, f"holds {len(files):,} files of {_mib(total)} to pack (a "
                           f"{_mib(len(data))} manifest), more than unpack takes ({_mib(MAX_TOTAL_BYTES)} of files, "
                           f"a {_mib(MAX_MANIFEST_BYTES)} manifest)", "move files that are not records or run scores "
                           "out of this profile's results folder, then pack again")
    out = Path(out) if out else root / f"results-{profile}-{package_digest()[:12]}.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".tmp")
    with tarfile.open(partial, "w:gz") as tar:
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
    """The archive's manifest, read only when it is at most :data:`MAX_MANIFEST_BYTES`, with every entry checked.

    Raises:
        ArchiveError: No readable manifest, one too large, of another format, naming no valid profile, or with an
            entry lacking its ``sha256`` or ``bytes``; or its files add up to more than :data:`MAX_TOTAL_BYTES`.
    """
    fix = "get the archive again from its source; `landslide-core results pack` writes valid ones"
    try:
        member = tar.getmember(MANIFEST)
        if member.size > MAX_MANIFEST_BYTES:
            raise ArchiveError(archive, f"has a {MANIFEST} of {member.size:,} bytes, more than the "
                               f"{_mib(MAX_MANIFEST_BYTES)} a results manifest may take, so it was not read", fix)
        manifest = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
        manifest.get("format")
    except (KeyError, AttributeError, ValueError):
        raise ArchiveError(archive, f"has no readable {MANIFEST}, so it is not a landslide-core results archive",
                           "make one with `landslide-core results pack`") from None
    if manifest.get("format") != FORMAT:
        raise ArchiveError(archive, f"is in results-archive format {manifest.get('format')!r}, this code reads "
                           f"{FORMAT}", "unpack it with the landslide-core version that packed it")
    _check_profile(manifest.get("profile"), archive)
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(manifest.get(k), str) for k in ("package_digest", "commit")):
        raise ArchiveError(archive, f"has a {MANIFEST} without its files, package_digest or commit", fix)
    for name, entry in files.items():
        sha256, size = (entry.get("sha256"), entry.get("bytes")) if isinstance(entry, dict) else (None, None)
        if not (isinstance(sha256, str) and re.fullmatch(r"[0-9a-f]{64}", sha256)):
            raise ArchiveError(f"{archive}: {name}", f"has no sha256 (64 hex digits) in the {MANIFEST}, so it "
                               "cannot be verified and nothing was installed", fix)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ArchiveError(f"{archive}: {name}", f"has no size (bytes) in the {MANIFEST}, so nothing was "
                               "installed", fix)
    total = sum(entry["bytes"] for entry in files.values())
    if total > MAX_TOTAL_BYTES:
        raise ArchiveError(archive, f"lists {len(files):,} file(s) of {total:,} bytes in all, more than the "
                           f"{_mib(MAX_TOTAL_BYTES)} a results archive may unpack, so nothing was extracted",
                           f"{fix} (records and run scores take far less)")
    return manifest


def _check_member(member: tarfile.TarInfo, archive: Path, manifest: dict[str, Any]) -> None:
    name = PurePosixPath(member.name)
    allowed = PurePosixPath(RESULTS_DIR.as_posix(), manifest["profile"])
    if (name.is_absolute() or ".." in name.parts or name.as_posix() != member.name or allowed not in name.parents
            or not member.isfile()):
        raise ArchiveError(f"{archive}: {member.name}", f"({member.name!r} in the archive) is not a plain file under "
                           f"{allowed}/ (an absolute path, '..', './', '//', a link or a folder), so the archive is "
                           "refused", "use an archive written by `landslide-core results pack`")
    if member.name not in manifest["files"]:
        raise ArchiveError(f"{archive}: {member.name}", "is in the archive but not in its manifest: the archive "
                           "was changed after it was packed", "get the archive again from its source")


def _listed_members(tar: tarfile.TarFile, archive: Path, manifest: dict[str, Any]) -> list[tarfile.TarInfo]:
    """The archive's files, each checked from its header against the manifest before any is extracted.

    Names are compared without case (as macOS and Windows see them), so two members can never be written to one
    file.

    Raises:
        ArchiveError: A name occurs twice; a member is not a plain file under ``results/<profile>/``, is not in
            the manifest, or has another size than the manifest lists; or a listed file is missing.
    """
    members, seen = [], set()
    for member in tar.getmembers():
        key = member.name.casefold()
        if key in seen:
            raise ArchiveError(f"{archive}: {member.name}", "occurs twice in the archive (names compared without "
                               "case), so which copy is meant is unknown and nothing was installed",
                               "get the archive again from its source (or pack it again)")
        seen.add(key)
        if member.name == MANIFEST:
            continue
        _check_member(member, archive, manifest)
        listed = manifest["files"][member.name]["bytes"]
        if member.size != listed:
            raise ArchiveError(f"{archive}: {member.name}", f"holds {member.size:,} bytes where its manifest lists "
                               f"{listed:,}: the file was changed after packing, so nothing was extracted",
                               "get the archive again from its source (or pack it again)")
        members.append(member)
    missing = sorted(set(manifest["files"]) - {m.name for m in members})
    if missing:
        raise ArchiveError(f"{archive}: {missing[0]}", f"is listed in the manifest but not in the archive "
                           f"({len(missing)} file(s) missing), so nothing was installed",
                           "get the complete archive again from its source")
    return members


def _verified(tar: tarfile.TarFile, archive: Path, manifest: dict[str, Any], staging: Path) -> list[PurePosixPath]:
    """Check every member (:func:`_listed_members`), then extract each into ``staging`` and check its SHA-256.

    Raises:
        ArchiveError: A member fails :func:`_listed_members` or differs from its checksum.
    """
    members = _listed_members(tar, archive, manifest)
    for member in members:
        target = staging / member.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with tar.extractfile(member) as source, target.open("wb") as sink:  # type: ignore[union-attr]
            shutil.copyfileobj(source, sink)
        if file_sha256(target) != manifest["files"][member.name]["sha256"]:
            raise ArchiveError(f"{archive}: {member.name}", "does not match the SHA-256 its manifest lists: the "
                               "file was changed or damaged after packing, so nothing was installed",
                               "get the archive again from its source (or pack it again)")
    return [PurePosixPath(member.name) for member in members]


def unpack(archive: str | Path, *, force: bool = False, sha256: str | None = None) -> Installed:
    """Verify an archive from :func:`pack` and install its files under the repository's ``results/``.

    What this proves: the archive agrees with its own manifest (exactly the listed files, each of the listed size
    and SHA-256, under ``results/<profile>/``) and the manifest says this checkout's code made it. Anyone can write
    an archive that agrees with its own manifest: it is the published archive only when ``sha256`` is taken from a
    trusted place, such as the page that published it. Sizes, names and the caps (:data:`MAX_MANIFEST_BYTES`,
    :data:`MAX_TOTAL_BYTES`) are checked from the headers before anything is extracted; files are staged beside
    ``results/`` and installed only once every one has matched.

    Args:
        archive: The ``.tar.gz`` file.
        force: Replace files on disk whose content differs from the archive's (otherwise refused, listing them).
        sha256: The whole archive's published SHA-256 (:func:`archive_sha256`), checked first when given.

    Raises:
        ArchiveError: The archive is not one, does not match ``sha256``, holds a file its manifest does not list
            (or lacks one it lists), a name twice, a file whose size or checksum differs, a path outside
            ``results/<profile>/``; its manifest is over :data:`MAX_MANIFEST_BYTES`, names an invalid profile, lacks
            an entry's ``sha256`` or ``bytes``, or lists more than :data:`MAX_TOTAL_BYTES`; it was made by other
            code than this checkout's; or it would replace different files on disk without ``force``.
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
        try:
            manifest = _manifest(tar, archive)
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ArchiveError(archive, f"is damaged ({type(error).__name__}: {error}), so nothing was installed",
                               "download it again") from None
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
