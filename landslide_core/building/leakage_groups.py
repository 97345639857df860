"""Groups a leakage-free split keeps on one side: linked tiles, tiles close on the map, and both merged.

A group is a connected component of links (union-find, so linking 20,865 tiles
costs next to nothing); its id is the smallest tile uid in it, so ids do not depend on the
order tiles were read in. Tiles that carry georeferencing (those our own tiler
writes; published CAS tiles carry none) are also grouped by where they lie:
tiles whose footprints overlap, or whose centres fall in the same square block,
are spatially autocorrelated even where they share no pixel.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from tqdm import tqdm

from ..io.raster import open_raster
from ..tiles import TileRecord

__all__ = ["group_ids", "merge_groups", "spatial_groups"]


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


def _links_in_crs(footprints: list[tuple[float, ...]], block: float | None) -> list[tuple[int, int]]:
    """Links between footprints of one CRS: same block (by centre) or overlapping (found through a grid index)."""
    side = block or 2 * max(f[2] - f[0] for f in footprints)
    links: list[tuple[int, int]] = []
    first_in_block: dict[tuple[int, int], int] = {}
    for i, (left, bottom, right, top) in enumerate(footprints):
        cell = (math.floor((left + right) / 2 / side), math.floor((bottom + top) / 2 / side))
        links.append((first_in_block.setdefault(cell, i), i))
    # a cell no smaller than any tile: a tile lies in at most 4 cells, and overlapping tiles share one
    cell_side = max(max(f[2] - f[0], f[3] - f[1]) for f in footprints)
    in_cell: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, bounds in enumerate(footprints):
        for cell in _cells(bounds, cell_side):
            links.extend((j, i) for j in in_cell[cell] if _overlap(footprints[j], bounds))
            in_cell[cell].append(i)
    return links


def spatial_groups(records: Sequence[TileRecord], *, block: float | None = None,
                   progress: bool = True) -> dict[str, str]:
    """Group georeferenced tiles that overlap on the map or fall in the same square block.

    Reads each tile's header only (CRS, transform). Tiles in different CRSs are
    never grouped with each other.

    Args:
        records: The tiles; those without a CRS are left out of the result.
        block: Side of the square blocks in map units; default twice the widest tile of the CRS.
        progress: Show a progress bar.

    Returns:
        uid → group id (smallest uid of the group) for every georeferenced tile; ``{}`` when none is.

    Raises:
        ValueError: ``block`` is not positive.
    """
    if block is not None and not block > 0:
        raise ValueError(f"block must be a positive length in map units, got {block}")
    by_crs: dict[str, list[tuple[str, tuple[float, ...]]]] = defaultdict(list)
    for record in tqdm(records, desc="reading tile positions", unit="tile", disable=not progress):
        with open_raster(record.image) as src:
            if src.crs is not None:
                by_crs[src.crs.to_string()].append((record.uid, tuple(src.bounds)))
    groups: dict[str, str] = {}
    for tiles in by_crs.values():
        tiles.sort()
        uids = [uid for uid, _ in tiles]
        ids = group_ids(uids, _links_in_crs([bounds for _, bounds in tiles], block))
        groups.update(zip(uids, ids, strict=True))
    return groups
