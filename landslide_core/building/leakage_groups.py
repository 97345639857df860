"""Groups a leakage-free split keeps on one side: linked tiles, tiles close on the map, and both merged.

A group is a connected component of links (union-find, so linking 20,865 tiles
costs next to nothing); its id is the smallest tile uid in it, so ids do not depend on the
order tiles were read in. Tiles that carry georeferencing (those our own tiler
writes; published CAS tiles carry none) are linked where their footprints overlap
(:func:`footprint_pairs`: they show the same ground), and grouped by where they lie:
tiles whose centres fall in the same square block are spatially autocorrelated even
where they share no pixel.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from affine import Affine
from tqdm import tqdm

from ..io.raster import open_raster
from ..tiles import TileRecord

__all__ = ["GEOREFERENCED_SUFFIXES", "Footprint", "footprint_pairs", "group_ids", "merge_groups", "read_footprint",
           "spatial_groups"]

GEOREFERENCED_SUFFIXES = (".tif", ".tiff")
"""Tiles in files with these endings are checked for georeferencing; others (arrays in ``.npy`` files) have none."""

Rectangle = tuple[int, int, int, int]
"""``(top, left, bottom, right)`` in a tile's pixels, bottom and right exclusive."""


@dataclass(frozen=True)
class Footprint:
    """Where a georeferenced tile lies: its CRS, its pixel grid's transform and its size."""

    crs: str
    transform: Affine
    rows: int
    cols: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in the CRS."""
        xs, ys = zip(*(self.transform @ corner for corner in
                       ((0, 0), (self.cols, 0), (0, self.rows), (self.cols, self.rows))), strict=True)
        return min(xs), min(ys), max(xs), max(ys)

    def pixels(self, bounds: tuple[float, ...]) -> Rectangle:
        """The tile's pixels that ``bounds`` covers (partly covered ones included), clipped to the tile."""
        left, bottom, right, top = bounds
        inverse = ~self.transform
        cols, rows = zip(*(inverse @ corner for corner in ((left, bottom), (left, top), (right, bottom), (right, top))),
                         strict=True)
        tolerance = 1e-6  # corners on a pixel edge up to rounding
        return (max(0, math.floor(min(rows) + tolerance)), max(0, math.floor(min(cols) + tolerance)),
                min(self.rows, math.ceil(max(rows) - tolerance)), min(self.cols, math.ceil(max(cols) - tolerance)))


def read_footprint(path: str | Path) -> Footprint | None:
    """The footprint of a GeoTIFF tile from its header; ``None`` without a CRS or for other files.

    Raises:
        UnreadableTileError: GDAL cannot open the file.
    """
    if Path(path).suffix.lower() not in GEOREFERENCED_SUFFIXES:
        return None
    with open_raster(path) as src:
        if src.crs is None:
            return None
        return Footprint(src.crs.to_string(), src.transform, src.height, src.width)


