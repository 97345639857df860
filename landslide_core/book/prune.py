"""Old run folders: which ones no page of this checkout reads, so ``landslide-core results prune`` may remove them.

Run folders pile up, one per code version and configuration (see
:class:`landslide_core.experiments.runs.RunSpec`). A page reads the runs of its
section's ``runs/<code version>/`` folder whose identity its parameters give; each
page records the run folders it read in ``runs_read.json`` beside its records
(:meth:`landslide_core.book.page.SectionRun.note_runs_read`), with the code
version that read them. A run folder is kept when the last build of a page with
this code version read it, when the caller names it (the Table 5 grid's cells,
which jobs may still be training), or while a process holds its lock; everything
else under ``results/<profile>/<section>/runs/`` is listed: whole folders of other
code versions (with their split manifests and stand-ins), and run folders of this
code version that no page read.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..io.atomic import write_text_atomic
from ..io.lock import is_held
from ..provenance import package_digest
from ..train.config import CONFIG_FILE
from .runner import RESULTS_DIR, repository_root

__all__ = ["READS_FILE", "Prunable", "prunable", "remove", "write_reads"]

READS_FILE = "runs_read.json"


@dataclass(frozen=True)
class Prunable:
    """A folder no page of this checkout reads, and why."""

    path: Path
    reason: str
    bytes: int


def write_reads(results_dir: Path, folders: Iterable[Path]) -> Path:
    """Record the run folders a page read (relative to its ``results_dir`` where inside it) with this code version."""
    results_dir = Path(results_dir)
    shown = sorted({(Path(f).relative_to(results_dir) if Path(f).is_relative_to(results_dir) else Path(f)).as_posix()
                    for f in folders})
    record = {"code_version": package_digest(), "folders": shown}
    return write_text_atomic(results_dir / READS_FILE, json.dumps(record, indent=2) + "\n")


def _read_by_pages(base: Path) -> set[Path]:
    """Run folders the pages built with this code version read, from every section's ``runs_read.json``."""
    read = set()
    for reads in base.glob(f"*/{READS_FILE}"):
        record = json.loads(reads.read_text(encoding="utf-8"))
        if record.get("code_version") == package_digest():
            read |= {(reads.parent / name).resolve() for name in record.get("folders", [])}
    return read


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _run_folders(folder: Path) -> Iterator[Path]:
    """Every run folder (one holding ``config.json``) under ``folder``."""
    for config in sorted(folder.rglob(CONFIG_FILE)):
        yield config.parent


def prunable(profile: str, kept: Iterable[Path] = ()) -> list[Prunable]:
    """The folders under ``results/<profile>/*/runs/`` that no page of this checkout reads (see the module doc).

    Args:
        profile: The parameter profile whose results to look at.
        kept: Run folders to keep besides those the pages read (e.g. the Table 5 grid's cells).
    """
    base = repository_root() / RESULTS_DIR / profile
    version = package_digest()[:12]
    keep = _read_by_pages(base) | {Path(k).resolve() for k in kept}
    found = []
    for versions in sorted(base.glob("*/runs")):
        for folder in sorted(p for p in versions.iterdir() if p.is_dir()):
            if folder.name != version:
                if not any(is_held(run) for run in _run_folders(folder)):
                    found.append(Prunable(folder, f"made by code version {folder.name}, this checkout is {version}",
                                          _size(folder)))
                continue
            found += [Prunable(run, "no page of this checkout read it in its last build", _size(run))
                      for run in _run_folders(folder) if run.resolve() not in keep and not is_held(run)]
    return found


def remove(folders: Iterable[Prunable]) -> int:
    """Delete the folders; return the bytes freed."""
    freed = 0
    for folder in folders:
        shutil.rmtree(folder.path)
        freed += folder.bytes
    return freed
