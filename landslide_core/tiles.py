"""Tile records: the unit every later step (split, Dataset, QC, leakage audit) works on.

A record says where a tile's files are and where the tile comes from: its
sub-dataset and sensor group, the dataset it belongs to (``source``), and, where
known, the scene it was cut from and its pixel position there. Published CAS
tiles carry no position (the distribution dropped georeferencing); tiles cut by
our own tiler will.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TileRecord", "select_split"]


@dataclass(frozen=True)
class TileRecord:
    """One image tile, its mask and where it comes from."""

    subdataset: str
    """The source's key of the sub-dataset (CAS: see :func:`landslide_core.sources.cas.subdatasets`); a source without sub-datasets puts its own name here."""
    group: str
    """Group of the tile within its source (CAS: sensor group ``UAV`` or ``SAT``)."""
    name: str
    """File stem shared by image and mask."""
    image: Path
    mask: Path | None = None
    label: Path | None = None
    source: str = "CAS"
    """Dataset the tile belongs to: ``CAS``, ``demo (synthetic)``, or another dataset's name."""
    scene: str | None = None
    row: int | None = None
    col: int | None = None
    split: str | None = None
    """``train`` or ``val`` once a split has been made."""

    @property
    def uid(self) -> str:
        """Identifier unique within a dataset: sub-dataset key and file stem."""
        return f"{self.subdataset}/{self.name}"


def select_split(records: Iterable[TileRecord], split: str) -> list[TileRecord]:
    """Records assigned to ``train`` or ``val``."""
    return [r for r in records if r.split == split]
