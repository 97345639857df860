"""Training: SGD with poly decay (ours), Dice loss, validation with the six metrics of paper Table 5 each epoch.

Which settings come from the paper, in its words, and which are ours: :mod:`.config`.

One function, :func:`train`, runs on a CPU, one GPU or many (under ``torchrun``)
and resumes where it stopped. Files in ``out_dir``: ``split.csv`` (the split
manifest unless another is given), ``config.json``, ``last.pt`` (written
atomically every ``checkpoint_every`` epochs, after the last and after a best
epoch), ``best.pt`` (the epoch with the best validation mIoU) and ``history.csv``
(written with ``last.pt``), and while a process trains, ``.lock``, which keeps a
second process from training the same run (:func:`run_lock`).

Why a resumed run ends exactly where an uninterrupted one does (bit-identical on
CPU): every source of randomness is keyed on the epoch, not on what ran before.
The model is initialised from ``seed``; at the start of epoch ``e`` the global
torch generator is reseeded from ``(seed, e, rank)`` (dropout, loader seeds); the
sampler shuffles with ``seed + e`` (``DistributedSampler.set_epoch``) and every
tile's crop and flips come from ``(seed, e, index)`` (``TileDataset.set_epoch``).
Model, optimizer (momentum, lr), scheduler and gradient-scaler state are restored
from the checkpoint, the run keeps the precision it began in (``auto`` could
resolve otherwise on another GPU), and on CPU deterministic algorithms are on. An interruption loses
the epochs since the last checkpoint, which rerun identically.

Several processes and one: batches are the same global batches (``batch_size``
is split over processes), Dice sums and batch-norm statistics are pooled over
processes, and validation sums confusion matrices. A model without dropout
therefore trains to the same weights with N processes as with one, up to float
rounding (tested with 2 processes: within 1.5e-6). Dropout is not pooled: each
process draws its own masks from ``(seed, epoch, rank)``, so a model with dropout
(FCN-8s, MFFENet, DeepLabV3+'s ASPP) takes another random path with N processes
than with one. Such a run is still reproducible for a given N (tested).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import PolynomialLR
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from ..data.splits import manifest_checksum, split_records
from ..data.torch_dataset import TileDataset
from ..errors import CheckpointError, ConfigError, DeviceError, TrainingDataError
from ..io.atomic import write_text_atomic
from ..io.lock import LOCK_FILE, exclusive_lock
from ..models import build_model
from ..provenance import device_description
from ..runtime.device import Runtime, algorithm_settings
from ..runtime.distributed import Session, session, sync_batchnorm
from ..runtime.workers import resolve_num_workers
from ..scoring.confusion import SCORE_COLUMNS, merged, subdataset_matrices, tile_counts
from ..tiles import TileRecord, select_split
from .checkpoints import (
    BEST,
    LAST,
    check_config,
    check_split,
    load_checkpoint,
    load_initial_weights,
    save_atomic,
    validation_entry,
)
from .config import CONFIG_FILE, TrainConfig
from .losses import build_loss

__all__ = [
    "CONFIG_FILE", "HISTORY_COLUMNS", "HISTORY_FILE", "LOCK_FILE", "RUNTIME_FILE", "SPLIT_FILE", "TrainResult",
    "epoch_seed", "run_lock", "train",
]

log = logging.getLogger(__name__)

SPLIT_FILE, HISTORY_FILE = "split.csv", "history.csv"
RUNTIME_FILE = "runtime.json"
"""Where and how the run trained (device, precision, memory format, compile, processes, versions): written by rank 0
whenever a call of :func:`train` starts training, so after a resume it describes the latest part."""
HISTORY_COLUMNS = ("epoch", "train_loss", *(f"val_{c}" for c in SCORE_COLUMNS), "lr", "images_per_s", "seconds")
"""``history.csv``: validation scores in percent (empty where not validated), ``lr`` at the epoch's first step."""



