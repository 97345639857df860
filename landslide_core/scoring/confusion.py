"""Scoring a model on full tiles: one confusion matrix per sub-dataset, merged per group.

Scores of a group are computed from the sum of its sub-datasets' confusion
matrices (all its validation pixels pooled), never by averaging the sub-datasets'
scores. The pooling is ours: Eqs. 1–6 of the paper are written in pixel counts
without saying over which pixels, and only some published rows fit one pooled
matrix (:func:`landslide_core.eval.paper.consistency`).

Every score is therefore a sum over tiles. The landslide-class counts (TP, FP, FN,
TN) of each tile are kept (:func:`tile_counts`, :func:`tile_table`), and the
sub-dataset matrices are their sums (:func:`subdataset_matrices`), so the two
cannot disagree and a group's scores can be resampled over tiles without running
the model again. Under torchrun each process scores tiles ``rank, rank + world, …``
into its rows of one table of per-tile counts, and the tables are summed over
processes: every tile is scored by exactly one process, so the result is exactly
that of one process.

This sits below training (which validates with it every epoch) and below
evaluating a checkpoint (:mod:`landslide_core.eval`), which loads training's
checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from ..data.torch_dataset import TileDataset
from ..errors import ConfigError
from ..runtime.device import Runtime
from ..runtime.distributed import Session, current_session
from ..runtime.workers import NumWorkers, resolve_num_workers
from ..sources import TileSource, get_source
from ..tiles import TileRecord
from .metrics import PAPER_COLUMNS, ConfusionMatrix, counts_per_tile, predicted_classes

__all__ = [
    "COUNT_COLUMNS", "SCORE_COLUMNS", "TABLE_COLUMNS", "TILE_COLUMNS", "confusion_matrices", "merged", "scores_table",
    "subdataset_matrices", "tile_counts", "tile_table",
]

COUNT_COLUMNS = ("tp", "fp", "fn", "tn")
"""The landslide-class pixel counts, in the order of every count table's columns."""
SCORE_COLUMNS = (*PAPER_COLUMNS, "f1_landslide")
TABLE_COLUMNS = ("model", "group", "subdataset", "tiles", "pixels", *SCORE_COLUMNS, *COUNT_COLUMNS)
"""Columns of :func:`scores_table`: scores in percent, then the landslide-class pixel counts."""
TILE_COLUMNS = ("model", "tile", "subdataset", "group", *COUNT_COLUMNS)
"""Columns of :func:`tile_table`: one row per tile scored (``tile`` is its :attr:`~landslide_core.tiles.TileRecord.uid`)
with its landslide-class pixel counts."""


def _ordered_subdatasets(records: Sequence[TileRecord], source: TileSource) -> list[str]:
    """Sub-dataset keys of ``records`` in the source's order (the same on every process)."""
    present = {r.subdataset for r in records}
    order = source.subdataset_order()
    return [k for k in order if k in present] + sorted(present - set(order))


def tile_counts(
    model: nn.Module,
    records: Sequence[TileRecord],
    runtime: Runtime,
    *,
    batch_size: int = 4,
    num_workers: NumWorkers = "auto",
    progress: bool = False,
    session: Session | None = None,
    crop_size: int | None = None,
    source: str | TileSource = "cas",
) -> np.ndarray:
    """Landslide-class ``(TP, FP, FN, TN)`` of ``model``'s predictions on every tile, over the pixels scored.

    Counted batch by batch on the device. Under torchrun each process fills the rows of its shard and the tables
    are summed over processes, so every tile's row comes from the one process that scored it.

    Args:
        model: A one-logit model, already on ``runtime.device``; its train/eval mode is restored afterwards.
        records: The tiles to score.
        runtime: Device, precision and memory format.
        batch_size: Tiles per forward pass on this process.
        num_workers: Data-loader processes; ``auto`` follows the cores
            (:func:`~landslide_core.runtime.workers.default_num_workers`).
        progress: Show a progress bar (on rank 0).
        session: This process's place in a distributed run; default: the current one.
        crop_size: Score only each tile's central square of this side (CPU demo runs); ``None``: the full tiles.
        source: The tile source that reads the tiles.

    Returns:
        ``(len(records), 4)`` int64, row ``i`` for ``records[i]``, summing to the pixels scored of that tile
        (``crop_size``² with central crops).
    """
    session = session or current_session()
    source = get_source(source)
    dataset = TileDataset(records, source=source, crop_size=crop_size, centre_crop=True)
    shard = session.shard(len(dataset))
    loader = DataLoader(Subset(dataset, shard), batch_size=batch_size,
                        num_workers=resolve_num_workers(num_workers, runtime.device),
                        pin_memory=runtime.device.type == "cuda")
    counts = torch.zeros((len(records), 4), dtype=torch.int64, device=runtime.device)
    rows = torch.tensor(shard, dtype=torch.int64, device=runtime.device)
    done = 0  # the loader keeps the shard's order, so its batches cover rows[done:done + n] in turn
    was_training = model.training
    model.eval()
    with torch.inference_mode(), runtime.autocast():
        for batch in tqdm(loader, desc="evaluate", unit="batch", leave=False, disable=not (progress and session.is_main)):
            logits = model(dataset.normalisation.batch(runtime.images(batch["image"]))).float()
            target = runtime.masks(batch["mask"])
            counts[rows[done:done + len(target)]] = counts_per_tile(predicted_classes(logits, target), target)
            done += len(target)
    model.train(was_training)
    if session.distributed:
        dist.all_reduce(counts, op=dist.ReduceOp.SUM)
    return counts.cpu().numpy()


