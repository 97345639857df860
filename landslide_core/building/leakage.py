"""The leakage audit: which tiles share pixels, and how much of a split's validation set training has already seen.

The CAS production code cut tiles with a stride of half a tile and split them
7:3 at random, so validation tiles share aligned quadrants with training tiles;
some tiles may also be flipped or rotated copies of others. The audit keys every
quadrant (:mod:`.leakage_keys`: exact, orientation-free, hashed, so 20,865 tiles
need no pairwise comparison and no pixels are kept), links tiles that share a
key, and groups linked tiles (:mod:`.leakage_groups`). :func:`leakage_report`
measures a split against it; :func:`.leakage_split.grouped_split` makes a split
that keeps every group on one side.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..errors import TileSizeError
from ..io.atomic import write_text_atomic
from ..sources import TileSource, get_source
from ..tiles import TileRecord
from .leakage_groups import group_ids, merge_groups, spatial_groups
from .leakage_keys import QuadrantKey, quadrant_keys

__all__ = [
    "REPORT_COLUMNS", "LeakageAudit", "audit_arrays", "audit_records", "leakage_report", "merge_groups",
    "quadrant_keys", "spatial_groups", "write_groups_csv", "write_leakage_files",
]

REPORT_COLUMNS = ("subdataset", "val_tiles", "val_tiles_sharing", "val_tiles_sharing_share", "val_pixels",
                  "val_pixels_in_train", "val_pixels_in_train_share")


@dataclass(frozen=True)
class LeakageAudit:
    """What the audit found, as tables of keys and links (no pixels)."""

    tiles: pd.DataFrame
    """One row per tile, sorted by uid: ``uid, subdataset, name, group_id, group_size``."""
    pairs: pd.DataFrame
    """One row per pair of tiles sharing content: ``uid_a, uid_b, subdataset_a, subdataset_b, quadrants_shared``
    (distinct shared quadrant keys, 1..4) and ``transformed`` (some shared content appears flipped or turned)."""
    skipped_quadrants: int
    """Quadrants left out as blank or fill (one colour, or mostly pure black/white)."""
    seconds: float
    """Wall time of the audit, reading the tiles (or drawing them from the iterable) included."""
    quadrants: pd.DataFrame
    """One row per quadrant: ``uid, quadrant, key`` (bytes, ``None`` when skipped), ``transform, pixels``."""

    def groups(self) -> dict[str, str]:
        """Each tile's group: uid → group id (the smallest uid of the group)."""
        return dict(zip(self.tiles["uid"], self.tiles["group_id"], strict=True))

    def links(self) -> list[tuple[str, str]]:
        """The pairs of tiles that share content, as uid pairs (what a grouped split cuts large groups along)."""
        return list(zip(self.pairs["uid_a"], self.pairs["uid_b"], strict=True))

    def summary(self) -> str:
        """One line: tiles, groups, pairs (transformed ones), skipped quadrants and time."""
        linked = int((self.tiles["group_size"] > 1).sum())
        return (f"{len(self.tiles)} tiles in {self.tiles['group_id'].nunique()} groups ({linked} tiles share content "
                f"with another); {len(self.pairs)} pairs, {int(self.pairs['transformed'].sum())} of them "
                f"flipped/rotated; {self.skipped_quadrants} blank quadrants skipped; {self.seconds:.1f} s")


