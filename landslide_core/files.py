"""Writing a small text file so that it is either complete or absent, never half written.

Records, histories, scores and markers are read back to decide what to skip or
resume; a file cut short by a crash would be taken for a finished one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8, line endings untouched) to a temporary file beside ``path``, then rename it over it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:  # the text exactly as given
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
