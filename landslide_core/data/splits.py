"""A 7:3 train/validation split per sub-dataset, seeded and written down.

The paper says (Technical Validation) that the authors did “randomly split each
subdataset into training and validation sets at a 7:3 ratio”, and gives no seed. Here
the shuffle is seeded from ``(seed, sub-dataset key)`` and the result is written to a
CSV manifest, which later runs read back instead of re-drawing, so a benchmark can be
rerun on exactly the same tiles.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zlib
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import ManifestError
from ..io.atomic import write_text_atomic
from ..sources import TileSource, get_source
from ..tiles import TileRecord, select_split

__all__ = [
    "BUFFER", "MANIFEST_COLUMNS", "SPLITS", "load_or_make_split", "make_grouped_split", "make_split", "manifest_checksum",
    "manifest_settings", "read_manifest", "split_records", "split_sizes", "write_manifest",
]

SPLITS = ("train", "val")
BUFFER = "buffer"
"""Split of a tile a grouped split leaves out: it shares pixels with validation tiles, so it may not train."""
MANIFEST_COLUMNS = ("split", "subdataset", "group", "name", "image", "mask", "label", "source")
_HEADER = re.compile(r"^# landslide-core split manifest: seed=(-?\d+) val_fraction=([0-9.]+)$")


def split_sizes(n: int, val_fraction: float) -> tuple[int, int]:
    """Train and validation counts for ``n`` tiles: both non-empty once ``n >= 2``."""
    n_val = round(n * val_fraction)
    if n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    return n - n_val, n_val


def make_split(records: Iterable[TileRecord], *, val_fraction: float = 0.3, seed: int = 0) -> list[TileRecord]:
    """Assign ``train``/``val`` within each sub-dataset, reproducibly from ``seed``.

    Each sub-dataset is shuffled with its own generator seeded by ``seed`` and a
    checksum of its key, so adding a sub-dataset does not reshuffle the others.
    A sub-dataset whose every record already carries a split keeps it: that is a
    dataset's own split, set by its source (HR-GLDD's train and val arrays).

    Args:
        records: The tiles to split.
        val_fraction: Share of each sub-dataset's tiles that go to ``val``.
        seed: Seed of the shuffle.

    Raises:
        ValueError: ``val_fraction`` is not strictly between 0 and 1.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie between 0 and 1, got {val_fraction}")
    by_subdataset: dict[str, list[TileRecord]] = defaultdict(list)
    for record in records:
        by_subdataset[record.subdataset].append(record)
    out: list[TileRecord] = []
    for key, members in by_subdataset.items():
        members = sorted(members, key=lambda r: r.name)
        if all(r.split in SPLITS for r in members):
            out.extend(members)
            continue
        rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
        order = rng.permutation(len(members))
        _, n_val = split_sizes(len(members), val_fraction)
        val = set(order[:n_val].tolist())
        out.extend(replace(r, split="val" if i in val else "train") for i, r in enumerate(members))
    return out


def _carve(members: list[TileRecord], whole_group: list[TileRecord], need: int, neighbours: Mapping[str, set[str]],
           rng: np.random.Generator) -> tuple[set[str], set[str]]:
    """A compact region of ``need`` of ``members`` (breadth-first along links from a seeded tile), and its rim.

    ``members`` are the group's tiles in the sub-dataset being split; the rim is every tile of the whole group,
    in any sub-dataset, linked to the region but outside it: it shares pixels with validation tiles, so it can go
    to neither side.
    """
    uids = sorted(r.uid for r in members)
    in_subdataset = set(uids)
    start = uids[int(rng.integers(len(uids)))]
    region, queue = [start], deque([start])
    seen = {start}
    while queue and len(region) < need:
        for other in sorted(neighbours.get(queue.popleft(), ())):
            if other not in seen and other in in_subdataset and len(region) < need:
                seen.add(other)
                region.append(other)
                queue.append(other)
    inside = set(region)
    in_group = {r.uid for r in whole_group}
    rim = {o for u in inside for o in neighbours.get(u, ()) if o not in inside and o in in_group}
    return inside, rim