class _Collected:
    """Keys of the tiles seen so far; turned into a :class:`LeakageAudit` at the end."""

    def __init__(self) -> None:
        self.tiles: dict[str, tuple[str, str]] = {}
        self.quadrants: list[tuple[str, int, bytes | None, int, int]] = []

    def add(self, uid: str, subdataset: str, name: str, keys: list[QuadrantKey], pixels: int) -> None:
        if uid in self.tiles:
            raise ValueError(f"tile uid {uid!r} given twice; every tile needs its own uid")
        self.tiles[uid] = (subdataset, name)
        self.quadrants.extend((uid, q.index, q.key, q.transform, pixels) for q in keys)

    def audit(self, seconds: float) -> LeakageAudit:
        uids = sorted(self.tiles)
        position = {uid: i for i, uid in enumerate(uids)}
        hits: dict[bytes, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
        for uid, _, key, transform, _ in self.quadrants:
            if key is not None:
                hits[key][position[uid]].add(transform)
        shared: dict[tuple[int, int], list] = {}
        for tiles in hits.values():
            for a, b in combinations(sorted(tiles), 2):
                entry = shared.setdefault((a, b), [0, False])
                entry[0] += 1
                entry[1] |= not tiles[a] & tiles[b]  # no orientation in common: a flipped/turned copy
        ids = group_ids(uids, shared)
        sizes = pd.Series(ids).value_counts()
        tiles = pd.DataFrame({
            "uid": uids,
            "subdataset": [self.tiles[u][0] for u in uids],
            "name": [self.tiles[u][1] for u in uids],
            "group_id": ids,
            "group_size": [int(sizes[g]) for g in ids],
        })
        pairs = pd.DataFrame(
            [(uids[a], uids[b], self.tiles[uids[a]][0], self.tiles[uids[b]][0], n, flag)
             for (a, b), (n, flag) in sorted(shared.items())],
            columns=["uid_a", "uid_b", "subdataset_a", "subdataset_b", "quadrants_shared", "transformed"],
        ).astype({"quadrants_shared": int, "transformed": bool})
        quadrants = pd.DataFrame(self.quadrants, columns=["uid", "quadrant", "key", "transform", "pixels"])
        skipped = int(quadrants["key"].isna().sum())
        return LeakageAudit(tiles, pairs, skipped, seconds, quadrants.sort_values(["uid", "quadrant"], ignore_index=True))


def audit_arrays(items: Iterable[tuple[str, str, np.ndarray]], *, progress: bool = True) -> LeakageAudit:
    """Audit tiles given as arrays: ``(uid, subdataset, image)``, image ``(bands, s, s)`` with ``s`` even.

    Each image is keyed and dropped as it comes, so a generator of any length can be audited in little memory.
    The tiles' ``name`` is their uid.

    Raises:
        ValueError: An image is not square with an even side, or a uid comes twice.
    """
    start = time.perf_counter()
    collected = _Collected()
    for uid, subdataset, image in tqdm(items, desc="leakage audit", unit="tile", disable=not progress):
        collected.add(uid, subdataset, uid, quadrant_keys(image), (image.shape[-1] // 2) ** 2)
    return collected.audit(time.perf_counter() - start)


def audit_records(records: Sequence[TileRecord], *, source: str | TileSource = "cas", progress: bool = True,
                  workers: int = 1) -> LeakageAudit:
    """Audit tiles on disk, read (and checked) through their source, ``workers`` tiles at a time in threads.

    Raises:
        TileError: A tile cannot be read or fails the source's checks.
        TileSizeError: A tile is not square with an even side.
        ValueError: Two records have the same uid.
    """
    start = time.perf_counter()
    source = get_source(source)

    def keys(record: TileRecord) -> tuple[list[QuadrantKey], int]:
        image, _ = source.read_tile(record)
        height, width = image.shape[-2:]
        if height != width or height % 2:
            raise TileSizeError(record.image, f"is {height}×{width}; the leakage audit needs square tiles with an "
                                "even side", "crop the tile to a square with an even side, or leave its "
                                "sub-dataset out of the audit")
        return quadrant_keys(image), (height // 2) ** 2

    collected = _Collected()
    with ThreadPoolExecutor(max(1, workers)) as pool:
        results = pool.map(keys, records)
        for record, (found, pixels) in tqdm(zip(records, results, strict=True), total=len(records),
                                            desc="leakage audit", unit="tile", disable=not progress):
            collected.add(record.uid, record.subdataset, record.name, found, pixels)
    return collected.audit(time.perf_counter() - start)


def leakage_report(audit: LeakageAudit, records: Sequence[TileRecord]) -> pd.DataFrame:
    """How much of a split's validation set its training set has seen, per sub-dataset and in total.

    A validation tile shares content when one of its quadrant keys occurs in some
    training tile of any sub-dataset; its validation pixels seen in training are
    those of such quadrants.

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
    subdataset = {r.uid: r.subdataset for r in records}
    q = audit.quadrants[audit.quadrants["uid"].isin(split.keys())]
    side = q["uid"].map(split)
    train_keys = set(q.loc[(side == "train") & q["key"].notna(), "key"])
    val = q[side == "val"].assign(
        subdataset=lambda d: d["uid"].map(subdataset),
        seen=lambda d: d["key"].map(lambda k: k is not None and k in train_keys),
    )
    val = val.assign(seen_pixels=val["pixels"] * val["seen"])
    per_tile = val.groupby(["subdataset", "uid"]).agg(seen=("seen", "any"), pixels=("pixels", "sum"),
                                                      seen_pixels=("seen_pixels", "sum"))
    rows = []
    for key in sorted({r.subdataset for r in records}):
        tiles = per_tile.loc[key] if key in per_tile.index.get_level_values(0) else per_tile.iloc[:0]
        rows.append(_report_row(key, tiles))
    rows.append(_report_row("total", per_tile))
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


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
