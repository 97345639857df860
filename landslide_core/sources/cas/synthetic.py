"""Marking a data root as synthetic, so every result computed from it says so.

``landslide-core demo-data`` writes :data:`SYNTHETIC_MARKER` at the root last;
while it writes, :data:`SYNTHETIC_INCOMPLETE_MARKER` stands in for it, so an
interrupted run is recognised. ``landslide-core replica`` (the full-size replica
of the dataset's layout) writes the same marker, naming :data:`REPLICA_GENERATOR`.
The scanner labels every tile of a marked root with :data:`SYNTHETIC_SOURCE` (a
replica's with :data:`REPLICA_SOURCE`), and pages and records name the data
accordingly.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = [
    "REPLICA_GENERATOR", "REPLICA_SOURCE", "SYNTHETIC_INCOMPLETE_MARKER", "SYNTHETIC_MARKER", "SYNTHETIC_SOURCE",
    "is_replica", "is_synthetic", "record_source", "synthetic_info",
]

SYNTHETIC_MARKER = "SYNTHETIC-DEMO-DATA.json"
"""File written at the root of generated demo data; its presence marks every tile as synthetic."""
SYNTHETIC_INCOMPLETE_MARKER = ".SYNTHETIC-DEMO-DATA.incomplete.json"
"""Stands in for the marker while demo data is being written: its presence means the writing was interrupted."""
SYNTHETIC_SOURCE = "demo (synthetic)"
REPLICA_SOURCE = "replica (synthetic)"
REPLICA_GENERATOR = "landslide_core.replica"
"""The generator a full-size replica's marker names; demo data's markers name others."""


def is_synthetic(root: str | Path) -> bool:
    """True for a data root written by ``landslide-core demo-data``, finished or interrupted."""
    root = Path(root)
    return (root / SYNTHETIC_MARKER).is_file() or (root / SYNTHETIC_INCOMPLETE_MARKER).is_file()


def synthetic_info(root: str | Path) -> dict[str, object]:
    """The generator settings recorded in a demo data root's marker file."""
    return json.loads((Path(root) / SYNTHETIC_MARKER).read_text(encoding="utf-8"))


def is_replica(root: str | Path) -> bool:
    """True for a data root written by ``landslide-core replica``.

    A replica is synthetic, but laid out and sized as the published dataset, so pages treat it as published tiles
    (it holds no scenes to cut) while saying it is synthetic.
    """
    try:
        return synthetic_info(root).get("generator") == REPLICA_GENERATOR
    except (OSError, ValueError, AttributeError):  # no marker, or not one of ours
        return False


def record_source(root: str | Path) -> str:
    """What the scanner records as the source of a tile under ``root``: ``CAS``, or the synthetic data's label."""
    if not is_synthetic(root):
        return "CAS"
    return REPLICA_SOURCE if is_replica(root) else SYNTHETIC_SOURCE
