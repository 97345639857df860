"""The paper's evaluation: full 512×512 tiles, one confusion matrix per sub-dataset, merged per group.

Scores of a group are computed from the sum of its sub-datasets' confusion
matrices (all its validation pixels pooled, as the paper's numbers are), never by
averaging the sub-datasets' scores. Under torchrun each process evaluates tiles
``rank, rank + world, …`` and the matrices are summed over processes, so the
result is exactly that of one process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from .cas import GROUPS, subdatasets
from .checkpoints import CheckpointError, checkpoint_config, load_checkpoint, trained_model
from .datasets import CASTileDataset
from .distributed import Session, current_session, session
from .errors import LandslideCoreError
from .metrics import PAPER_COLUMNS, ConfusionMatrix
from .provenance import collect_provenance, write_record
from .runtime import Runtime
from .splits import load_or_make_split, manifest_checksum
from .tiles import TileRecord, select_group, select_split

SPLIT_CHOICES = ("train", "val", "all")
SCORE_COLUMNS = (*PAPER_COLUMNS, "f1_landslide")
TABLE_COLUMNS = ("model", "group", "subdataset", "tiles", "pixels", *SCORE_COLUMNS, "tp", "fp", "fn", "tn")
"""Columns of :func:`evaluate`'s table: scores in percent, then the landslide-class pixel counts."""


class NothingToEvaluateError(LandslideCoreError):
    """Evaluation was asked for on an empty set of tiles."""


def split_records(data_root: str | Path, manifest: str | Path, *, seed: int, val_fraction: float, group: str,
                  subdatasets: Iterable[str] | None = None, split: str = "all") -> list[TileRecord]:
    """A group's tiles of one split (``train``, ``val`` or ``all``), read from (or first written to) ``manifest``.

    Sorted by sub-dataset and name: a freshly drawn split and one read back list
    tiles in different orders, and the seeded data order goes by position.
    """
    records = load_or_make_split(data_root, manifest, seed=seed, val_fraction=val_fraction,
                                 subdataset_names=subdatasets)
    records = sorted(select_group(records, group), key=lambda r: r.uid)
    return records if split == "all" else select_split(records, split)


def _ordered_subdatasets(records: Sequence[TileRecord]) -> list[str]:
    """Sub-dataset keys of ``records`` in paper Table 2 order (the same on every process)."""
    present = {r.subdataset for r in records}
    order = [sd.key for sd in subdatasets()]
    return [k for k in order if k in present] + sorted(present - set(order))


def confusion_matrices(
    model: nn.Module,
    records: Sequence[TileRecord],
    runtime: Runtime,
    *,
    batch_size: int = 4,
    num_workers: int = 0,
    progress: bool = False,
    session: Session | None = None,
    crop_size: int | None = None,
) -> dict[str, ConfusionMatrix]:
    """One confusion matrix per sub-dataset of ``model``'s predictions on full tiles, summed over processes.

    ``crop_size`` scores only each tile's central square instead (CPU demo runs; the paper uses full tiles).

    ``model`` must already be on ``runtime.device``; its train/eval mode is restored afterwards.
    """
    session = session or current_session()
    keys = _ordered_subdatasets(records)
    matrices = {key: ConfusionMatrix(runtime.device) for key in keys}
    dataset = CASTileDataset(records, crop_size=crop_size, centre_crop=True)
    loader = DataLoader(Subset(dataset, session.shard(len(dataset))), batch_size=batch_size, num_workers=num_workers,
                        pin_memory=runtime.device.type == "cuda")
    was_training = model.training
    model.eval()
    with torch.inference_mode(), runtime.autocast():
        for batch in tqdm(loader, desc="evaluate", unit="batch", leave=False, disable=not (progress and session.is_main)):
            logits = model(runtime.images(batch["image"])).float()
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