def _linked_groups(records: Sequence[TileRecord], groups: Mapping[str, str],
                   neighbours: Mapping[str, set[str]]) -> dict[str, tuple[str, str]]:
    """Each tile's group: its group in ``groups`` (alone if not there), merged with every group a link joins it to."""
    own = {r.uid: ("group", groups[r.uid]) if r.uid in groups else ("tile", r.uid) for r in records}
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(group: tuple[str, str]) -> tuple[str, str]:
        while parent.get(group, group) != group:
            group = parent[group]
        return group

    for uid, others in neighbours.items():
        for other in others:
            if uid in own and other in own:
                a, b = find(own[uid]), find(own[other])
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return {uid: find(group) for uid, group in own.items()}


def make_grouped_split(records: Iterable[TileRecord], groups: Mapping[str, str], *,
                       links: Iterable[tuple[str, str]] = (), val_fraction: float = 0.3,
                       seed: int = 0) -> list[TileRecord]:
    """A split in which no validation tile shares pixels with a training tile.

    Within each sub-dataset (in sorted order) the groups not yet assigned are
    shuffled with :func:`make_split`'s generator (``seed`` and a checksum of the
    key), ordered first by their first tile name. In that order each group joins
    ``val`` while it does not take the sub-dataset's validation count past
    :func:`split_sizes`' target. Tiles cut with overlap from one scene form one
    large group, larger than the target; if the target is not reached, the next
    such group is cut: a compact region of its tiles in the sub-dataset (grown
    along ``links`` from a seeded tile) joins ``val``, and every tile of the group,
    in any sub-dataset, linked to that region becomes ``buffer`` (:data:`BUFFER`: in
    neither training nor validation). Without ``links``, groups join ``val`` whole
    where passing the target ends closer to it. Two linked tiles are in one group
    whatever ``groups`` says, so when ``links`` holds every pair of tiles that share
    pixels, no validation tile shares pixels with a training tile. A group with tiles
    in several sub-datasets is assigned once, in the first of them. Without any
    group of two or more tiles this is exactly :func:`make_split`.

    Args:
        records: The tiles to split.
        groups: uid → group id (e.g. the leakage audit's groups); a tile not in it is a group of its own.
        links: Pairs of uids that share pixels (the audit's pairs, found by content or footprint), along which a
            large group is cut.
        val_fraction: Target share of each sub-dataset's tiles in ``val``.
        seed: Seed of the shuffle and of where a large group is cut.

    Returns:
        The records with their split (``train``, ``val`` or ``buffer``), sorted by sub-dataset and name.

    Raises:
        ValueError: ``val_fraction`` is not strictly between 0 and 1.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie between 0 and 1, got {val_fraction}")
    records = sorted(records, key=lambda r: (r.subdataset, r.name))
    neighbours: dict[str, set[str]] = defaultdict(set)
    for a, b in links:
        neighbours[a].add(b)
        neighbours[b].add(a)
    group_of = _linked_groups(records, groups, neighbours)
    members: dict[str, dict[tuple[str, str], list[TileRecord]]] = defaultdict(lambda: defaultdict(list))
    whole: dict[tuple[str, str], list[TileRecord]] = defaultdict(list)
    for record in records:
        members[record.subdataset][group_of[record.uid]].append(record)
        whole[group_of[record.uid]].append(record)
    side: dict[tuple[str, str], str] = {}
    tile_side: dict[str, str] = {}
    for key in sorted(members):
        in_subdataset = members[key]
        _, target = split_sizes(sum(len(m) for m in in_subdataset.values()), val_fraction)
        n_val = sum(len(m) for g, m in in_subdataset.items() if side.get(g) == "val")
        free = sorted((g for g in in_subdataset if g not in side), key=lambda g: in_subdataset[g][0].name)
        rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
        order = [free[i] for i in rng.permutation(len(free)).tolist()]
        for group in order:
            if n_val + len(in_subdataset[group]) <= target:
                side[group] = "val"
                n_val += len(in_subdataset[group])
        rest = [g for g in order if g not in side]
        if n_val < target and rest:
            linked = [g for g in rest if any(neighbours.get(r.uid) for r in in_subdataset[g])]
            if linked:
                group = linked[0]
                inside, rim = _carve(in_subdataset[group], whole[group], target - n_val, neighbours, rng)
                side[group] = "cut"
                tile_side.update({u: "val" for u in inside} | {u: BUFFER for u in rim})
            else:  # groups join whole where passing the target ends closer to it
                for group in rest:
                    size = len(in_subdataset[group])
                    if abs(n_val + size - target) < abs(n_val - target):
                        side[group] = "val"
                        n_val += size
        side.update((group, "train") for group in order if group not in side)
    return [replace(r, split=tile_side.get(r.uid, "train") if side[group_of[r.uid]] == "cut"
                    else side[group_of[r.uid]]) for r in records]


def _relative(path: Path | None, root: Path) -> str:
    if path is None:
        return ""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def write_manifest(
    records: Sequence[TileRecord], path: str | Path, *, root: str | Path, seed: int, val_fraction: float
) -> Path:
    """Write a split as CSV with paths relative to the data root (portable across machines).

    Args:
        records: The tiles, each with split ``train`` or ``val``.
        path: The manifest file to write (its folder is created).
        root: The data root the paths are written relative to.
        seed: Seed of the split, written in the header line.
        val_fraction: Validation share of the split, written in the header line.

    Raises:
        ValueError: A record's split is neither ``train`` nor ``val``.
    """
    path, root = Path(path), Path(root)
    if any(r.split not in (*SPLITS, BUFFER) for r in records):
        raise ValueError("every record needs split 'train', 'val' or 'buffer' before it is written to a manifest")
    text = io.StringIO()
    text.write(f"# landslide-core split manifest: seed={seed} val_fraction={val_fraction}\n")
    writer = csv.writer(text)
    writer.writerow(MANIFEST_COLUMNS)
    for r in sorted(records, key=lambda r: (r.subdataset, r.name)):
        writer.writerow(
            [r.split, r.subdataset, r.group, r.name, _relative(r.image, root), _relative(r.mask, root),
             _relative(r.label, root), r.source]
        )
    return write_text_atomic(path, text.getvalue())


def manifest_settings(path: str | Path) -> tuple[int, float]:
    """The seed and validation fraction a manifest was written with.

    Raises:
        ManifestError: The file's first line is not a landslide-core split manifest header.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        match = _HEADER.match(f.readline().rstrip("\n"))
    if not match:
        raise ManifestError(
            path,
            "not a landslide-core split manifest (its first line is not the '# landslide-core split manifest' header)",
            "pass the CSV written by `landslide-core split`, or delete it to make a new split",
        )
    return int(match.group(1)), float(match.group(2))


