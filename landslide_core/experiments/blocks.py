"""Which scored tiles a bootstrap resamples together: the leakage groups among them.

Tiles that share pixels (the leakage audit of :mod:`landslide_core.building.leakage`: same ground at any offset,
flip or rotation) succeed or fail together, so an interval that resamples them one by one is too narrow
(:mod:`landslide_core.scoring.bootstrap`). The audit of a run's validation tiles gives each tile its group; tiles
sharing no pixels with another are blocks alone. The labels are kept in a small CSV beside the split manifest,
named by the manifest's checksum and the group scored, and read back while its tiles are the ones asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..building.leakage import audit_records
from ..io.atomic import write_text_atomic
from ..io.checksums import file_sha256
from ..sources import TileSource
from ..tiles import TileRecord

__all__ = ["BLOCKS_SUFFIX", "blocks_path", "leakage_blocks", "union_blocks"]

BLOCKS_SUFFIX = "blocks.csv"


def blocks_path(manifest: Path, group: str) -> Path:
    """Where the block labels of the ``group`` tiles scored from ``manifest`` are kept (beside the manifest)."""
    return manifest.parent / f"{manifest.stem}_{group.replace('&', '+')}_{file_sha256(manifest)[:12]}_{BLOCKS_SUFFIX}"


def leakage_blocks(records: Sequence[TileRecord], *, source: str | TileSource = "cas",
                   cache: Path | None = None) -> dict[str, str]:
    """Tile uid → leakage group of ``records`` (the tiles scored): tiles sharing pixels get one label.

    Args:
        records: The tiles whose scores are resampled (a run's validation tiles).
        source: How to read them.
        cache: A CSV to read the labels from when it lists exactly these tiles, and to write them to otherwise
            (:func:`blocks_path`); ``None``: audit every time.
    """
    uids = [record.uid for record in records]
    if cache is not None and cache.is_file():
        saved = pd.read_csv(cache, dtype=str, keep_default_na=False)
        if sorted(saved["tile"]) == sorted(uids):
            return dict(zip(saved["tile"], saved["block"], strict=True))
    groups = audit_records(records, source=source, progress=False).groups() if records else {}
    labels = {uid: groups[uid] for uid in uids}
    if cache is not None:
        write_text_atomic(cache, pd.DataFrame({"tile": uids, "block": [labels[u] for u in uids]}).to_csv(index=False))
    return labels


def union_blocks(sides: Mapping[Path, Sequence[TileRecord]], group: str, *,
                 source: str | TileSource = "cas") -> dict[str, str]:
    """Tile uid → leakage group of the tiles of several manifests together (a tile is the same in each by its uid).

    Cached at :func:`blocks_path` of a manifest whose tiles are all of them, else beside the first manifest under a
    name that joins the manifests' stems and a digest of their checksums.

    Args:
        sides: Manifest → the tiles of it that are scored (e.g. two arms' or two seeds' validation tiles).
        group: The group scored, for the cache's name.
        source: How to read the tiles.
    """
    union = list({record.uid: record for records in sides.values() for record in records}.values())
    uids = {record.uid for record in union}
    covering = next((manifest for manifest, records in sides.items() if {r.uid for r in records} == uids), None)
    if covering is not None:
        cache = blocks_path(covering, group)
    else:
        digest = hashlib.sha256("".join(file_sha256(manifest) for manifest in sides).encode()).hexdigest()[:12]
        stems = "+".join(manifest.stem for manifest in sides)
        cache = next(iter(sides)).parent / f"{stems}_{group.replace('&', '+')}_{digest}_{BLOCKS_SUFFIX}"
    return leakage_blocks(union, source=source, cache=cache)
