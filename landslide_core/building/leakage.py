"""The leakage audit: which tiles share pixels, and how much of a split's validation set training has already seen.

The CAS production code cut each scene with a stride of half a tile, moved the last
row and column flush with the scene edge, and split the tiles 7:3 at random, so
validation tiles share pixels with training tiles at many offsets; some tiles may
also be flipped or rotated copies of others. The audit finds pairs of tiles that
share pixels in three ways, each sure to find what it states:

- **content** (any tile): every two tiles that share a square of 64×64 identical
  pixels (:data:`~.leakage_keys.GUARANTEED_SIDE`) with an informative 8×8 block in it
  (no fill pixel, not one colour), at any offset and in any of the eight
  orientations, have a common anchor (:mod:`.leakage_keys`) that says how they line
  up;
- **placement**: the tiles so linked are laid out in one frame per group
  (:mod:`.leakage_match`), and every two whose places overlap are candidates too,
  however thin the overlap: the 24-px strip and 24×24 corner between the first and
  the flush last tiles of a 1000-px scene, the 1-px column of a 1023-px one;
- **footprint** (GeoTIFF tiles with a CRS, as the project's tiler writes them): every
  two whose footprints in one CRS share an area.

Content and placement candidates are checked against the pixels: lined up so, two
tiles share the pixels of their overlap that lie in an 8×8 block identical in both
and not fill throughout (an overlap thinner than 8 px: all of it, if identical
throughout), and a candidate without such pixels is dropped, so every pair reported
by content or placement shares pixels. The candidates are known only once every
tile's anchors are, and holding every tile's pixels until then would hold the
whole dataset in memory, so a tile's image is read twice: once (with its mask, which
is checked then) for anchors, and once, only for tiles with candidates and without
the mask, for this check, a tile held only until its last partner has been read.
The second pass reads the tiles in the reverse order: those the first pass read
last are the likeliest still to be in memory (the page cache) when the data is
larger than it.

Not found: between tiles without georeferencing that nothing else links, a shared
region narrower than 64 px (at stride 512, the flush tile's strip may be) is found
only if an anchor happens to fall in it; pixels that differ (re-encoded or
resampled copies) are not shared pixels here.

Links are grouped (:mod:`.leakage_groups`); :func:`leakage_report` measures a split
against them; :func:`.leakage_split.grouped_split` makes a split in which no
validation tile shares a found pixel with a training tile.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..errors import TileSizeError
from ..io.atomic import write_text_atomic
from ..io.raster import pixel_reads, read_raster
from ..sources import TileSource, get_source
from ..tiles import TileRecord
from .leakage_groups import Footprint, footprint_pairs, group_ids, merge_groups, read_footprint, spatial_groups
from .leakage_keys import BLOCK, TileAnchors, fill_from_codes, in_identical_blocks, orient, pixel_codes, tile_anchors
from .leakage_match import Alignment, AnchorTable, Box, layout, layout_candidates, on_b, overlap, reverse, votes

__all__ = [
    "PAIR_COLUMNS", "REPORT_COLUMNS", "LeakageAudit", "audit_arrays", "audit_records", "leakage_report",
    "merge_groups", "spatial_groups", "write_groups_csv", "write_leakage_files",
]

REPORT_COLUMNS = ("subdataset", "val_tiles", "val_tiles_sharing", "val_tiles_sharing_share", "val_pixels",
                  "val_pixels_in_train", "val_pixels_in_train_share")
PAIR_COLUMNS = ("uid_a", "uid_b", "subdataset_a", "subdataset_b", "found_by", "orientation", "dy", "dx", "transformed",
                "shared_pixels", "a_top", "a_left", "a_bottom", "a_right", "b_top", "b_left", "b_bottom", "b_right")
"""Columns of :attr:`LeakageAudit.pairs`."""
ALIGNMENTS_CHECKED = 4
"""At most this many alignments that common anchors vote for are checked per pair (most votes first)."""

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class LeakageAudit:
    """What the audit found, as tables (no pixels)."""

    tiles: pd.DataFrame
    """One row per tile, sorted by uid: ``uid, subdataset, name, rows, cols, anchors, group_id, group_size``."""
    pairs: pd.DataFrame
    """One row per pair of tiles sharing pixels, ``uid_a < uid_b``, with :data:`PAIR_COLUMNS`: ``found_by``
    (``content`` or ``placement``, the candidate the pixels confirmed, and ``footprint``, joined by ``+``); how
    ``b`` lines up on ``a`` (``orient(b, orientation)`` with its top-left at row ``dy``, column ``dx`` of ``a``;
    ``transformed`` when ``orientation`` is not 0); ``shared_pixels`` (see the module; for a pair found by footprint
    only, the pixels of ``a`` under the shared ground); and the rectangle on each tile that bounds them (``top,
    left, bottom, right``, end exclusive)."""
    blank_tiles: int
    """Tiles without an informative 8×8 block (blank or fill throughout): content cannot link them."""
    seconds: float
    """Wall time of the audit, reading the tiles (or drawing them from the iterable) included."""
    footprints: Mapping[str, Footprint] = field(default_factory=dict)
    """uid → footprint of each georeferenced tile (see :func:`.leakage_groups.read_footprint`), as read once by the
    audit, so that what else needs tiles' positions need not open the others again; empty for arrays."""

    def groups(self) -> dict[str, str]:
        """Each tile's group: uid → group id (the smallest uid of the group)."""
        return dict(zip(self.tiles["uid"], self.tiles["group_id"], strict=True))

    def links(self) -> list[tuple[str, str]]:
        """The pairs of tiles that share pixels, as uid pairs (what a grouped split cuts large groups along)."""
        return list(zip(self.pairs["uid_a"], self.pairs["uid_b"], strict=True))

    def summary(self) -> str:
        """One line: tiles, groups, pairs (how found, transformed ones), blank tiles and time."""
        linked = int((self.tiles["group_size"] > 1).sum())
        ways = {way: int(self.pairs["found_by"].str.contains(way).sum()) for way in ("content", "placement",
                                                                                       "footprint")}
        found = ", ".join(f"{n} by {way}" for way, n in ways.items() if n)
        return (f"{len(self.tiles)} tiles in {self.tiles['group_id'].nunique()} groups ({linked} tiles share pixels "
                f"with another); {len(self.pairs)} pairs{f' ({found})' if found else ''}, "
                f"{int(self.pairs['transformed'].sum())} of them flipped/rotated; {self.blank_tiles} blank tiles; "
                f"{self.seconds:.1f} s")


