"""One training run of an experiment: named by everything that decides its result, trained, evaluated, read back.

A run's identity (:meth:`RunSpec.identity`) is its full training configuration
(:class:`~landslide_core.train.config.TrainConfig`, less the settings that cannot
change its numbers) with what else decides them: the code version
(:func:`~landslide_core.provenance.package_digest`), the kind of split, the split
manifest's SHA-256, the checksum of the tiles the manifest lists (names, paths and
sizes) and, where a run is scored beyond its own validation tiles, what it is
scored on. Its folder is named ``<stem>-<digest>`` (the first 12 hex digits of the
identity's SHA-256), so a rerun under any other setting trains a new run instead of
reading an old one back, and ``config.json`` in the folder holds the identity:
reading a finished run back compares it with the identity asked for and refuses a
mismatch, naming the fields.

A run's folder holds ``config.json``, ``history.csv``, its checkpoints, ``tile_counts.csv``
(the landslide-class TP, FP, FN and TN of the evaluation on every validation tile, whose
sums are the counts of ``scores.csv``) and, written last, ``scores.csv``: a folder with
scores is a finished run and is never trained again.

Baselines are not runs: the experiments score them anew on every call and write their
per-tile counts beside the split manifest they were scored on (:func:`baseline_tiles_path`),
so that a run can be paired with them tile by tile.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from ..data.splits import manifest_checksum, read_manifest
from ..errors import RunFolderError, RunMismatchError
from ..eval.evaluation import evaluate_checkpoint_tiles
from ..io.atomic import write_text_atomic
from ..provenance import listing_checksum, package_digest
from ..scoring.confusion import TILE_COLUMNS
from ..train.checkpoints import BEST, LAST
from ..train.config import RESULT_NEUTRAL, TrainConfig
from ..train.loop import CONFIG_FILE, HISTORY_FILE, run_lock, train

__all__ = [
    "BASELINE_TILES_SUFFIX", "DIGEST_LENGTH", "SCORES_FILE", "TILE_COUNTS_FILE", "GridRun", "RunSpec",
    "baseline_tiles_path", "check_identity", "epoch_choice", "read_config", "read_run", "read_tile_counts",
    "train_and_evaluate",
]

SCORES_FILE = "scores.csv"
TILE_COUNTS_FILE = "tile_counts.csv"
"""Per-tile counts of a run's evaluation (:data:`~landslide_core.scoring.TILE_COLUMNS`; Table 7's runs add
``evaluated on``), written before the file that marks the run finished."""
BASELINE_TILES_SUFFIX = "baselines-tiles.csv"
"""How the name of every file of :func:`baseline_tiles_path` ends."""
DIGEST_LENGTH = 12
"""Hex digits of the identity's SHA-256 in a run folder's name."""


@dataclass(frozen=True)
class RunSpec:
    """What one run trains and is scored on: everything its result depends on."""

    config: TrainConfig
    data_root: Path
    manifest: Path
    """The split manifest the run trains and validates on; it must exist before :meth:`identity` is asked."""
    split: str
    """The kind of split the manifest holds, in words (``random``, ``grouped``, ``held-out region``, ...)."""
    scored_on: tuple[str, ...] = field(default=())
    """What the run is scored on beyond its own validation tiles (e.g. other datasets' manifests' checksums)."""
    starts_from: str = ""
    """The identity digest of the run whose weights start this one (its config's ``init_weights``, whose path the
    identity leaves out: a folder may move, its digest names it); empty for none."""

    @cached_property
    def _identity(self) -> str:
        settings = {k: v for k, v in self.config.to_dict().items() if k not in RESULT_NEUTRAL | {"init_weights"}}
        manifest, root = Path(self.manifest).resolve(), Path(self.data_root).resolve()
        return json.dumps({**settings, "split": self.split, "split_manifest_sha256": manifest_checksum(manifest),
                           "data_listing_sha256": listing_checksum(read_manifest(manifest, root), root),
                           "scored_on": list(self.scored_on), "starts_from": self.starts_from,
                           "code_version": package_digest()}, sort_keys=True)

    def identity(self) -> dict[str, Any]:
        """The settings that decide the result (:data:`RESULT_NEUTRAL` left out) and the data, split and code.

        Computed once per spec, when first asked (the data listing stats every tile the manifest names).
        """
        return json.loads(self._identity)

    def digest(self) -> str:
        """SHA-256 of :meth:`identity` (sorted keys)."""
        return hashlib.sha256(self._identity.encode()).hexdigest()

    def folder(self, runs_dir: str | Path, stem: str) -> Path:
        """``runs_dir/<stem>-<digest>``: the folder this run trains in and is read back from."""
        return Path(runs_dir) / f"{stem}-{self.digest()[:DIGEST_LENGTH]}"


def read_config(folder: Path) -> dict[str, Any]:
    """A run's own ``config.json``: its settings and identity as it trained (empty where it has none yet)."""
    path = folder / CONFIG_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def check_identity(folder: Path, spec: RunSpec) -> dict[str, Any]:
    """The run's ``config.json``, checked against ``spec``'s identity.

    Raises:
        RunMismatchError: The saved configuration is missing or differs from the one asked for in any field.
    """
    saved, wanted = read_config(folder), spec.identity()
    differing = [f"{key}: {saved.get(key, '(missing)')!r} here, {value!r} asked for"
                 for key, value in wanted.items() if saved.get(key, "(missing)") != value]
    if differing:
        raise RunMismatchError(folder / CONFIG_FILE, "this run was made under another configuration than the one "
                               f"read back for ({'; '.join(differing)})",
                               "delete the run folder to train it again under this configuration, or give the "
                               "settings it was made with")
    return saved


