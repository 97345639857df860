"""The CAS Landslide Dataset's 16 sub-datasets (paper Table 2) and 9 regions (paper Table 4).

Both tables are CSV files in :mod:`landslide_core.paper` (``table2_subdatasets.csv``,
``table4_regions.csv``), so they read as data, not code. Columns of ours sit beside the
paper's: each sub-dataset's sensor group and region (our links to Tables 5 and 4), its
Zenodo file name and tile-name prefixes, and each region's coordinates, which are
*approximate* (a point near the centre of each study area, for the location map); the
official outlines are in the study-areas shapefile on Zenodo.

Folder and file names in the real distribution are irregular (full-width
parentheses, "UAV-0.2m" vs "0.2 m", "palu" vs "Palu"); :func:`find_subdataset`
matches them through :func:`normalize_name` and each entry's aliases.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import PurePath
from typing import Literal

from ...errors import UnknownSubDatasetError

__all__ = [
    "GROUPS", "PAPER_CITATION", "STUDY_AREAS_FOLDER", "TILE_SIZE", "ZENODO_DOI", "ZENODO_RECORD", "Group", "Region",
    "SubDataset", "check_group", "find_subdataset", "get_subdataset", "group_members", "licence_summary",
    "normalize_name", "region", "regions", "subdataset_for_tile_name", "subdatasets"
]

Group = Literal["UAV", "SAT"]
TILE_SIZE = 512
"""Side of every CAS tile in pixels."""
STUDY_AREAS_FOLDER = "study_areas"
"""Folder under the data root that ``landslide-core download study-areas`` unpacks the shapefile into."""
GROUPS: tuple[str, ...] = ("UAV", "SAT", "UAV&SAT")
"""Sensor groups of paper Table 5; ``UAV&SAT`` is the union of the other two."""

ZENODO_RECORD = 10294997
ZENODO_DOI = "10.5281/zenodo.10294997"
PAPER_CITATION = (
    "Xu, Y., Ouyang, C., Xu, Q. et al. CAS Landslide Dataset: A Large-Scale and Multisensor "
    "Dataset for Deep Learning-Based Landslide Detection. Scientific Data 11, 12 (2024)."
)


@dataclass(frozen=True)
class SubDataset:
    """One row of paper Table 2, plus columns of ours: its group and region, and how it is distributed on Zenodo."""

    key: str
    name: str
    group: Group
    paper_tiles: int
    acquisition_time: str
    source: str
    sensor: str
    resolution_m: float
    licence: str
    region: str
    zenodo_file: str
    zenodo_file_seen: bool
    """True where this exact file name was seen in public download scripts; else inferred
    from the folder name and matched loosely at download time."""
    aliases: tuple[str, ...]
    tile_name_prefixes: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Every spelling under which this sub-dataset may appear on disk."""
        stem = PurePath(self.zenodo_file).stem
        return (self.name, self.key, stem, *self.aliases)


@dataclass(frozen=True)
class Region:
    """One row of paper Table 4, with an approximate location of ours (Table 4 gives none)."""

    key: str
    location: str
    country: str
    trigger: str
    landforms: str
    lithology: str
    climate: str
    vegetation: str
    approx_lat: float
    approx_lon: float


def _read_csv(name: str) -> list[dict[str, str]]:
    with resources.files("landslide_core.paper").joinpath(name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split("|") if v)


@cache
def subdatasets() -> tuple[SubDataset, ...]:
    """The 16 sub-datasets in the order of paper Table 2."""
    return tuple(
        SubDataset(
            key=row["key"],
            name=row["name"],
            group=row["group"],  # type: ignore[arg-type]
            paper_tiles=int(row["paper_tiles"]),
            acquisition_time=row["acquisition_time"],
            source=row["source"],
            sensor=row["sensor"],
            resolution_m=float(row["resolution_m"]),
            licence=row["licence"],
            region=row["region"],
            zenodo_file=row["zenodo_file"],
            zenodo_file_seen=row["zenodo_file_seen"] == "yes",
            aliases=_split_list(row["aliases"]),
            tile_name_prefixes=_split_list(row["tile_name_prefixes"]),
        )
        for row in _read_csv("table2_subdatasets.csv")
    )


@cache
def regions() -> tuple[Region, ...]:
    """The nine study regions in the order of paper Table 4."""
    return tuple(
        Region(
            **{k: v for k, v in row.items() if not k.startswith("approx_")},
            approx_lat=float(row["approx_lat"]),
            approx_lon=float(row["approx_lon"]),
        )
        for row in _read_csv("table4_regions.csv")
    )


