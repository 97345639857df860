"""One training run of an experiment: trained, evaluated and read back from its own folder.

A run's folder holds ``history.csv``, its checkpoints and, written last,
``scores.csv``: a folder with scores is a finished run and is never trained again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..eval.evaluation import evaluate_checkpoint
from ..io.atomic import write_text_atomic
from ..train.checkpoints import BEST, LAST
from ..train.config import TrainConfig
from ..train.loop import HISTORY_FILE, train

__all__ = ["SCORES_FILE", "GridRun", "epoch_choice", "read_run", "train_and_evaluate"]

SCORES_FILE = "scores.csv"


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


def train_and_evaluate(config: TrainConfig, data_root: str | Path, folder: Path, manifest: Path,
                       progress: bool) -> None:
    """Train one run in ``folder`` on ``manifest``'s split and score its best checkpoint on its validation tiles."""
    result = train(config, data_root, folder, manifest=manifest, progress=progress)
    checkpoint = result.best_checkpoint or result.last_checkpoint
    scores = evaluate_checkpoint(checkpoint, data_root, manifest=manifest, batch_size=config.batch_size,
                                 device=config.device, num_workers=config.num_workers, progress=False)
    write_text_atomic(folder / SCORES_FILE, scores.to_csv(index=False))  # written last: a run with scores is finished


def read_run(model: str, group: str, seed: int, folder: Path) -> GridRun:
    """A finished run read back from its folder: history, scores and the checkpoint it kept."""
    scores = pd.read_csv(folder / SCORES_FILE, keep_default_na=False)
    history = pd.read_csv(folder / HISTORY_FILE)
    kept = [path for path in (folder / BEST, folder / LAST) if path.is_file()]
    return GridRun(model, group, seed, folder, history, scores, kept[0] if kept else None)


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