def group_ids(uids: Sequence[str], links: Iterable[tuple[int, int]]) -> list[str]:
    """The group id of each of ``uids``: the smallest uid of its connected component.

    Args:
        uids: Tile uids, all different.
        links: Pairs of positions in ``uids`` that belong together.

    Returns:
        One group id per uid, in the order of ``uids``.
    """
    parent = list(range(len(uids)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    smallest: dict[int, str] = {}
    for i, uid in enumerate(uids):
        root = find(i)
        smallest[root] = min(smallest.get(root, uid), uid)
    return [smallest[find(i)] for i in range(len(uids))]


def merge_groups(*mappings: Mapping[str, str]) -> dict[str, str]:
    """One grouping from several (uid → group id): tiles together in any of them end up together.

    Returns:
        uid → group id (the smallest uid of the merged group) for every uid in any mapping.
    """
    uids = sorted(set().union(*mappings))
    position = {uid: i for i, uid in enumerate(uids)}
    links = []
    for mapping in mappings:
        first: dict[str, int] = {}
        for uid, group in mapping.items():
            links.append((first.setdefault(group, position[uid]), position[uid]))
    return dict(zip(uids, group_ids(uids, links), strict=True))


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Footprints ``(left, bottom, right, top)`` share an area (touching edges do not count)."""
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _cells(bounds: tuple[float, ...], side: float) -> Iterable[tuple[int, int]]:
    left, bottom, right, top = (math.floor(v / side) for v in bounds)
    return ((x, y) for x in range(left, right + 1) for y in range(bottom, top + 1))


def _overlapping(footprints: Sequence[tuple[float, ...]]) -> list[tuple[int, int]]:
    """Pairs ``(j, i)``, ``j < i``, of bounds that share an area, found through a grid index."""
    # a cell no smaller than any tile: a tile lies in at most 4 cells, and overlapping tiles share one
    cell_side = max(max(f[2] - f[0], f[3] - f[1]) for f in footprints)
    in_cell: dict[tuple[int, int], list[int]] = defaultdict(list)
    pairs: set[tuple[int, int]] = set()
    for i, bounds in enumerate(footprints):
        for cell in _cells(bounds, cell_side):
            pairs.update((j, i) for j in in_cell[cell] if _overlap(footprints[j], bounds))
            in_cell[cell].append(i)
    return sorted(pairs)


def _links_in_crs(footprints: list[tuple[float, ...]], block: float | None) -> list[tuple[int, int]]:
    """Links between footprints of one CRS: same block (by centre) or overlapping."""
    side = block or 2 * max(f[2] - f[0] for f in footprints)
    links: list[tuple[int, int]] = []
    first_in_block: dict[tuple[int, int], int] = {}
    for i, (left, bottom, right, top) in enumerate(footprints):
        cell = (math.floor((left + right) / 2 / side), math.floor((bottom + top) / 2 / side))
        links.append((first_in_block.setdefault(cell, i), i))
    return links + _overlapping(footprints)


def footprint_pairs(footprints: Sequence[Footprint | None]) -> list[tuple[int, int, Rectangle, Rectangle]]:
    """Every two tiles whose footprints (in one CRS) share an area: ``(a, b, pixels of a, pixels of b)``, ``a < b``.

    ``footprints`` is indexed by tile number; ``None`` marks a tile without georeferencing. The pixels are those
    of each tile that the shared area covers.
    """
    by_crs: dict[str, list[int]] = defaultdict(list)
    for tile, footprint in enumerate(footprints):
        if footprint is not None:
            by_crs[footprint.crs].append(tile)
    found = []
    for tiles in by_crs.values():
        bounds = [footprints[t].bounds for t in tiles]  # type: ignore[union-attr]
        for j, i in _overlapping(bounds):
            shared = (max(bounds[i][0], bounds[j][0]), max(bounds[i][1], bounds[j][1]),
                      min(bounds[i][2], bounds[j][2]), min(bounds[i][3], bounds[j][3]))
            a, b = sorted((tiles[j], tiles[i]))
            found.append((a, b, footprints[a].pixels(shared), footprints[b].pixels(shared)))  # type: ignore[union-attr]
    return sorted(found)


def spatial_groups(records: Sequence[TileRecord], *, block: float | None = None,
                   progress: bool = True) -> dict[str, str]:
    """Group georeferenced tiles that overlap on the map or fall in the same square block.

    Reads the header only (CRS, transform) of each GeoTIFF tile; tiles in other files count as not georeferenced.
    Tiles in different CRSs are never grouped with each other.

    Args:
        records: The tiles; those without a CRS are left out of the result.
        block: Side of the square blocks in map units; default twice the widest tile of the CRS.
        progress: Show a progress bar.

    Returns:
        uid → group id (smallest uid of the group) for every georeferenced tile; ``{}`` when none is.

    Raises:
        ValueError: ``block`` is not positive.
        UnreadableTileError: GDAL cannot open a tile.
    """
    if block is not None and not block > 0:
        raise ValueError(f"block must be a positive length in map units, got {block}")
    by_crs: dict[str, list[tuple[str, tuple[float, ...]]]] = defaultdict(list)
    for record in tqdm(records, desc="reading tile positions", unit="tile", disable=not progress):
        footprint = read_footprint(record.image)
        if footprint is not None:
            by_crs[footprint.crs].append((record.uid, footprint.bounds))
    groups: dict[str, str] = {}
    for tiles in by_crs.values():
        tiles.sort()
        uids = [uid for uid, _ in tiles]
        ids = group_ids(uids, _links_in_crs([bounds for _, bounds in tiles], block))
        groups.update(zip(uids, ids, strict=True))
    return groups
