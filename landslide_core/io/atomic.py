"""Writing a file so that it is either complete or absent, never half written.

Records, histories, scores, markers, checkpoints and tiles are read back to
decide what to skip or resume; a file cut short by a crash would be taken for a
finished one. Every writer in the package goes through :func:`atomic_path`: it
hands out a temporary path beside the target, and only a body that finishes
gets renamed onto the target (a rename within one folder is atomic on POSIX).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "write_text_atomic"]


@contextmanager
def atomic_path(path: str | Path, *, suffix: str = ".tmp", durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block finishes.

    Args:
        path: The file to write. Its folder is created when missing.
        suffix: Ending of the temporary name; writers that pick a format by the
            file's ending (GDAL) need it, e.g. ``".tmp.tif"``.
        durable: Flush the file to disk (``fsync``) before the rename, so that
            it survives a power cut too (checkpoints of long runs).

    Raises:
        Exception: Whatever the block raises; the temporary file is removed
            and an earlier file at ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` as UTF-8, line endings untouched, through :func:`atomic_path`.

    Args:
        path: The file to write.
        text: Its whole content.

    Returns:
        ``path``.
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return path
