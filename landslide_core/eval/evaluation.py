"""Evaluating a model or a training checkpoint with the six scores of the paper's tables, and writing a record.

The scoring itself (confusion matrices per sub-dataset, merged per group: pooling the
pixels is our reading of Eqs. 1–6 of the paper, which are written in counts) is
:mod:`landslide_core.scoring`, below training; this module sits above training
because it loads training's checkpoints and reads the split they were trained on.
Runs under torchrun too: tiles are sharded, per-tile counts summed, and only rank 0 writes.
Each evaluation gives the scores table and the per-tile counts it is the sum of
(:func:`evaluate_tiles`, :func:`evaluate_checkpoint_tiles`), from one pass over the tiles. A checkpoint scored on
several data (Table 7's held-out parts) is read once (:func:`open_checkpoint`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..data.splits import manifest_checksum, read_manifest, split_records
from ..errors import CheckpointError, ConfigError, NothingToEvaluateError
from ..io.atomic import write_text_atomic
from ..provenance import collect_provenance, write_record
from ..runtime.device import Runtime
from ..runtime.distributed import session
from ..runtime.workers import NumWorkers
from ..scoring.confusion import scores_table, subdataset_matrices, tile_counts, tile_table
from ..sources import TileSource, get_source
from ..tiles import TileRecord
from ..train.checkpoints import load_checkpoint, trained_model, validated_counts
from ..train.config import TrainConfig

__all__ = [
    "SPLIT_CHOICES", "OpenedCheckpoint", "evaluate", "evaluate_checkpoint", "evaluate_checkpoint_tiles", "evaluate_tiles",
    "open_checkpoint", "tiles_path", "write_evaluation_record",
]

SPLIT_CHOICES = ("train", "val", "all")


def evaluate_tiles(
    model_or_checkpoint: nn.Module | str | Path,
    records: Sequence[TileRecord],
    *,
    batch_size: int = 4,
    device: str | torch.device = "auto",
    precision: str = "auto",
    channels_last: bool | str = "auto",
    num_workers: NumWorkers = "auto",
    model_name: str | None = None,
    progress: bool = False,
    crop_size: int | None = None,
    source: str | TileSource = "cas",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The six scores of the paper's tables (percent) of a model or checkpoint on ``records``, and its per-tile counts.

    One pass over the tiles: the scores' counts are the sums of the per-tile counts, per sub-dataset and group.

    Args:
        model_or_checkpoint: A one-logit model (moved to ``device`` in place) or a training checkpoint file.
        records: The tiles to score.
        batch_size: Tiles per forward pass.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, …
        precision: Autocast precision, ``auto``, ``bf16``, ``fp16`` or ``fp32`` (``auto``: bf16 or fp16 on a GPU,
            fp32 on the CPU).
        channels_last: NHWC memory format (``auto``: on CUDA).
        num_workers: Data-loader processes; ``auto`` follows the cores (the number it becomes is logged).
        model_name: Label of the rows; default the checkpoint's model name, or the module's class name.
        progress: Show a progress bar.
        crop_size: Score central crops of this side instead of full tiles (quick CPU runs only).
        source: The tile source that reads the tiles.

    Returns:
        The scores, one row per group and per sub-dataset (see :data:`landslide_core.scoring.TABLE_COLUMNS`), and
        the landslide-class counts of every tile, in the order of ``records``
        (:data:`landslide_core.scoring.TILE_COLUMNS`).

    Raises:
        NothingToEvaluateError: ``records`` is empty.
        CheckpointError: The checkpoint cannot be read.
    """
    if not records:
        raise NothingToEvaluateError("no tiles to evaluate: check the data root, group, sub-datasets and split asked for")
    runtime = Runtime.for_device(device, precision=precision, channels_last=channels_last)
    if isinstance(model_or_checkpoint, nn.Module):
        model, name = model_or_checkpoint, model_name or type(model_or_checkpoint).__name__
    else:
        model, config = trained_model(load_checkpoint(model_or_checkpoint))
        name = model_name or config.model
    runtime.prepare_model(model)
    counts = tile_counts(model, records, runtime, batch_size=batch_size, num_workers=num_workers, progress=progress,
                         crop_size=crop_size, source=source)
    return _tables(counts, records, name, source)


