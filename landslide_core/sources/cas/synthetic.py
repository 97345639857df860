"""Marking a data root as synthetic demo data, so every result computed from it says so.

``landslide-core demo-data`` writes :data:`SYNTHETIC_MARKER` at the root last;
while it writes, :data:`SYNTHETIC_INCOMPLETE_MARKER` stands in for it, so an
interrupted run is recognised. The scanner labels every tile of a marked root
with :data:`SYNTHETIC_SOURCE`, and pages and records name the data accordingly.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["SYNTHETIC_INCOMPLETE_MARKER", "SYNTHETIC_MARKER", "SYNTHETIC_SOURCE", "is_synthetic", "synthetic_info"]

SYNTHETIC_MARKER = "SYNTHETIC-DEMO-DATA.json"
"""File written at the root of generated demo data; its presence marks every tile as synthetic."""
SYNTHETIC_INCOMPLETE_MARKER = ".SYNTHETIC-DEMO-DATA.incomplete.json"
"""Stands in for the marker while demo data is being written: its presence means the writing was interrupted."""
SYNTHETIC_SOURCE = "demo (synthetic)"


def is_synthetic(root: str | Path) -> bool:
    """True for a data root written by ``landslide-core demo-data``, finished or interrupted."""
    root = Path(root)
    return (root / SYNTHETIC_MARKER).is_file() or (root / SYNTHETIC_INCOMPLETE_MARKER).is_file()


def synthetic_info(root: str | Path) -> dict[str, object]:
    """The generator settings recorded in a demo data root's marker file."""
    return json.loads((Path(root) / SYNTHETIC_MARKER).read_text(encoding="utf-8"))