@dataclass
class _Pixels:
    """What the pixel check needs of a tile: one value per pixel where possible, else the bands, and its fill."""

    values: np.ndarray
    fill: np.ndarray

    @classmethod
    def of(cls, image: np.ndarray) -> _Pixels:
        if image.ndim == 2:
            image = image[np.newaxis]
        codes = pixel_codes(image)
        exact = image.dtype == np.uint8 and image.shape[0] <= 4  # codes are then the pixels' bytes
        return cls(codes if exact else image, fill_from_codes(image, codes))


def _shared(a: _Pixels, b: _Pixels, alignment: Alignment) -> tuple[int, Box] | None:
    """The pixels ``a`` shares with ``b`` lined up so, their count and bounding box on ``a``; ``None`` if none.

    Shared are the pixels of the overlap in an 8×8 block identical in both tiles and not fill throughout; where
    the overlap is thinner than 8 px, all of it when it is identical throughout and not fill throughout.
    """
    transform, dy, dx = alignment
    top, left, bottom, right = overlap(alignment, a.fill.shape, b.fill.shape)
    if bottom <= top or right <= left:
        return None
    rows, cols = slice(top - dy, bottom - dy), slice(left - dx, right - dx)
    equal = a.values[..., top:bottom, left:right] == orient(b.values, transform)[..., rows, cols]
    if equal.ndim == 3:
        equal = np.logical_and.reduce(equal, axis=0)
    fill = a.fill[top:bottom, left:right]
    if equal.all() and not fill.all() and (min(equal.shape) < BLOCK or not fill.any()):
        return equal.size, (top, left, bottom, right)  # the common case: tiles cut from one scene
    shared = in_identical_blocks(equal, ~fill)
    if not shared.any():
        return None
    on_rows, on_cols = np.flatnonzero(shared.any(axis=1)), np.flatnonzero(shared.any(axis=0))
    return (int(np.count_nonzero(shared)),
            (top + int(on_rows[0]), left + int(on_cols[0]), top + int(on_rows[-1]) + 1, left + int(on_cols[-1]) + 1))