def _check_counts(counts: np.ndarray, records: Sequence[TileRecord]) -> None:
    """Refuse per-tile counts that do not hold one ``(TP, FP, FN, TN)`` row per record.

    Raises:
        ConfigError: ``counts`` is not of shape ``(len(records), 4)``.
    """
    if np.shape(counts) != (len(records), 4):
        raise ConfigError(f"counts has shape {np.shape(counts)}, records {len(records)} tiles: give the "
                          "(len(records), 4) array tile_counts returned for these records, in their order")


def subdataset_matrices(counts: np.ndarray, records: Sequence[TileRecord], *, source: str | TileSource = "cas",
                        device: torch.device | str | None = None) -> dict[str, ConfusionMatrix]:
    """One confusion matrix per sub-dataset: the sum of its tiles' rows of ``counts``.

    Args:
        counts: Per-tile counts of ``records`` (:func:`tile_counts`).
        records: The tiles scored, in the order of ``counts``' rows.
        source: The tile source whose sub-dataset order the matrices follow.
        device: Where the matrices are put.

    Returns:
        Matrices keyed by sub-dataset, in the source's order.

    Raises:
        ConfigError: ``counts`` is not of shape ``(len(records), 4)``.
    """
    _check_counts(counts, records)
    names = np.array([r.subdataset for r in records], dtype=object)
    return {key: ConfusionMatrix.from_counts(*(int(c) for c in counts[names == key].sum(axis=0)), device=device)
            for key in _ordered_subdatasets(records, get_source(source))}


def tile_table(counts: np.ndarray, records: Sequence[TileRecord], *, model: str) -> pd.DataFrame:
    """Per-tile counts as rows of :data:`TILE_COLUMNS`, in the order of ``records``.

    Args:
        counts: Per-tile counts of ``records`` (:func:`tile_counts`).
        records: The tiles scored, in the order of ``counts``' rows.
        model: The label of the model column.

    Raises:
        ConfigError: ``counts`` is not of shape ``(len(records), 4)``.
    """
    _check_counts(counts, records)
    table = pd.DataFrame({"model": model, "tile": [r.uid for r in records],
                          "subdataset": [r.subdataset for r in records], "group": [r.group for r in records]},
                         columns=list(TILE_COLUMNS[:4]))
    for column, values in zip(COUNT_COLUMNS, np.asarray(counts, dtype=np.int64).T, strict=True):
        table[column] = values
    return table


def confusion_matrices(
    model: nn.Module,
    records: Sequence[TileRecord],
    runtime: Runtime,
    *,
    batch_size: int = 4,
    num_workers: NumWorkers = "auto",
    progress: bool = False,
    session: Session | None = None,
    crop_size: int | None = None,
    source: str | TileSource = "cas",
) -> dict[str, ConfusionMatrix]:
    """One confusion matrix per sub-dataset of ``model``'s predictions, summed over tiles and processes.

    The sub-dataset sums (:func:`subdataset_matrices`) of :func:`tile_counts`, whose arguments it takes.

    Returns:
        Matrices keyed by sub-dataset, in the source's order, on ``runtime.device``.
    """
    counts = tile_counts(model, records, runtime, batch_size=batch_size, num_workers=num_workers, progress=progress,
                         session=session, crop_size=crop_size, source=source)
    return subdataset_matrices(counts, records, source=source, device=runtime.device)


def merged(matrices: Mapping[str, ConfusionMatrix]) -> ConfusionMatrix:
    """The sum of several matrices (pixels pooled), on the device of the first."""
    total = ConfusionMatrix(next(iter(matrices.values())).matrix.device) if matrices else ConfusionMatrix()
    for matrix in matrices.values():
        total.merge(matrix)
    return total


def _row(model: str, group: str, subdataset: str, tiles: int, matrix: ConfusionMatrix) -> dict[str, Any]:
    tp, fp, fn, tn = matrix.counts
    return {"model": model, "group": group, "subdataset": subdataset, "tiles": tiles, "pixels": tp + fp + fn + tn,
            **matrix.scores().as_percent(), "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def scores_table(matrices: Mapping[str, ConfusionMatrix], records: Sequence[TileRecord], *, model: str,
                 source: str | TileSource = "cas") -> pd.DataFrame:
    """Rows per group (``subdataset`` empty) followed by its sub-datasets, then each union group present whole.

    For CAS: ``UAV`` and its sub-datasets, ``SAT`` and its sub-datasets, and ``UAV&SAT`` when both are present.

    Args:
        matrices: Confusion matrices by sub-dataset (from :func:`confusion_matrices`).
        records: The tiles scored (for tile counts and each sub-dataset's group).
        model: The label of the model column.
        source: The tile source whose groups the rows follow.
    """
    source = get_source(source)
    group_of = {r.subdataset: r.group for r in records}
    tiles = pd.Series([r.subdataset for r in records]).value_counts().to_dict()
    present = set(group_of.values())
    rows = []
    for group, members in source.groups.items():
        if len(members) != 1 or members[0] not in present:
            continue
        scored = {k: m for k, m in matrices.items() if group_of[k] in members}
        rows.append(_row(model, group, "", sum(tiles[k] for k in scored), merged(scored)))
        rows.extend(_row(model, group, k, tiles[k], m) for k, m in scored.items())
    for group, members in source.groups.items():
        if len(members) > 1 and set(members) <= present:
            scored = {k: m for k, m in matrices.items() if group_of[k] in members}
            rows.append(_row(model, group, "", sum(tiles[k] for k in scored), merged(scored)))
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