def _tables(counts: Any, records: Sequence[TileRecord], name: str,
            source: str | TileSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scores per group and sub-dataset that per-tile ``counts`` sum to, and the counts as a table."""
    matrices = subdataset_matrices(counts, records, source=source)
    return scores_table(matrices, records, model=name, source=source), tile_table(counts, records, model=name)


def evaluate(
    model_or_checkpoint: nn.Module | str | Path,
    records: Sequence[TileRecord],
    *,
    batch_size: int = 4,
    device: str | torch.device = "auto",
    precision: str = "auto",
    channels_last: bool | str = "auto",
    num_workers: NumWorkers = "auto",
    model_name: str | None = None,
    progress: bool = False,
    crop_size: int | None = None,
    source: str | TileSource = "cas",
) -> pd.DataFrame:
    """The scores of :func:`evaluate_tiles` alone: one row per group and per sub-dataset; arguments as there."""
    return evaluate_tiles(model_or_checkpoint, records, batch_size=batch_size, device=device, precision=precision,
                          channels_last=channels_last, num_workers=num_workers, model_name=model_name,
                          progress=progress, crop_size=crop_size, source=source)[0]


def tiles_path(stem: str | Path) -> Path:
    """``<stem>-tiles.csv``, beside the record ``<stem>.csv`` that :func:`write_evaluation_record` writes."""
    record = Path(stem).with_suffix(".csv")
    return record.with_name(f"{record.stem}-tiles.csv")


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


def _foreign_records(data_root: str | Path, source: TileSource, split: str, manifest: Path | None, group: str,
                     subdatasets: Sequence[str] | None) -> list[TileRecord]:
    """Tiles of data a checkpoint was not trained on: all of them, or one side of ``manifest``.

    Raises:
        ConfigError: ``split`` is ``train`` or ``val`` but no manifest says which tiles those are.
    """
    if split == "all" and manifest is None:
        records = source.list_tiles(data_root, subdatasets)
        return sorted(source.select_group(records, group), key=lambda r: r.uid)
    if manifest is None:
        raise ConfigError(f"split {split!r} of data the checkpoint was not trained on needs a split manifest: pass "
                          "--manifest (manifest=) with that data's split, or --split all to score every tile")
    records = [r for r in read_manifest(manifest, data_root) if r.split == split or split == "all"]
    if subdatasets:
        records = source.select_subdatasets(records, subdatasets)
    return sorted(source.select_group(records, group), key=lambda r: r.uid)


@dataclass(frozen=True)
class OpenedCheckpoint:
    """A training checkpoint read once and its model built, to score it on several data without reading it again."""

    path: Path
    saved: dict[str, Any]
    """What :func:`~landslide_core.train.checkpoints.load_checkpoint` read."""
    model: nn.Module
    """The trained model, on the CPU in eval mode (an evaluation moves it to its device)."""
    config: TrainConfig


def open_checkpoint(checkpoint: str | Path) -> OpenedCheckpoint:
    """Read ``checkpoint`` and build its model.

    Raises:
        CheckpointError: The checkpoint cannot be read.
    """
    saved = load_checkpoint(checkpoint)
    model, config = trained_model(saved)
    return OpenedCheckpoint(Path(checkpoint), saved, model, config)


def evaluate_checkpoint_tiles(
    checkpoint: str | Path | OpenedCheckpoint,
    data_root: str | Path,
    *,
    split: str | None = None,
    group: str | None = None,
    subdatasets: Sequence[str] | None = None,
    manifest: str | Path | None = None,
    source: str | TileSource | Mapping[str, Any] | None = None,
    batch_size: int = 4,
    device: str = "auto",
    num_workers: NumWorkers = "auto",
    progress: bool = True,
    record: str | Path | None = None,
    reuse_validation: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evaluate a training checkpoint on its own split, or on any data it was not trained on: scores and tiles.

    On its own data (``source`` ``None``, the default) the split comes from its
    training manifest, checked to be unchanged, and ``split`` defaults to ``val``.
    On other data (``source`` given: another dataset, or CAS tiles at another root)
    ``split`` defaults to ``all``: every tile under ``data_root`` is scored and no
    manifest is needed; ``train``/``val`` then need the data's own ``manifest``.
    Tiles are scored as the run validated them (full tiles, or central crops of its
    ``val_crop_size``).

    Args:
        checkpoint: ``last.pt`` or ``best.pt`` of a training run, or one :func:`open_checkpoint` read already.
        data_root: The data root.
        split: ``train``, ``val`` or ``all``; default ``val`` on the checkpoint's own data, ``all`` on other data.
        group: Default: the checkpoint's on its own data; the source's widest group (CAS: ``UAV&SAT``) on other
            data or when only ``subdatasets`` are given, e.g. the Moxitaidi tiles of paper Table 7.
        subdatasets: Default: the checkpoint's on its own data, all found on other data.
        manifest: The split; default: the one the checkpoint was trained on (own data), none (other data).
        source: The tile source of ``data_root`` (a name, a :meth:`~landslide_core.sources.TileSource.spec` or a
            source), when it is not the data the checkpoint was trained on.
        batch_size: Tiles per forward pass.
        device: ``auto``, ``cpu``, ``cuda``, …
        num_workers: Data-loader processes; ``auto`` follows the cores (the number it becomes is logged).
        progress: Show a progress bar.
        record: Write ``record.csv`` and ``record.json`` with provenance, and the per-tile counts as
            ``record-tiles.csv`` (rank 0 only under torchrun).
        reuse_validation: Where the checkpoint's own validation scored exactly these tiles (same root, source, tiles
            and order; :func:`~landslide_core.train.checkpoints.validated_counts`), take its per-tile counts instead
            of scoring them again: the same weights on the same crops, so the same counts on the CPU (tested); on a
            GPU, those of the validation pass, in its precision and batch size.

    Returns:
        The scores per group and sub-dataset and the counts per tile, as :func:`evaluate_tiles`'s.

    Raises:
        CheckpointError: The checkpoint cannot be read, or its training split is missing or changed.
        ManifestError: The manifest disagrees with the tiles on disk.
        ConfigError: ``train``/``val`` tiles of other data were asked for without a manifest.
    """
    started = time.time()
    opened = checkpoint if isinstance(checkpoint, OpenedCheckpoint) else open_checkpoint(checkpoint)
    checkpoint, saved, model, config = opened.path, opened.saved, opened.model, opened.config
    runtime = Runtime.for_device(device)
    foreign = source is not None
    tiles = get_source(source) if foreign else config.tile_source()
    if foreign:
        split = split or "all"
        manifest = Path(manifest) if manifest is not None else None
        group = group or tiles.widest_group
    else:
        split = split or "val"
        manifest = Path(manifest) if manifest is not None else _training_manifest(saved, checkpoint)
        group = group or (tiles.widest_group if subdatasets else config.group)
        subdatasets = subdatasets or config.subdatasets
    with session(runtime.device) as ses:
        if foreign:
            records = ses.from_main(lambda: _foreign_records(data_root, tiles, split, manifest, group, subdatasets))
        else:
            records = ses.from_main(lambda: split_records(data_root, manifest, seed=config.seed,
                                                          val_fraction=config.val_fraction, group=group,
                                                          subdatasets=subdatasets, split=split, source=tiles))
        same_source = tiles.spec() == config.tile_source().spec()
        validated = validated_counts(saved, records, data_root) if reuse_validation and same_source else None
        if validated is None:
            table, per_tile = evaluate_tiles(model, records, batch_size=batch_size, device=runtime.device,
                                             num_workers=num_workers, model_name=config.model, progress=progress,
                                             crop_size=config.val_crop_size, source=tiles)
        else:
            table, per_tile = _tables(validated, records, config.model, tiles)
        if record is not None and ses.is_main:
            parameters = {"checkpoint": checkpoint, "epoch": saved["epoch"], "split": split, "group": group,
                          "subdatasets": subdatasets, "source": tiles.spec(), "batch_size": batch_size,
                          "training": config.to_dict()}
            write_evaluation_record(table, record, parameters=parameters, data_root=data_root, records=records,
                                    manifest=manifest, device=str(runtime.device), started=started, source=tiles)
            write_text_atomic(tiles_path(record), per_tile.to_csv(index=False))
    return table, per_tile


def evaluate_checkpoint(
    checkpoint: str | Path | OpenedCheckpoint,
    data_root: str | Path,
    *,
    split: str | None = None,
    group: str | None = None,
    subdatasets: Sequence[str] | None = None,
    manifest: str | Path | None = None,
    source: str | TileSource | Mapping[str, Any] | None = None,
    batch_size: int = 4,
    device: str = "auto",
    num_workers: NumWorkers = "auto",
    progress: bool = True,
    record: str | Path | None = None,
) -> pd.DataFrame:
    """The scores of :func:`evaluate_checkpoint_tiles` alone, per group and sub-dataset; arguments as there."""
    return evaluate_checkpoint_tiles(checkpoint, data_root, split=split, group=group, subdatasets=subdatasets,
                                     manifest=manifest, source=source, batch_size=batch_size, device=device,
                                     num_workers=num_workers, progress=progress, record=record)[0]