def _ordered_map(function: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``map`` in ``workers`` threads, in order, drawing at most twice as many items ahead."""
    if workers <= 1:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class _Audit:
    """The tiles seen so far and their anchors; candidates, the pixel check and the tables at the end."""

    def __init__(self) -> None:
        self.uids: list[str] = []
        self.subdatasets: list[str] = []
        self.names: list[str] = []
        self.shapes: list[tuple[int, int]] = []
        self.counts: list[int] = []
        self.blank = 0
        self.footprints: list[Footprint | None] = []
        self.table = AnchorTable()
        self.seen: set[str] = set()

    def add(self, uid: str, subdataset: str, name: str, anchors: TileAnchors, footprint: Footprint | None = None
            ) -> None:
        if uid in self.seen:
            raise ValueError(f"tile uid {uid!r} given twice; every tile needs its own uid")
        self.seen.add(uid)
        self.table.add(len(self.uids), anchors)
        self.uids.append(uid)
        self.subdatasets.append(subdataset)
        self.names.append(name)
        self.shapes.append(anchors.shape)
        self.counts.append(len(anchors.keys))
        self.blank += anchors.informative == 0
        self.footprints.append(footprint)

    def candidates(self) -> dict[tuple[int, int], list[tuple[Alignment, str]]]:
        """``(a, b)`` → alignments to check, with how each was found (``content`` first, then ``placement``)."""
        voted = votes(self.table, self.shapes)
        found = {pair: [(alignment, "content") for alignment, _ in alignments[:ALIGNMENTS_CHECKED]]
                 for pair, alignments in voted.items()}
        component, pose = layout(self.shapes, {pair: alignments[0] for pair, alignments in voted.items()})
        for pair, alignment in layout_candidates(self.shapes, component, pose).items():
            if all(alignment != known for known, _ in found.get(pair, ())):
                found.setdefault(pair, []).append((alignment, "placement"))
        return found

    def check(self, candidates: dict[tuple[int, int], list[tuple[Alignment, str]]], order: Sequence[int],
              images: Iterable[np.ndarray]) -> dict[tuple[int, int], tuple[tuple[int, Box], Alignment, str]]:
        """Check candidates against the pixels of their tiles, ``images`` giving those numbered ``order``.

        ``order`` holds every tile of a candidate, in any order; a tile is held until its last partner has come.

        Raises:
            ValueError: A tile has another size than when its anchors were made.
        """
        position = {tile: i for i, tile in enumerate(order)}
        waiting: dict[int, list[tuple[int, int, list[tuple[Alignment, str]]]]] = defaultdict(list)
        until: dict[int, int] = {}
        for (a, b), alignments in candidates.items():
            first, second = (a, b) if position[a] < position[b] else (b, a)
            waiting[second].append((a, b, alignments))
            until[first] = max(until.get(first, 0), position[second])
        release: dict[int, list[int]] = defaultdict(list)
        for tile, last in until.items():
            release[order[last]].append(tile)
        held: dict[int, _Pixels] = {}
        confirmed: dict[tuple[int, int], tuple[tuple[int, Box], Alignment, str]] = {}
        for tile, image in zip(order, images, strict=True):
            held[tile] = _Pixels.of(image)
            if held[tile].fill.shape != self.shapes[tile]:
                raise ValueError(f"tile {self.uids[tile]!r} is {held[tile].fill.shape} the second time it was "
                                 f"read, {self.shapes[tile]} the first; audit again once the tiles stop changing")
            for a, b, alignments in waiting.pop(tile, ()):
                checked = [(_shared(held[a], held[b], alignment), alignment, way) for alignment, way in alignments]
                kept = [(shared, alignment, way) for shared, alignment, way in checked if shared is not None]
                if kept:
                    confirmed[(a, b)] = max(kept, key=lambda found: found[0][0])
            if tile not in until:
                del held[tile]
            for done in release.pop(tile, ()):
                del held[done]
        return confirmed

    def needed(self, candidates: Iterable[tuple[int, int]]) -> list[int]:
        """The tiles the pixel check reads, in order."""
        return sorted({tile for pair in candidates for tile in pair})

    def result(self, confirmed: dict[tuple[int, int], tuple[tuple[int, Box], Alignment, str]], seconds: float
               ) -> LeakageAudit:
        rows: dict[tuple[int, int], dict] = {}
        for (a, b), ((shared, a_box), alignment, way) in confirmed.items():
            rows[(a, b)] = {"found_by": way, "alignment": alignment, "shared": shared, "a_box": a_box,
                            "b_box": on_b(alignment, self.shapes[b], a_box)}
        for a, b, a_box, b_box in footprint_pairs(self.footprints):
            if (a, b) in rows:
                rows[(a, b)]["found_by"] += "+footprint"
                continue
            rows[(a, b)] = {"found_by": "footprint", "alignment": (0, a_box[0] - b_box[0], a_box[1] - b_box[1]),
                            "shared": (a_box[2] - a_box[0]) * (a_box[3] - a_box[1]), "a_box": a_box, "b_box": b_box}
        order = sorted(range(len(self.uids)), key=self.uids.__getitem__)
        position = {tile: i for i, tile in enumerate(order)}
        uids = [self.uids[t] for t in order]
        table = []
        for (a, b), row in rows.items():
            alignment, a_box, b_box = row["alignment"], row["a_box"], row["b_box"]
            if self.uids[a] > self.uids[b]:
                alignment = reverse(alignment, self.shapes[a], self.shapes[b])
                a, b, a_box, b_box = b, a, b_box, a_box
            table.append((self.uids[a], self.uids[b], self.subdatasets[a], self.subdatasets[b], row["found_by"],
                          *alignment, alignment[0] != 0, row["shared"], *a_box, *b_box))
        pairs = pd.DataFrame(sorted(table), columns=list(PAIR_COLUMNS)).astype(
            {"orientation": int, "dy": int, "dx": int, "transformed": bool, "shared_pixels": int})
        ids = group_ids(uids, [(position[a], position[b]) for a, b in rows])
        sizes = pd.Series(ids).value_counts()
        tiles = pd.DataFrame({
            "uid": uids,
            "subdataset": [self.subdatasets[t] for t in order],
            "name": [self.names[t] for t in order],
            "rows": [self.shapes[t][0] for t in order],
            "cols": [self.shapes[t][1] for t in order],
            "anchors": [self.counts[t] for t in order],
            "group_id": ids,
            "group_size": [int(sizes[g]) for g in ids],
        })
        footprints = {uid: footprint for uid, footprint in zip(self.uids, self.footprints, strict=True)
                      if footprint is not None}
        return LeakageAudit(tiles, pairs, int(self.blank), seconds, footprints)


def audit_arrays(items: Iterable[tuple[str, str, np.ndarray]], *, progress: bool = True,
                 workers: int = 1) -> LeakageAudit:
    """Audit tiles given as arrays: ``(uid, subdataset, image)``, image ``(bands, rows, cols)`` or ``(rows, cols)``.

    ``items`` is iterated twice, so it must give the same tiles in the same order each time (a list, or an object
    whose ``__iter__`` draws them afresh): once for the anchors, each image dropped as it comes, and once for the
    pixel check, which holds a tile only until its last candidate partner has come. The tiles' ``name`` is their
    uid; arrays carry no georeferencing, so no pair is found by footprint. ``workers`` threads compute anchors.

    Raises:
        ValueError: ``items`` can be iterated only once, an image is smaller than 8×8 pixels, a uid comes twice,
            or the second pass gives other tiles.
    """
    if iter(items) is items:
        raise ValueError("audit_arrays reads the tiles twice (anchors, then the pixel check of candidate pairs); "
                         "pass a list or a re-iterable collection instead of a generator or iterator")
    start = time.perf_counter()
    audit = _Audit()
    keyed = _ordered_map(lambda item: (item[0], item[1], tile_anchors(item[2])), items, workers)
    for uid, subdataset, anchors in tqdm(keyed, desc="leakage audit: anchors", unit="tile", disable=not progress):
        audit.add(uid, subdataset, uid, anchors)
    candidates = audit.candidates()
    needed = set(audit.needed(candidates))

    def second_pass() -> Iterator[np.ndarray]:
        for tile, (uid, _, image) in enumerate(items):
            if tile >= len(audit.uids) or uid != audit.uids[tile]:
                raise ValueError(f"the second pass over the tiles gave {uid!r} as tile {tile}; audit_arrays needs "
                                 "the same tiles in the same order each time it iterates")
            if tile in needed:
                yield image

    confirmed = audit.check(candidates, sorted(needed), tqdm(second_pass(), total=len(needed),
                                                             desc="leakage audit: pixels", unit="tile",
                                                             disable=not progress))
    return audit.result(confirmed, time.perf_counter() - start)


def audit_records(records: Sequence[TileRecord], *, source: str | TileSource = "cas", progress: bool = True,
                  workers: int = 1) -> LeakageAudit:
    """Audit tiles on disk, read (and checked) through their source, ``workers`` tiles at a time in threads.

    GeoTIFF tiles with a CRS are also linked where their footprints overlap. The images of tiles with candidate
    partners are read a second time for the pixel check (see the module), their masks not.

    Raises:
        TileError: A tile cannot be read or fails the source's checks.
        TileSizeError: A tile is smaller than 8×8 pixels.
        ValueError: Two records have the same uid.
    """
    start = time.perf_counter()
    source = get_source(source)

    def read(record: TileRecord) -> np.ndarray:
        image, _ = source.read_tile(record)
        if min(image.shape[-2:]) < BLOCK:
            raise TileSizeError(record.image, f"is {image.shape[-2]}×{image.shape[-1]}; the leakage audit needs "
                                f"tiles of at least {BLOCK}×{BLOCK} pixels",
                                "leave its sub-dataset out of the audit")
        return image

    def first(record: TileRecord) -> tuple[TileAnchors, Footprint | None]:
        return tile_anchors(read(record)), read_footprint(record.image)

    audit = _Audit()
    for record, (anchors, footprint) in tqdm(zip(records, _ordered_map(first, records, workers), strict=True),
                                             total=len(records), desc="leakage audit: anchors", unit="tile",
                                             disable=not progress):
        audit.add(record.uid, record.subdataset, record.name, anchors, footprint)
    candidates = audit.candidates()
    order = audit.needed(candidates)[::-1]  # the tiles read last first: the likeliest still in the page cache
    again = _image_reader(source)
    images = _ordered_map(lambda tile: again(records[tile]), order, workers)
    confirmed = audit.check(candidates, order, tqdm(images, total=len(order), desc="leakage audit: pixels",
                                                    unit="tile", disable=not progress))
    return audit.result(confirmed, time.perf_counter() - start)


def _image_reader(source: TileSource) -> Callable[[TileRecord], np.ndarray]:
    """How the pixel check reads a tile's image again, its mask having been read and checked with it the first time.

    A source that reads its tiles as stored (the base :meth:`~.TileSource.read_tile`: its image file is the image)
    gives the image file alone; one that changes them on reading (a standardised source resizes) reads the tile
    through the source again, so the pixels are those its anchors were made from.
    """
    if type(source).read_tile is not TileSource.read_tile:
        return lambda record: source.read_tile(record)[0]

    def image(record: TileRecord) -> np.ndarray:
        with pixel_reads():
            return read_raster(record.image)

    return image


def leakage_report(audit: LeakageAudit, records: Sequence[TileRecord]) -> pd.DataFrame:
    """How much of a split's validation set its training set has seen, per sub-dataset and in total.

    A validation tile shares pixels when the audit pairs it with a training tile of any sub-dataset; its
    validation pixels seen in training are those inside the shared rectangles of such pairs.

    Args:
        audit: The audit of (at least) every tile in ``records``.
        records: The split: every record ``train``, ``val`` or ``buffer`` (left out of the report).

    Returns:
        One row per sub-dataset (sorted) and a ``total`` row, with the columns of :data:`REPORT_COLUMNS`
        (shares are NaN where there are no validation tiles).

    Raises:
        ValueError: A record has no split, or is not in the audit.
    """
    if any(r.split not in ("train", "val", "buffer") for r in records):
        raise ValueError("every record needs split 'train', 'val' or 'buffer'; split the tiles first")
    records = [r for r in records if r.split != "buffer"]  # a grouped split's buffer tiles are on neither side
    split = {r.uid: r.split for r in records}
    missing = sorted(set(split) - set(audit.tiles["uid"]))
    if missing:
        raise ValueError(f"{len(missing)} tile(s) of the split are not in the audit (first: {missing[0]}); "
                         "audit the same tiles")
    shape = {uid: (rows, cols) for uid, rows, cols in audit.tiles[["uid", "rows", "cols"]].itertuples(index=False)}
    boxes: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)
    for row in audit.pairs.itertuples(index=False):
        sides = (split.get(row.uid_a), split.get(row.uid_b))
        if sides == ("val", "train"):
            boxes[row.uid_a].append((row.a_top, row.a_left, row.a_bottom, row.a_right))
        elif sides == ("train", "val"):
            boxes[row.uid_b].append((row.b_top, row.b_left, row.b_bottom, row.b_right))
    per_tile = []
    for r in records:
        if r.split != "val":
            continue
        rows, cols = shape[r.uid]
        seen = np.zeros((rows, cols), bool)
        for top, left, bottom, right in boxes.get(r.uid, ()):
            seen[top:bottom, left:right] = True
        per_tile.append((r.subdataset, bool(boxes.get(r.uid)), rows * cols, int(seen.sum())))
    per_tile_frame = pd.DataFrame(per_tile, columns=["subdataset", "seen", "pixels", "seen_pixels"])
    rows_out = [_report_row(key, per_tile_frame[per_tile_frame["subdataset"] == key])
                for key in sorted({r.subdataset for r in records})]
    rows_out.append(_report_row("total", per_tile_frame))
    return pd.DataFrame(rows_out, columns=REPORT_COLUMNS)


def _report_row(name: str, tiles: pd.DataFrame) -> tuple:
    n, sharing = len(tiles), int(tiles["seen"].sum())
    pixels, seen = int(tiles["pixels"].sum()), int(tiles["seen_pixels"].sum())
    return (name, n, sharing, sharing / n if n else float("nan"), pixels, seen,
            seen / pixels if pixels else float("nan"))


def write_groups_csv(audit: LeakageAudit, path: str | Path) -> Path:
    """Write ``tile`` (uid), ``subdataset``, ``group_id``, ``group_size`` per tile as CSV, atomically."""
    table = audit.tiles.rename(columns={"uid": "tile"})[["tile", "subdataset", "group_id", "group_size"]]
    return write_text_atomic(path, table.to_csv(index=False))


def write_leakage_files(audit: LeakageAudit, report: pd.DataFrame, out: str | Path) -> list[Path]:
    """Write ``leakage-groups.csv``, ``leakage-pairs.csv`` and ``leakage-report.csv`` into ``out``, atomically."""
    out = Path(out)
    return [
        write_groups_csv(audit, out / "leakage-groups.csv"),
        write_text_atomic(out / "leakage-pairs.csv", audit.pairs.to_csv(index=False)),
        write_text_atomic(out / "leakage-report.csv", report.to_csv(index=False)),
    ]