@dataclass(frozen=True)
class GridRun:
    """One trained and evaluated (model, group, seed)."""

    model: str
    group: str
    seed: int
    folder: Path
    history: pd.DataFrame
    """Per-epoch training loss and validation scores (``history.csv``)."""
    scores: pd.DataFrame
    """Evaluation of the best checkpoint on the group's validation tiles: group rows and sub-dataset rows."""
    checkpoint: Path | None
    """The best checkpoint, or ``None`` where it was not kept."""
    config: dict[str, Any] = field(default_factory=dict)
    """The run's own ``config.json``: its settings and identity as it trained."""
    tile_counts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(TILE_COLUMNS)))
    """The same evaluation per validation tile (``tile_counts.csv``): the counts :attr:`scores` sums; a run read
    back from its folder always has them."""


def train_and_evaluate(spec: RunSpec, folder: Path, progress: bool) -> None:
    """Train ``spec`` in ``folder`` and score its best checkpoint on its validation tiles.

    The scores are those of the validation pass that chose the checkpoint, which it keeps (the same weights on the
    same tiles; :func:`~landslide_core.eval.evaluation.evaluate_checkpoint_tiles`' ``reuse_validation``): the tiles
    are not read a second time.

    ``config.json`` gets the run's identity when training starts; the per-tile counts (:data:`TILE_COUNTS_FILE`)
    follow training, and ``scores.csv``, written last, marks the run finished. A finished run keeps ``best.pt``, the
    checkpoint it was scored with, and drops ``last.pt`` (weights and optimizer state, for resuming only): twice the
    disk for nothing once the run is done.
    """
    with run_lock(folder, "training and evaluating"):  # a second process is refused, naming this one
        if (folder / SCORES_FILE).is_file():  # finished by another process since the caller looked
            return
        config = spec.config
        result = train(config, spec.data_root, folder, manifest=spec.manifest, progress=progress,
                       identity=spec.identity())
        checkpoint = result.best_checkpoint or result.last_checkpoint
        scores, tiles = evaluate_checkpoint_tiles(checkpoint, spec.data_root, manifest=spec.manifest,
                                                  batch_size=config.batch_size, device=config.device,
                                                  num_workers=config.num_workers, progress=False,
                                                  reuse_validation=True)
        write_text_atomic(folder / TILE_COUNTS_FILE, tiles.to_csv(index=False))
        write_text_atomic(folder / SCORES_FILE, scores.to_csv(index=False))  # written last: a finished run
        if result.best_checkpoint is not None:  # finished: the resume state (weights + optimizer) is not needed
            (folder / LAST).unlink(missing_ok=True)


