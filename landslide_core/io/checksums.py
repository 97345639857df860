"""Checksums of files: what identifies a checkpoint, an archive member or a benchmark's input."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["file_sha256"]


def file_sha256(path: str | Path) -> str:
    """A file's SHA-256 in hex, read a MiB at a time (checkpoints and scenes can be gigabytes)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
