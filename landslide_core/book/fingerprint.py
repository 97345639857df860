"""Has anything a section depends on changed since it last ran?

A section's fingerprint hashes its jupytext source, the parameters it runs with,
the code it calls (every file of ``landslide_core``), the library versions, and
the files under its data root (path, size and modification time; no pixels are
read, so this is quick even for the full dataset). The runner stores it in the
executed notebook's metadata and skips the section while it matches.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..provenance import PACKAGE, package_digest

__all__ = ["IGNORED_DATA_FOLDERS", "METADATA_KEY", "PACKAGE", "data_digest", "package_digest", "section_fingerprint"]

METADATA_KEY = "landslide_core"
IGNORED_DATA_FOLDERS = {"splits"}
"""Folders under a data root that runs write to (split manifests); they are not inputs."""


def data_digest(root: str | Path) -> str:
    """SHA-256 over (path, size, mtime) of every file under a data root, hidden files and ``splits/`` excepted."""
    root = Path(root)
    if not root.is_dir():
        return "missing"
    entries = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (Path(folder) == root and d in IGNORED_DATA_FOLDERS))
        for name in files:
            if name.startswith("."):
                continue
            stat = (Path(folder) / name).stat()
            entries.append(f"{(Path(folder) / name).relative_to(root).as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()


def section_fingerprint(source: Path, parameters: Mapping[str, Any], versions: Mapping[str, str], data: str) -> str:
    """The fingerprint of one section run with these parameters; ``data`` is its data root's :func:`data_digest`."""
    parts = {
        "source": hashlib.sha256(source.read_bytes()).hexdigest(),
        "parameters": parameters,
        "package": package_digest(),
        "versions": dict(versions),
        "data": data,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