def read_tile_counts(folder: Path, finished_by: str = SCORES_FILE) -> pd.DataFrame:
    """A finished run's per-tile counts (:data:`TILE_COUNTS_FILE`), tile names and sub-datasets read as text.

    Args:
        folder: The run's folder.
        finished_by: The file that marks the run finished, named in the error.

    Raises:
        RunFolderError: The run is finished but has no per-tile counts (made by code that did not write them).
    """
    path = folder / TILE_COUNTS_FILE
    if not path.is_file():
        raise RunFolderError(path, f"this finished run (it has {finished_by}) has no per-tile counts; this code "
                             f"writes {TILE_COUNTS_FILE} before {finished_by}, so other code finished it or the "
                             "file was removed", f"delete the folder {folder} to train and evaluate the run again")
    return pd.read_csv(path, keep_default_na=False)


def read_run(spec: RunSpec, folder: Path) -> GridRun:
    """A finished run read back from its folder: history, scores, per-tile counts, kept checkpoint and configuration.

    Raises:
        RunMismatchError: The run's ``config.json`` does not hold ``spec``'s identity.
        RunFolderError: The run has scores but no :data:`TILE_COUNTS_FILE`.
    """
    saved = check_identity(folder, spec)
    tiles = read_tile_counts(folder)
    scores = pd.read_csv(folder / SCORES_FILE, keep_default_na=False)
    history = pd.read_csv(folder / HISTORY_FILE)
    kept = [path for path in (folder / BEST, folder / LAST) if path.is_file()]
    config = spec.config
    return GridRun(config.model, config.group, config.seed, folder, history, scores, kept[0] if kept else None, saved,
                   tiles)


def baseline_tiles_path(manifest: Path, group: str, crop_size: int | None, rule_from: str | None = None) -> Path:
    """Where the baselines' per-tile counts on the ``val`` tiles of ``group`` in ``manifest`` are kept.

    Beside the manifest, named by what decides them besides the code: the tiles scored (manifest, group), the
    central crops and, where the threshold rule was fitted on other training tiles than the manifest's own,
    ``rule_from``. For example ``split-seed0_UAV+SAT_crop128_baselines-tiles.csv``.

    Args:
        manifest: The split manifest whose ``val`` tiles were scored.
        group: The group of the tiles scored (``&`` is written ``+``).
        crop_size: The side of the central crops scored; ``None``: the full tiles (``full``).
        rule_from: What the threshold rule was fitted on, when not the manifest's ``train`` tiles of ``group``.
    """
    parts = [manifest.stem, group.replace("&", "+"), "full" if crop_size is None else f"crop{crop_size}"]
    if rule_from is not None:
        parts.append(f"rule-{rule_from}")
    return manifest.parent / f"{'_'.join(parts)}_{BASELINE_TILES_SUFFIX}"


def epoch_choice(runs: Mapping[str, GridRun]) -> pd.DataFrame:
    """Validation scores of the best epoch (chosen on the validation tiles by mIoU) beside the last epoch's.

    Choosing the epoch on the tiles it is then reported on is a second, smaller optimism than leakage: the
    best epoch's score is the largest of several noisy measurements on the same tiles.

    Args:
        runs: Label → run; the label names the row.
    """
    rows = []
    for label, run in runs.items():
        history = run.history.dropna(subset=["val_miou"])
        best, last = history.loc[history["val_miou"].idxmax()], history.iloc[-1]
        rows.append({"run": label, "best epoch": int(best["epoch"]), "last epoch": int(last["epoch"]),
                     "IoU best": best["val_iou"], "IoU last": last["val_iou"],
                     "mIoU best": best["val_miou"], "mIoU last": last["val_miou"],
                     "mIoU best − last": best["val_miou"] - last["val_miou"]})
    return pd.DataFrame(rows)
