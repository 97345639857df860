"""Scoring a model on full tiles: one confusion matrix per sub-dataset, merged per group.

Scores of a group are computed from the sum of its sub-datasets' confusion
matrices (all its validation pixels pooled), never by averaging the sub-datasets'
scores. The pooling is ours: Eqs. 1–6 of the paper are written in pixel counts
without saying over which pixels, and only some published rows fit one pooled
matrix (:func:`landslide_core.eval.paper.consistency`). Under torchrun each process scores tiles
``rank, rank + world, …`` and the matrices are summed over processes, so the
result is exactly that of one process.

This sits below training (which validates with it every epoch) and below
evaluating a checkpoint (:mod:`landslide_core.eval`), which loads training's
checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from ..data.torch_dataset import TileDataset
from ..runtime.device import Runtime
from ..runtime.distributed import Session, current_session
from ..runtime.workers import NumWorkers, resolve_num_workers
from ..sources import TileSource, get_source
from ..tiles import TileRecord
from .metrics import PAPER_COLUMNS, ConfusionMatrix

__all__ = ["SCORE_COLUMNS", "TABLE_COLUMNS", "confusion_matrices", "merged", "scores_table"]

SCORE_COLUMNS = (*PAPER_COLUMNS, "f1_landslide")
TABLE_COLUMNS = ("model", "group", "subdataset", "tiles", "pixels", *SCORE_COLUMNS, "tp", "fp", "fn", "tn")
"""Columns of :func:`scores_table`: scores in percent, then the landslide-class pixel counts."""


def _ordered_subdatasets(records: Sequence[TileRecord], source: TileSource) -> list[str]:
    """Sub-dataset keys of ``records`` in the source's order (the same on every process)."""
    present = {r.subdataset for r in records}
    order = source.subdataset_order()
    return [k for k in order if k in present] + sorted(present - set(order))


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
    """One confusion matrix per sub-dataset of ``model``'s predictions on full tiles, summed over processes.

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
        Matrices keyed by sub-dataset, in the source's order.
    """
    session = session or current_session()
    source = get_source(source)
    keys = _ordered_subdatasets(records, source)
    matrices = {key: ConfusionMatrix(runtime.device) for key in keys}
    dataset = TileDataset(records, source=source, crop_size=crop_size, centre_crop=True)
    loader = DataLoader(Subset(dataset, session.shard(len(dataset))), batch_size=batch_size,
                        num_workers=resolve_num_workers(num_workers, runtime.device),
                        pin_memory=runtime.device.type == "cuda")
    was_training = model.training
    model.eval()
    with torch.inference_mode(), runtime.autocast():
        for batch in tqdm(loader, desc="evaluate", unit="batch", leave=False, disable=not (progress and session.is_main)):
            logits = model(dataset.normalisation.batch(runtime.images(batch["image"]))).float()
            target = runtime.masks(batch["mask"])
            names = batch["subdataset"]
            for key in dict.fromkeys(names):
                rows = torch.tensor([n == key for n in names], device=runtime.device)
                matrices[key].update_from_logits(logits[rows], target[rows])
    model.train(was_training)
    for matrix in matrices.values():
        matrix.all_reduce()
    return matrices


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