def licence_summary() -> str:
    """One sentence on the licences of paper Table 2: sub-datasets and tiles per licence, most tiles first.

    Computed from the registry, so the README (which holds this exact sentence, checked by a test) and the
    dataset page cannot drift from the table; the licence names are Table 2's, quoted as published.
    """
    by_licence: dict[str, list[SubDataset]] = {}
    for sd in subdatasets():
        by_licence.setdefault(sd.licence, []).append(sd)
    tiles = {licence: sum(sd.paper_tiles for sd in sds) for licence, sds in by_licence.items()}
    parts = [
        f"{licence}: {len(sds)} sub-dataset{'s' if len(sds) > 1 else ''}, {tiles[licence]:,} tiles"
        for licence, sds in sorted(by_licence.items(), key=lambda item: (-tiles[item[0]], item[0]))
    ]
    return (
        f"The {len(subdatasets())} sub-datasets carry the licences of the Authorization column of paper Table 2 "
        f"({len(by_licence)} different ones, quoted as published; {sum(tiles.values()):,} tiles in all): "
        + "; ".join(parts) + "."
    )


def region(key: str) -> Region:
    """The region with this key (as in a :class:`SubDataset`'s ``region``).

    Raises:
        UnknownSubDatasetError: No region has this key.
    """
    for r in regions():
        if r.key == key:
            return r
    raise UnknownSubDatasetError(
        f"unknown region {key!r}; valid regions: {', '.join(r.key for r in regions())}"
    )


def normalize_name(name: str) -> str:
    """Fold a folder, zip or paper name to a comparable form.

    NFKC turns full-width parentheses into ASCII ones; case and all whitespace are
    dropped, so ``Longxi River（UAV）``, ``longxi river (UAV)`` and
    ``Longxi River(UAV)`` compare equal.
    """
    folded = unicodedata.normalize("NFKC", name).casefold().removesuffix(".zip")
    return "".join(folded.split())


@cache
def _name_index() -> dict[str, SubDataset]:
    index: dict[str, SubDataset] = {}
    for sd in subdatasets():
        for spelling in sd.names:
            index.setdefault(normalize_name(spelling), sd)
    return index


def find_subdataset(name: str) -> SubDataset | None:
    """The sub-dataset a folder, zip file or paper name refers to, or None."""
    return _name_index().get(normalize_name(name))


def get_subdataset(name: str) -> SubDataset:
    """Like :func:`find_subdataset` but raises with the valid names when unknown.

    Raises:
        UnknownSubDatasetError: ``name`` refers to no sub-dataset.
    """
    sd = find_subdataset(name)
    if sd is None:
        valid = ", ".join(f"{s.key} ({s.name})" for s in subdatasets())
        raise UnknownSubDatasetError(f"unknown sub-dataset {name!r}; valid names: {valid}")
    return sd


def subdataset_for_tile_name(file_name: str) -> SubDataset | None:
    """Guess a tile's sub-dataset from the file-name prefixes seen in the distribution.

    Only prefixes seen in real files are known (``Haiti_Planet043.tiff`` →
    Tiburon Peninsula (Planet)); the longest matching prefix wins.
    """
    stem = PurePath(file_name).stem
    best: tuple[int, SubDataset | None] = (0, None)
    for sd in subdatasets():
        for prefix in sd.tile_name_prefixes:
            rest = stem[len(prefix) :]
            if stem.startswith(prefix) and rest[:1].isdigit() and len(prefix) > best[0]:
                best = (len(prefix), sd)
    return best[1]


def check_group(group: str) -> str:
    """``group`` itself when it is a sensor group of paper Table 5; raises with the valid ones otherwise.

    Raises:
        UnknownSubDatasetError: ``group`` is not ``UAV``, ``SAT`` or ``UAV&SAT``.
    """
    if group not in GROUPS:
        raise UnknownSubDatasetError(f"unknown sensor group {group!r}; valid groups: {', '.join(GROUPS)}")
    return group


def group_members(group: str) -> tuple[SubDataset, ...]:
    """Sub-datasets of a sensor group: ``UAV``, ``SAT`` or ``UAV&SAT`` (all 16)."""
    check_group(group)
    return tuple(sd for sd in subdatasets() if group == "UAV&SAT" or sd.group == group)