@dataclass(frozen=True)
class TrainResult:
    """What a run produced, and where."""

    config: TrainConfig
    out_dir: Path
    history: pd.DataFrame
    best_epoch: int | None
    """Epoch (1-based) with the best validation mIoU; ``best.pt`` holds its weights."""
    last_checkpoint: Path
    best_checkpoint: Path | None
    manifest: Path
    manifest_sha256: str
    resumed_from: int
    """Epochs already done when this call started (0 for a fresh run)."""
    epochs_run: int
    """Epochs trained by this call (0 when the run had already finished)."""

    @property
    def best_scores(self) -> dict[str, float]:
        """Validation scores (percent) of the best epoch, keyed as :data:`metrics.PAPER_COLUMNS` plus ``f1_landslide``."""
        if self.best_epoch is None:
            return {}
        row = self.history.loc[self.history["epoch"] == self.best_epoch].iloc[0]
        return {c: float(row[f"val_{c}"]) for c in SCORE_COLUMNS}


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """The torch seed of one epoch on one process, independent of everything that ran before."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1, np.uint64)[0] >> 1)


def _write_history(history: Sequence[dict[str, Any]], path: Path) -> None:
    write_text_atomic(path, pd.DataFrame(list(history), columns=list(HISTORY_COLUMNS)).to_csv(index=False))


def _split_tiles(records: list[TileRecord], data_root: Path, config: TrainConfig) -> tuple[list[TileRecord], ...]:
    parts = select_split(records, "train"), select_split(records, "val")
    for name, part in zip(("train", "val"), parts, strict=True):
        if not part:
            raise TrainingDataError(data_root, f"no {name} tiles for group {config.group}"
                                    + (f" in sub-datasets {', '.join(config.subdatasets)}" if config.subdatasets else ""),
                                    "choose a group present under this data root (or add its sub-datasets)")
    return parts


class _Run:
    """The state of one training run on one process; :meth:`fit` trains the remaining epochs."""

    def __init__(self, config: TrainConfig, runtime: Runtime, ses: Session, data_root: Path, out_dir: Path,
                 manifest: Path, checkpoint: dict[str, Any] | None, progress: bool) -> None:
        self.config, self.runtime, self.session = config, runtime, ses
        self.out_dir, self.manifest, self.progress, self.data_root = out_dir, manifest, progress, data_root
        self.source = config.tile_source()
        records = ses.from_main(lambda: split_records(data_root, manifest, seed=config.seed,
                                                      val_fraction=config.val_fraction, group=config.group,
                                                      subdatasets=config.subdatasets, source=self.source))
        self.manifest_sha256 = manifest_checksum(manifest)
        if checkpoint is not None:
            check_split(checkpoint, out_dir / LAST, self.manifest_sha256)
        self.train_records, self.val_records = _split_tiles(records, data_root, config)
        self.history: list[dict[str, Any]] = list(checkpoint["history"]) if checkpoint else []
        self.best: dict[str, Any] | None = checkpoint.get("best") if checkpoint else None
        self.start_epoch = int(checkpoint["epoch"]) if checkpoint else 0
        self.validated: np.ndarray | None = None
        """The per-tile counts of the last epoch's validation (None where it did not validate)."""
        if self.start_epoch < config.epochs:
            self._build(checkpoint)

    def _build(self, checkpoint: dict[str, Any] | None) -> None:
        config, ses, runtime = self.config, self.session, self.runtime
        torch.manual_seed(config.seed)
        model = build_model(config.model, pretrained=config.pretrained if checkpoint is None else False,
                            **config.model_options)
        if checkpoint is not None:
            model.load_state_dict(checkpoint["model"])
        elif config.init_weights is not None:
            load_initial_weights(model, Path(config.init_weights), config.model)
        if ses.distributed and config.sync_batchnorm:
            model = sync_batchnorm(model, runtime.device)
        self.model = runtime.prepare_model(model)
        self.dataset = TileDataset(self.train_records, source=self.source, crop_size=config.crop_size,
                                   augment=config.augment, seed=config.seed)
        self.sampler = DistributedSampler(self.dataset, num_replicas=ses.world_size, rank=ses.rank, shuffle=True,
                                          seed=config.seed, drop_last=True)
        # Workers are not persistent: each epoch's workers get the dataset as set_epoch left it.
        self.loader = DataLoader(self.dataset, batch_size=config.batch_size // ses.world_size, sampler=self.sampler,
                                 num_workers=resolve_num_workers(config.num_workers, runtime.device),
                                 pin_memory=runtime.device.type == "cuda", drop_last=True)
        self.steps = min(len(self.loader), config.steps_per_epoch or len(self.loader))
        if self.steps == 0:
            raise ConfigError(f"batch_size {config.batch_size} is larger than the {len(self.dataset)} training tiles "
                              f"of group {config.group}; use a smaller --batch-size")
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=config.lr, momentum=config.momentum,
                                         weight_decay=config.weight_decay)
        self.scheduler = PolynomialLR(self.optimizer, total_iters=config.epochs * self.steps, power=config.poly_power)
        self.scaler = runtime.grad_scaler()
        if checkpoint is not None:
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            self.scheduler.load_state_dict(checkpoint["scheduler"])
            if checkpoint.get("scaler"):  # empty when the scaler was disabled (bf16, fp32)
                self.scaler.load_state_dict(checkpoint["scaler"])
        forward: nn.Module = self.model
        if ses.distributed:
            device_ids = [runtime.device.index] if runtime.device.type == "cuda" else None
            forward = DistributedDataParallel(self.model, device_ids=device_ids, gradient_as_bucket_view=True)
        self.forward = torch.compile(forward) if config.compile else forward
        self.predict = torch.compile(self.model) if config.compile else self.model
        self.loss = build_loss(config.loss, synchronize=ses.distributed)

    def fit(self, on_epoch_end: Callable[[dict[str, Any]], None] | None) -> int:
        """Train the remaining epochs; returns how many were trained."""
        config, show = self.config, self.progress and self.session.is_main
        with tqdm(total=config.epochs, initial=self.start_epoch, desc="training", unit="epoch", disable=not show) as bar:
            for epoch in range(self.start_epoch, config.epochs):
                row = self._epoch(epoch)
                self._record(row)
                due = (epoch + 1) % config.checkpoint_every == 0 or epoch + 1 == config.epochs
                if self.session.is_main and (due or (self.best is not None and self.best["epoch"] == epoch + 1)):
                    self._save()
                bar.set_postfix(loss=f"{row['train_loss']:.4f}", val_miou=f"{row['val_miou']:.2f}")
                bar.update()
                if on_epoch_end is not None:
                    on_epoch_end(row)
        return config.epochs - self.start_epoch

    def _epoch(self, epoch: int) -> dict[str, Any]:
        config, runtime, ses = self.config, self.runtime, self.session
        started = time.perf_counter()
        torch.manual_seed(epoch_seed(config.seed, epoch, ses.rank))
        self.sampler.set_epoch(epoch)
        self.dataset.set_epoch(epoch)
        self.model.train()
        lr = self.optimizer.param_groups[0]["lr"]
        loss_sum = torch.zeros((), device=runtime.device)
        with tqdm(total=self.steps * config.batch_size, desc=f"epoch {epoch + 1}/{config.epochs}", unit="img",
                  leave=False, disable=not (self.progress and ses.is_main)) as bar:
            for step, batch in zip(range(1, self.steps + 1), self.loader, strict=False):
                images = self.dataset.normalisation.batch(runtime.images(batch["image"]))  # uint8 copied, then float
                masks = runtime.masks(batch["mask"])
                with runtime.autocast():
                    logits = self.forward(images)
                loss = self.loss(logits, masks)
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()  # fp16: scaled against underflow; otherwise unchanged
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.scheduler.step()
                loss_sum += loss.detach()
                bar.update(config.batch_size)
                if not bar.disable and (step % 10 == 0 or step == self.steps):
                    bar.set_postfix(loss=f"{loss_sum.item() / step:.4f}")
        if ses.distributed:
            dist.all_reduce(loss_sum)
            loss_sum /= ses.world_size
        train_seconds = time.perf_counter() - started
        row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": loss_sum.item() / self.steps}
        self.validated = None
        if (epoch + 1) % config.val_every == 0 or epoch + 1 == config.epochs:
            self.validated = tile_counts(self.predict, self.val_records, runtime,
                                         batch_size=config.batch_size // ses.world_size, num_workers=config.num_workers,
                                         progress=self.progress, session=ses, crop_size=config.val_crop_size,
                                         source=self.source)
            matrices = subdataset_matrices(self.validated, self.val_records, source=self.source)
            row |= {f"val_{k}": v for k, v in merged(matrices).scores().as_percent().items()}
        else:
            row |= {f"val_{k}": float("nan") for k in SCORE_COLUMNS}
        row |= {"lr": lr, "images_per_s": self.steps * config.batch_size / train_seconds,
                "seconds": time.perf_counter() - started}
        return row

    def _record(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        if not np.isnan(row["val_miou"]) and (self.best is None or row["val_miou"] > self.best["miou"]):
            self.best = {"epoch": row["epoch"], "miou": row["val_miou"]}

    def _save(self) -> None:
        """Write best.pt (if this epoch is the best), then last.pt, then history.csv: a crash between them is harmless."""
        epoch = self.history[-1]["epoch"]
        payload = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "precision": self.runtime.precision,
            "epoch": epoch,
            "history": self.history,
            "best": self.best,
            "config": self.config.to_dict(),
            "manifest": str(self.manifest),
            "manifest_sha256": self.manifest_sha256,
            "world_size": self.session.world_size,
            "torch": str(torch.__version__),
        }
        if self.validated is not None:  # an evaluation of these weights on these tiles need not run again
            payload["validation"] = validation_entry(self.validated, self.val_records, self.data_root)
        if self.best is not None and self.best["epoch"] == epoch:  # weights to evaluate, not to resume: no optimizer
            save_atomic({k: v for k, v in payload.items() if k not in ("optimizer", "scheduler", "scaler")},
                        self.out_dir / BEST)
        save_atomic(payload, self.out_dir / LAST)
        _write_history(self.history, self.out_dir / HISTORY_FILE)

    def result(self, epochs_run: int) -> TrainResult:
        best_epoch = self.best["epoch"] if self.best else None
        return TrainResult(
            config=self.config, out_dir=self.out_dir,
            history=pd.DataFrame(self.history, columns=list(HISTORY_COLUMNS)),
            best_epoch=best_epoch, last_checkpoint=self.out_dir / LAST,
            best_checkpoint=self.out_dir / BEST if best_epoch else None, manifest=self.manifest,
            manifest_sha256=self.manifest_sha256, resumed_from=self.start_epoch, epochs_run=epochs_run,
        )