def scores_table(matrices: Mapping[str, ConfusionMatrix], records: Sequence[TileRecord], *, model: str) -> pd.DataFrame:
    """Rows per sensor group (``subdataset`` empty) followed by its sub-datasets; ``UAV&SAT`` when both are present."""
    group_of = {r.subdataset: r.group for r in records}
    tiles = pd.Series([r.subdataset for r in records]).value_counts().to_dict()
    rows = []
    present = [g for g in GROUPS if g in group_of.values()]  # UAV, SAT (tiles never carry "UAV&SAT")
    for group in present:
        members = {k: m for k, m in matrices.items() if group_of[k] == group}
        rows.append(_row(model, group, "", sum(tiles[k] for k in members), merged(members)))
        rows.extend(_row(model, group, k, tiles[k], m) for k, m in members.items())
    if len(present) == 2:
        rows.append(_row(model, "UAV&SAT", "", len(records), merged(matrices)))
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def evaluate(
    model_or_checkpoint: nn.Module | str | Path,
    records: Sequence[TileRecord],
    *,
    batch_size: int = 4,
    device: str | torch.device = "auto",
    amp: bool | str = "auto",
    channels_last: bool | str = "auto",
    num_workers: int = 0,
    model_name: str | None = None,
    progress: bool = False,
    crop_size: int | None = None,
) -> pd.DataFrame:
    """The paper's scores (percent) of a model or checkpoint on ``records``, per group and sub-dataset.

    A module is moved to ``device`` in place. ``model_name`` labels the rows
    (default: the checkpoint's model name, or the module's class name). ``crop_size``
    scores central crops instead of full tiles (quick CPU runs only).
    """
    if not records:
        raise NothingToEvaluateError("no tiles to evaluate: check the data root, group, sub-datasets and split asked for")
    runtime = Runtime.for_device(device, amp=amp, channels_last=channels_last)
    if isinstance(model_or_checkpoint, nn.Module):
        model, name = model_or_checkpoint, model_name or type(model_or_checkpoint).__name__
    else:
        model, config = trained_model(load_checkpoint(model_or_checkpoint))
        name = model_name or config.model
    runtime.prepare_model(model)
    matrices = confusion_matrices(model, records, runtime, batch_size=batch_size, num_workers=num_workers,
                                  progress=progress, crop_size=crop_size)
    return scores_table(matrices, records, model=name)


def write_evaluation_record(
    table: pd.DataFrame,
    stem: str | Path,
    *,
    parameters: dict[str, Any],
    data_root: str | Path,
    records: Sequence[TileRecord],
    manifest: str | Path | None = None,
    device: str | None = None,
    started: float | None = None,
) -> tuple[Path, Path]:
    """Write ``stem.csv`` (the table) and ``stem.json`` (its provenance: parameters, data, split, software)."""
    provenance = collect_provenance(parameters=parameters, data_root=data_root, records=list(records),
                                    manifest=manifest, device=device, started=started)
    return write_record(table, Path(stem), provenance)


def _training_manifest(checkpoint: dict[str, Any], path: Path) -> Path:
    """The split manifest a checkpoint was trained on, checked to be unchanged."""
    manifest = Path(checkpoint["manifest"])
    fix = "pass --manifest (manifest=) with the split to evaluate on"
    if not manifest.is_file():
        raise CheckpointError(path, f"its training split {manifest} is missing", fix)
    if manifest_checksum(manifest) != checkpoint["manifest_sha256"]:
        raise CheckpointError(path, f"its training split {manifest} has changed since it was trained", fix)
    return manifest


def evaluate_checkpoint(
    checkpoint: str | Path,
    data_root: str | Path,
    *,
    split: str = "val",
    group: str | None = None,
    subdatasets: Sequence[str] | None = None,
    manifest: str | Path | None = None,
    batch_size: int = 4,
    device: str = "auto",
    num_workers: int = 0,
    progress: bool = True,
    record: str | Path | None = None,
) -> pd.DataFrame:
    """Evaluate a training checkpoint on its own split (by default its group's validation tiles).

    ``group``/``subdatasets`` default to the checkpoint's (``UAV&SAT`` when only
    sub-datasets are given, e.g. the Moxitaidi tiles of paper Table 7). ``record``
    writes ``record.csv`` and ``record.json`` with provenance. Tiles are scored as the
    run validated them (full tiles, or central crops of ``val_crop_size``). Runs under
    torchrun too: tiles are sharded and only rank 0 writes.
    """
    started = time.time()
    checkpoint = Path(checkpoint)
    saved = load_checkpoint(checkpoint)
    model, config = trained_model(saved)
    manifest = Path(manifest) if manifest is not None else _training_manifest(saved, checkpoint)
    group = group or ("UAV&SAT" if subdatasets else config.group)
    subdatasets = subdatasets or config.subdatasets
    runtime = Runtime.for_device(device)
    with session(runtime.device) as ses:
        records = ses.from_main(lambda: split_records(data_root, manifest, seed=config.seed,
                                                      val_fraction=config.val_fraction, group=group,
                                                      subdatasets=subdatasets, split=split))
        table = evaluate(model, records, batch_size=batch_size, device=runtime.device, num_workers=num_workers,
                         model_name=config.model, progress=progress, crop_size=config.val_crop_size)
        if record is not None and ses.is_main:
            parameters = {"checkpoint": checkpoint, "epoch": saved["epoch"], "split": split, "group": group,
                          "subdatasets": subdatasets, "batch_size": batch_size, "training": config.to_dict()}
            write_evaluation_record(table, record, parameters=parameters, data_root=data_root, records=records,
                                    manifest=manifest, device=str(runtime.device), started=started)
    return table