def read_manifest(path: str | Path, root: str | Path) -> list[TileRecord]:
    """Read a split back; every listed file must exist under ``root``.

    Raises:
        ManifestError: The columns are not the manifest's, a tile's split is not ``train`` or ``val``, or a
            listed image or mask is not found under ``root``.
    """
    path, root = Path(path), Path(root)
    manifest_settings(path)
    with path.open(encoding="utf-8", newline="") as f:
        f.readline()
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != MANIFEST_COLUMNS:
            raise ManifestError(
                path, f"columns are {reader.fieldnames}, expected {list(MANIFEST_COLUMNS)}", "write it again"
            )
        records = []
        for row in reader:
            if row["split"] not in (*SPLITS, BUFFER):
                raise ManifestError(path, f"tile {row['name']} has split {row['split']!r}", "use 'train', 'val' or 'buffer'")
            files = {k: (root / row[k]) if row[k] else None for k in ("image", "mask", "label")}
            for file in (files["image"], files["mask"]):
                if file is None or not file.is_file():
                    raise ManifestError(
                        file or path,
                        f"listed in split manifest {path} but not found",
                        "point the data root at the data this manifest was written for, "
                        "or delete the manifest to make a new split",
                    )
            records.append(
                TileRecord(
                    subdataset=row["subdataset"], group=row["group"], name=row["name"], image=files["image"],
                    mask=files["mask"], label=files["label"], source=row["source"], split=row["split"],
                )
            )
    return records


