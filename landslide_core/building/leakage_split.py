"""A leakage-free split: audit the tiles, add their map blocks, keep groups on one side or cut them with a buffer.

Kept apart from :mod:`.leakage` because the split machinery (:mod:`landslide_core.data`)
imports torch, which the audit alone does not need.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..data.splits import make_grouped_split, manifest_settings, read_manifest, write_manifest
from ..errors import ManifestError
from ..sources import TileSource
from ..tiles import TileRecord
from .leakage import LeakageAudit, audit_records
from .leakage_groups import merge_groups, spatial_groups

__all__ = ["audited_groups", "grouped_split", "save_grouped_split"]


def grouped_split(records: Sequence[TileRecord], *, val_fraction: float = 0.3, seed: int = 0,
                  source: str | TileSource = "cas", workers: int = 1,
                  progress: bool = True) -> tuple[list[TileRecord], LeakageAudit]:
    """A split in which no validation tile shares a pixel the audit finds with a training tile.

    The audit links tiles that share pixels (by content, and by footprint where georeferenced); georeferenced tiles
    in one map block (:func:`.leakage_groups.spatial_groups`) join their groups too; groups are kept on one side or
    cut along the links with a buffer (:func:`landslide_core.data.splits.make_grouped_split`). Only the tiles the
    audit found georeferenced are opened again for their blocks: the others (every published CAS tile) have none.

    Returns:
        The records with their split (see :func:`landslide_core.data.splits.make_grouped_split`) and the audit.
    """
    audit, groups = audited_groups(records, source=source, workers=workers, progress=progress)
    return make_grouped_split(records, groups, links=audit.links(), val_fraction=val_fraction, seed=seed), audit


def audited_groups(records: Sequence[TileRecord], *, source: str | TileSource = "cas", workers: int = 1,
                   progress: bool = True) -> tuple[LeakageAudit, dict[str, str]]:
    """The audit of ``records`` and each tile's group: the audit's, joined with its map block where georeferenced.

    Tiles of one group may share pixels; tiles of two groups share none the audit finds.
    """
    audit = audit_records(records, source=source, progress=progress, workers=workers)
    located = [record for record in records if record.uid in audit.footprints]
    return audit, merge_groups(audit.groups(), spatial_groups(located, progress=progress))


def save_grouped_split(records: Sequence[TileRecord], path: str | Path, *, root: str | Path, seed: int,
                       val_fraction: float) -> bool:
    """Write a grouped split's manifest, or check that the one already at ``path`` is the same split.

    A split that changed under a finished run would silently change its numbers, so
    an existing manifest is never overwritten.

    Returns:
        True when the manifest was written, False when an identical one was already there.

    Raises:
        ManifestError: The existing manifest holds another split or was written with other settings.
    """
    path = Path(path)
    if not path.exists():
        write_manifest(records, path, root=root, seed=seed, val_fraction=val_fraction)
        return True
    settings = manifest_settings(path)
    if settings != (seed, val_fraction) or (
        sorted((r.uid, r.split) for r in read_manifest(path, root)) != sorted((r.uid, r.split) for r in records)
    ):
        raise ManifestError(path, "holds another split than the grouped split of the tiles now on disk with "
                            f"seed={seed} val_fraction={val_fraction}",
                            "delete it to write the grouped split anew, or pass another --out")
    return False