def _resumed_runtime(runtime: Runtime, checkpoint: dict[str, Any], path: Path) -> Runtime:
    """The runtime in the checkpoint's precision: ``auto`` may resolve otherwise on this device than where it began.

    Raises:
        CheckpointError: This device cannot run the checkpoint's precision.
    """
    saved = checkpoint.get("precision")
    if saved is None or saved == runtime.precision:
        return runtime
    try:
        return runtime.with_precision(saved)
    except DeviceError as error:
        raise CheckpointError(path, f"was trained in {saved}, which cannot run here ({error})",
                              f"resume on a device that runs {saved}, or train into a new output directory "
                              "(or pass --restart)") from None


def _runtime_record(runtime: Runtime, config: TrainConfig, ses: Session) -> dict[str, Any]:
    """The content of :data:`RUNTIME_FILE`."""
    return {**runtime.describe(), "device_description": device_description(str(runtime.device)),
            "compile": config.compile, "world_size": ses.world_size}


def run_lock(out_dir: str | Path, purpose: str = "training") -> contextlib.AbstractContextManager[Path | None]:
    """Hold the run folder's :data:`LOCK_FILE` (creating the folder) in the main process; a no-op on other ranks.

    Only rank 0 (``RANK`` unset or 0) locks: the processes of one ``torchrun`` run share the run.

    Raises:
        LockHeldError: Another live process holds the run (its host, process id and start time are named).
    """
    if int(os.environ.get("RANK", "0")) != 0:
        return contextlib.nullcontext()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return exclusive_lock(Path(out_dir) / LOCK_FILE, f"{purpose} {Path(out_dir).name}")


