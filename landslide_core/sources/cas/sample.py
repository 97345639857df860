"""The real sample shipped with the project: 24 CAS Hokkaido Iburi-Tobu tiles (CC BY 4.0).

Every other tile of the default book is synthetic. The Hokkaido Iburi-Tobu sub-dataset is the one CAS sub-dataset
licensed CC BY 4.0 (paper Table 2), so 24 of its image/mask pairs ship in the repository under ``data/sample``, in
the dataset's layout, with ``SHA256SUMS`` (every tile file's SHA-256) and ``LICENCE.md`` (licence, attribution and
the path the tiles took). A page reads the sample only after :func:`verify_sample` found every file as listed, so a
damaged or edited copy is named, never silently scored.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import DatasetNotFoundError, PathProblemError
from ...io.checksums import file_sha256

__all__ = [
    "CHECKSUMS_FILE", "LICENCE_FILE", "SAMPLE_DATA", "SAMPLE_SUBDATASET", "SampleError", "is_sample", "sample_problems",
    "verify_sample",
]

CHECKSUMS_FILE = "SHA256SUMS"
"""The checksum manifest, in ``sha256sum`` format (``cd data/sample && sha256sum -c SHA256SUMS`` checks it)."""
LICENCE_FILE = "LICENCE.md"
SAMPLE_DATA = "CAS sample, real"
"""What pages and records call the shipped sample."""
SAMPLE_SUBDATASET = "Hokkaido Iburi-Tobu"


class SampleError(PathProblemError):
    """A file of the shipped sample that is missing, extra or not the one its checksum manifest lists."""


def is_sample(root: str | Path) -> bool:
    """True for a data root holding the sample's checksum manifest and licence file."""
    root = Path(root)
    return (root / CHECKSUMS_FILE).is_file() and (root / LICENCE_FILE).is_file()


def _listed(root: Path) -> dict[str, str]:
    """Relative path → SHA-256 as the manifest lists them."""
    listed = {}
    for line in (root / CHECKSUMS_FILE).read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            listed[name.strip()] = digest
    return listed


def sample_problems(root: str | Path) -> list[SampleError]:
    """Every file of the sample that differs from its manifest: missing, changed, or a tile the manifest lacks."""
    root = Path(root)
    fix = f"restore it with `git checkout -- {root}` (or a fresh clone); the sample must match {CHECKSUMS_FILE}"
    listed = _listed(root)
    problems = []
    for name, digest in listed.items():
        path = root / name
        if not path.is_file():
            problems.append(SampleError(path, "listed in the sample's checksum manifest but missing", fix))
        elif file_sha256(path) != digest:
            problems.append(SampleError(path, f"its SHA-256 differs from the one {CHECKSUMS_FILE} lists", fix))
    for path in sorted(root.rglob("*.tif*")):
        if path.relative_to(root).as_posix() not in listed and "splits" not in path.relative_to(root).parts:
            problems.append(SampleError(path, f"a tile in the sample that {CHECKSUMS_FILE} does not list",
                                        "remove it: the sample is exactly the tiles its manifest lists"))
    return problems


def verify_sample(root: str | Path) -> Path:
    """``root`` once every file of the sample is as its manifest lists (about 14 MB read: a fraction of a second).

    Raises:
        DatasetNotFoundError: ``root`` holds no sample (no checksum manifest or licence file).
        SampleError: The first file that is missing, changed or not listed.
    """
    root = Path(root)
    if not is_sample(root):
        raise DatasetNotFoundError(root, f"no real sample here (it needs {CHECKSUMS_FILE} and {LICENCE_FILE})",
                                   "use a full clone of the repository, whose data/sample holds the 24 tiles")
    problems = sample_problems(root)
    if problems:
        raise problems[0]
    return root