def manifest_checksum(path: str | Path) -> str:
    """SHA-256 of a manifest file: names the exact tiles and split of a run in its provenance."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_or_make_split(
    root: str | Path,
    manifest: str | Path,
    *,
    seed: int = 0,
    val_fraction: float = 0.3,
    subdataset_names: Iterable[str] | None = None,
    source: str | TileSource = "cas",
) -> list[TileRecord]:
    """Read the split from ``manifest`` if it exists, else draw it and write it there.

    A manifest drawn with other settings, or one that disagrees with the tiles now
    on disk, is an error rather than a silent re-draw: a changed split would
    change every number computed from it.

    Args:
        root: The data root.
        manifest: The split manifest to read, or to write when it does not exist.
        seed: Seed of the split (checked against the manifest's).
        val_fraction: Validation share (checked against the manifest's).
        subdataset_names: Only these sub-datasets; ``None`` takes all found.
        source: The tile source (name or object).

    Raises:
        ManifestError: The manifest was written with another seed or validation fraction, or tiles on disk
            are missing from it.
    """
    manifest = Path(manifest)
    on_disk = get_source(source).list_tiles(root, subdataset_names)
    if not manifest.exists():
        records = make_split(on_disk, val_fraction=val_fraction, seed=seed)
        write_manifest(records, manifest, root=root, seed=seed, val_fraction=val_fraction)
        return records
    written_seed, written_fraction = manifest_settings(manifest)
    if (written_seed, written_fraction) != (seed, val_fraction):
        raise ManifestError(
            manifest,
            f"written with seed={written_seed} val_fraction={written_fraction}, "
            f"but seed={seed} val_fraction={val_fraction} was asked for",
            "pass the settings it was written with, choose another manifest path, or delete it to re-split",
        )
    records = read_manifest(manifest, root)
    if subdataset_names is not None:
        wanted = {r.subdataset for r in on_disk}
        records = [r for r in records if r.subdataset in wanted]
    listed = {r.uid for r in records}
    unlisted = sorted(r.uid for r in on_disk if r.uid not in listed)
    if unlisted:
        raise ManifestError(
            manifest,
            f"{len(unlisted)} tile(s) on disk are not in this manifest (first: {unlisted[0]})",
            "delete the manifest to split the current tiles anew, or restrict the sub-datasets to those it covers",
        )
    return records


def split_records(data_root: str | Path, manifest: str | Path, *, seed: int, val_fraction: float, group: str,
                  subdatasets: Iterable[str] | None = None, split: str = "all",
                  source: str | TileSource = "cas") -> list[TileRecord]:
    """A group's tiles of one split (``train``, ``val`` or ``all``), read from (or first written to) ``manifest``.

    Sorted by sub-dataset and name: a freshly drawn split and one read back list
    tiles in different orders, and the seeded data order goes by position.

    Args:
        data_root: The data root.
        manifest: The split manifest to read, or to write when it does not exist.
        seed: Seed of the split (checked against the manifest's).
        val_fraction: Validation share (checked against the manifest's).
        group: One of the source's groups (CAS: ``UAV``, ``SAT``, ``UAV&SAT``).
        subdatasets: Only these sub-datasets; ``None`` takes all found.
        split: ``train``, ``val`` or ``all``.
        source: The tile source (name or object).

    Raises:
        ManifestError: The manifest was written with other settings or disagrees with the tiles on disk.
        UnknownSubDatasetError: ``group`` is not one of the source's groups.
    """
    source = get_source(source)
    records = load_or_make_split(data_root, manifest, seed=seed, val_fraction=val_fraction,
                                 subdataset_names=subdatasets, source=source)
    records = sorted(source.select_group(records, group), key=lambda r: r.uid)
    return records if split == "all" else select_split(records, split)
