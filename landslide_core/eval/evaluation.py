"""Evaluating a model or a training checkpoint with the paper's scores, and writing the result as a record.

The scoring itself (confusion matrices per sub-dataset, merged per group) is
:mod:`landslide_core.scoring`, below training; this module sits above training
because it loads training's checkpoints and reads the split they were trained on.
Runs under torchrun too: tiles are sharded, matrices summed, and only rank 0 writes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..data.splits import manifest_checksum, split_records
from ..errors import CheckpointError, NothingToEvaluateError
from ..provenance import collect_provenance, write_record
from ..runtime.device import Runtime
from ..runtime.distributed import session
from ..scoring.confusion import confusion_matrices, scores_table
from ..sources import TileSource, get_source
from ..tiles import TileRecord
from ..train.checkpoints import load_checkpoint, trained_model

__all__ = ["SPLIT_CHOICES", "evaluate", "evaluate_checkpoint", "write_evaluation_record"]

SPLIT_CHOICES = ("train", "val", "all")


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
    source: str | TileSource = "cas",
) -> pd.DataFrame:
    """The paper's scores (percent) of a model or checkpoint on ``records``, per group and sub-dataset.

    Args:
        model_or_checkpoint: A one-logit model (moved to ``device`` in place) or a training checkpoint file.
        records: The tiles to score.
        batch_size: Tiles per forward pass.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, …
        amp: bf16 autocast (``auto``: on CUDA).
        channels_last: NHWC memory format (``auto``: on CUDA).
        num_workers: Data-loader processes.
        model_name: Label of the rows; default the checkpoint's model name, or the module's class name.
        progress: Show a progress bar.
        crop_size: Score central crops of this side instead of full tiles (quick CPU runs only).
        source: The tile source that reads the tiles.

    Returns:
        One row per group and per sub-dataset (see :data:`landslide_core.scoring.TABLE_COLUMNS`).

    Raises:
        NothingToEvaluateError: ``records`` is empty.
        CheckpointError: The checkpoint cannot be read.
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
                                  progress=progress, crop_size=crop_size, source=source)
    return scores_table(matrices, records, model=name, source=source)


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
    source: str | TileSource = "cas",
) -> tuple[Path, Path]:
    """Write ``stem.csv`` (the table) and ``stem.json`` (its provenance: parameters, data, split, software)."""
    provenance = collect_provenance(parameters=parameters, data_root=data_root, records=list(records),
                                    manifest=manifest, device=device, started=started, source=source)
    return write_record(table, Path(stem), provenance)


def _training_manifest(checkpoint: dict[str, Any], path: Path) -> Path:
    """The split manifest a checkpoint was trained on, checked to be unchanged.

    Raises:
        CheckpointError: The manifest is missing or its checksum differs from the one the checkpoint recorded.
    """
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

    Tiles are scored as the run validated them (full tiles, or central crops of its
    ``val_crop_size``), read with the checkpoint's tile source.

    Args:
        checkpoint: ``last.pt`` or ``best.pt`` of a training run.
        data_root: The data root.
        split: ``train``, ``val`` or ``all``.
        group: Default: the checkpoint's; the source's widest group (CAS: ``UAV&SAT``) when only
            ``subdatasets`` are given, e.g. the Moxitaidi tiles of paper Table 7.
        subdatasets: Default: the checkpoint's.
        manifest: The split; default: the one the checkpoint was trained on, checked to be unchanged.
        batch_size: Tiles per forward pass.
        device: ``auto``, ``cpu``, ``cuda``, …
        num_workers: Data-loader processes.
        progress: Show a progress bar.
        record: Write ``record.csv`` and ``record.json`` with provenance (rank 0 only under torchrun).

    Raises:
        CheckpointError: The checkpoint cannot be read, or its training split is missing or changed.
        ManifestError: The manifest disagrees with the tiles on disk.
    """
    started = time.time()
    checkpoint = Path(checkpoint)
    saved = load_checkpoint(checkpoint)
    model, config = trained_model(saved)
    manifest = Path(manifest) if manifest is not None else _training_manifest(saved, checkpoint)
    source = get_source(config.source)
    group = group or (source.widest_group if subdatasets else config.group)
    subdatasets = subdatasets or config.subdatasets
    runtime = Runtime.for_device(device)
    with session(runtime.device) as ses:
        records = ses.from_main(lambda: split_records(data_root, manifest, seed=config.seed,
                                                      val_fraction=config.val_fraction, group=group,
                                                      subdatasets=subdatasets, split=split, source=source))
        table = evaluate(model, records, batch_size=batch_size, device=runtime.device, num_workers=num_workers,
                         model_name=config.model, progress=progress, crop_size=config.val_crop_size, source=source)
        if record is not None and ses.is_main:
            parameters = {"checkpoint": checkpoint, "epoch": saved["epoch"], "split": split, "group": group,
                          "subdatasets": subdatasets, "batch_size": batch_size, "training": config.to_dict()}
            write_evaluation_record(table, record, parameters=parameters, data_root=data_root, records=records,
                                    manifest=manifest, device=str(runtime.device), started=started, source=source)
    return table
