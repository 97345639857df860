"""Where a number came from: every results table is saved with the run that made it.

A record is two files side by side: ``<stem>.csv`` (the table, for spreadsheets
and pandas) and ``<stem>.json`` (the same rows plus the provenance). The
provenance names the code (git commit, and whether the checkout had local
changes), the settings (profile and parameters), the data (a checksum of the
split manifest, or of the tile listing when there is no split), the device,
the library versions and the wall time, so a table in the book can always be
traced to one run and rerun.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from .data.splits import manifest_checksum
from .errors import PathProblemError
from .io.atomic import write_text_atomic
from .sources import TileSource, get_source
from .tiles import TileRecord

__all__ = [
    "PACKAGE", "Provenance", "collect_provenance", "device_description", "git_state", "library_versions",
    "listing_checksum", "package_digest", "read_record", "write_record",
]

RECORD_VERSION = 1
_PACKAGES = ("landslide-core", "torch", "torchvision", "segmentation-models-pytorch", "numpy", "pandas", "rasterio",
             "geopandas")
PACKAGE = Path(__file__).resolve().parent
"""The ``landslide_core`` folder whose files :func:`package_digest` hashes."""


@cache
def package_digest() -> str:
    """SHA-256 over the contents of every source and data file of ``landslide_core``: the code version of a result."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".csv", ".yaml", ".json"} and "__pycache__" not in path.parts:
            digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Provenance:
    """The run behind a table: code, settings, data, device, versions and time."""

    git_commit: str
    git_modified: bool
    profile: str
    section: str
    parameters: dict[str, Any]
    data_root: str
    data_kind: str
    data_checksum: str
    device: str
    versions: dict[str, str]
    wall_time_s: float
    created_utc: str
    extra: dict[str, Any] = field(default_factory=dict)
    subdatasets: list[str] = field(default_factory=list)
    """Sorted sub-dataset keys of the tiles the run was given; empty when it was given none (older records lack it)."""
    source: dict[str, Any] = field(default_factory=dict)
    """The tile source's :meth:`~landslide_core.sources.TileSource.spec`, enough for ``get_source`` to remake it."""

    def line(self) -> str:
        """One line for under a table in the book."""
        commit = self.git_commit[:10] + (" + local changes" if self.git_modified else "")
        settings = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items() if k != "data_root")
        key_versions = " ".join(f"{k} {self.versions[k]}" for k in ("landslide-core", "torch") if k in self.versions)
        parts = [
            f"commit {commit}",
            f"profile {self.profile or '(none)'}" + (f" ({settings})" if settings else ""),
            self.data_kind + (f" (sha256 {self.data_checksum[:12]})" if _is_sha256(self.data_checksum) else ""),
            self.device,
            key_versions,
            f"{self.wall_time_s:.1f} s",
            self.created_utc,
        ]
        return "Provenance: " + " · ".join(p for p in parts if p)


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=PACKAGE, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_state() -> tuple[str, bool]:
    """The checkout's commit and whether tracked files differ from it."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return "unknown (not a git checkout)", False
    return commit, bool(_git("status", "--porcelain", "--untracked-files=no"))


def device_description(device: str | None = None) -> str:
    """The accelerator (or CPU model and core count) a run used, for its provenance."""
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        return f"GPU: {torch.cuda.get_device_name(index)} ×{torch.cuda.device_count()}"
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return f"CPU: {model} ({os.cpu_count()} cores)"


def library_versions() -> dict[str, str]:
    """Python's version and those of the key installed packages (those not installed are left out), for provenance."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def listing_checksum(records: Iterable[TileRecord], root: str | Path) -> str:
    """SHA-256 over the sorted tile names, paths (relative to ``root`` where under it) and file sizes of image and mask.

    Names the exact tiles a run read when it used no split manifest; cheap even for
    the full dataset (no pixels are read). The name tells apart tiles that share a
    file (HR-GLDD's rows of one array, windows of one image).
    """
    root = Path(root)

    def shown(path: Path) -> str:
        return (path.relative_to(root) if path.is_relative_to(root) else path).as_posix()

    lines = sorted(
        f"{record.uid}\t{shown(path)}\t{path.stat().st_size}"
        for record in records
        for path in (record.image, record.mask)
        if path is not None
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def collect_provenance(
    *,
    parameters: Mapping[str, Any],
    data_root: str | Path,
    records: Iterable[TileRecord] | None = None,
    manifest: str | Path | None = None,
    device: str | None = None,
    started: float | None = None,
    section: str = "",
    profile: str = "",
    extra: Mapping[str, Any] | None = None,
    source: str | TileSource = "cas",
) -> Provenance:
    """Provenance of a run now; ``started`` is its ``time.time()`` at the start (wall time)."""
    records = None if records is None else list(records)
    tile_source = get_source(source)
    if manifest is not None:
        checksum = manifest_checksum(manifest)
    elif records is not None:
        checksum = listing_checksum(records, data_root)
    else:
        checksum = "none (no tiles read)"
    commit, modified = git_state()
    return Provenance(
        git_commit=commit,
        git_modified=modified,
        profile=profile,
        section=section,
        parameters={k: _plain(v) for k, v in parameters.items()},
        data_root=str(data_root),
        data_kind=tile_source.data_label(data_root),
        data_checksum=checksum,
        device=device_description(device),
        versions=library_versions(),
        wall_time_s=0.0 if started is None else time.time() - started,
        created_utc=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        extra={k: _plain(v) for k, v in (extra or {}).items()},
        subdatasets=sorted({record.subdataset for record in records or ()}),
        source=_plain(tile_source.spec()),
    )


def _plain(value: Any) -> Any:
    """A JSON-safe copy of a parameter value (paths and tuples become strings and lists)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _flat(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its index as columns and multi-level column names joined by ' | '."""
    flat = table.reset_index() if any(name is not None for name in table.index.names) else table.copy()
    if isinstance(flat.columns, pd.MultiIndex):
        flat.columns = [" | ".join(str(level) for level in col if str(level)) for col in flat.columns]
    flat.columns = [str(c) for c in flat.columns]
    return flat


def write_record(table: pd.DataFrame, stem: str | Path, provenance: Provenance, *, caption: str = "") -> tuple[Path, Path]:
    """Write ``stem.csv`` and ``stem.json`` (rows + provenance), each atomically."""
    stem = Path(stem)
    flat = _flat(table)
    document = {
        "record_version": RECORD_VERSION,
        "table": stem.name,
        "caption": caption,
        "provenance": asdict(provenance),
        "columns": list(flat.columns),
        "rows": json.loads(flat.to_json(orient="records")),
    }
    csv_path = write_text_atomic(stem.with_suffix(".csv"), flat.to_csv(index=False))
    json_path = write_text_atomic(stem.with_suffix(".json"), json.dumps(document, indent=1, ensure_ascii=False))
    return csv_path, json_path


def read_record(stem: str | Path) -> tuple[pd.DataFrame, Provenance]:
    """A record's rows and provenance, from ``stem.json``.

    Raises:
        PathProblemError: ``stem.json`` does not exist or is not a landslide-core record.
    """
    path = Path(stem).with_suffix(".json")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        provenance = Provenance(**document["provenance"])
        rows = pd.DataFrame(document["rows"], columns=document["columns"])
    except FileNotFoundError:
        raise PathProblemError(path, "no such record", "run the section or command that writes it first") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise PathProblemError(path, f"not a landslide-core record ({exc})", "delete it and rerun what wrote it") from None
    return rows, provenance