def _claim(out_dir: Path, restart: bool, held: contextlib.ExitStack) -> None:
    """Lock the run for the rest of ``held`` (no second process trains it meanwhile), then discard it if asked."""
    held.enter_context(run_lock(out_dir))
    if restart:
        _discard(out_dir)


def _discard(out_dir: Path) -> None:
    for name in (LAST, BEST, HISTORY_FILE, CONFIG_FILE, RUNTIME_FILE):
        (out_dir / name).unlink(missing_ok=True)


def train(
    config: TrainConfig,
    data_root: str | Path,
    out_dir: str | Path,
    *,
    manifest: str | Path | None = None,
    restart: bool = False,
    progress: bool = True,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    identity: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train ``config.model`` on ``config.group``'s training tiles; resume from ``out_dir/last.pt`` when it exists.

    ``manifest`` (default ``out_dir/split.csv``) holds the split; it is written
    when missing. ``restart`` discards an earlier run in ``out_dir`` (not its
    split). A run that has finished returns its result without training.
    ``on_epoch_end(row)`` is called on every process after each epoch's
    checkpoint is written (``row`` as in ``history.csv``); raising from it stops
    the run, which the next call resumes.
    ``identity`` (what else decides the result: split kind, checksums, code version;
    see :class:`landslide_core.experiments.runs.RunSpec`) is saved in
    ``config.json`` beside the settings.

    Raises:
        ConfigError: ``config.batch_size`` is not a multiple of the number of processes.
        CheckpointError: ``out_dir/last.pt`` was written with other settings, on another split, or in a precision
            this device cannot run.
        LockHeldError: Another live process is training in ``out_dir`` (:func:`run_lock`; the message names it).
    """
    data_root, out_dir = Path(data_root), Path(out_dir)
    manifest = Path(manifest) if manifest is not None else out_dir / SPLIT_FILE
    runtime = Runtime.for_device(config.device, precision=config.precision, channels_last=config.channels_last)
    with session(runtime.device) as ses, algorithm_settings(runtime.device), contextlib.ExitStack() as held:
        if config.batch_size % ses.world_size:
            raise ConfigError(f"batch_size {config.batch_size} cannot be split over {ses.world_size} processes; "
                              f"use a multiple of {ses.world_size}")
        ses.from_main(lambda: _claim(out_dir, restart, held))  # every process stops if rank 0 cannot have the run
        checkpoint = load_checkpoint(out_dir / LAST) if (out_dir / LAST).exists() else None
        if checkpoint is not None:
            check_config(checkpoint, out_dir / LAST, config)
            runtime = _resumed_runtime(runtime, checkpoint, out_dir / LAST)
        run = _Run(config, runtime, ses, data_root, out_dir, manifest.resolve(), checkpoint, progress)
        if ses.is_main:
            write_text_atomic(out_dir / CONFIG_FILE, json.dumps({**config.to_dict(), **(identity or {})}, indent=2)
                              + "\n")
            if run.start_epoch < config.epochs:
                write_text_atomic(out_dir / RUNTIME_FILE, json.dumps(_runtime_record(runtime, config, ses), indent=2)
                                  + "\n")
            if checkpoint is not None:
                done = run.start_epoch >= config.epochs
                log.info("%s: run already finished (%d epochs)" if done else "%s: resuming from epoch %d",
                         out_dir / LAST, run.start_epoch)
        epochs_run = run.fit(on_epoch_end) if run.start_epoch < config.epochs else 0
        return run.result(epochs_run)

