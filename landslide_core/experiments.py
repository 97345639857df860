"""Paper Table 5 as an experiment: every model trained and validated on every sensor group, for several seeds.

Each (model, group, seed) is one training run in its own folder under
``runs_dir``, so an interrupted grid resumes where it stopped and a finished run
is not repeated: its evaluation (``scores.csv``) and ``history.csv`` are read
back. Checkpoints are large (FCN-8s: 0.5 GB of weights, twice that with its
optimizer state), so ``keep_checkpoints`` can say which runs keep theirs
(``best.pt`` only) once evaluated; the others keep their scores and history. All models of one seed share one split manifest (the paper
splits each sub-dataset 7:3 once), so they are compared on the same tiles.
Scores are the best checkpoint's (by validation mIoU) on its group's validation
tiles, per group and per sub-dataset, computed from confusion matrices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import zip_longest
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .cas import check_group
from .checkpoints import BEST, LAST
from .evaluation import SCORE_COLUMNS, evaluate_checkpoint
from .files import write_text_atomic
from .models import describe_model
from .runconfig import TrainConfig
from .stats import tile_statistics
from .tiles import TileRecord
from .training import HISTORY_FILE, train

ERROR_COLOURS = {"true positive": "#1a9850", "false positive": "#d7301f", "false negative": "#2b8cbe"}


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


SCORES_FILE = "scores.csv"
KeepRule = Callable[[str, str, int], bool]


def run_folder(runs_dir: Path, model: str, group: str, seed: int) -> Path:
    safe_model = model.replace(":", "-").replace("/", "-")
    return runs_dir / f"{safe_model}_{group.replace('&', '+')}_seed{seed}"


def run_grid(
    data_root: str | Path,
    runs_dir: str | Path,
    *,
    base: TrainConfig,
    models: Sequence[str],
    groups: Sequence[str],
    seeds: Sequence[int],
    progress: bool = True,
    echo: Callable[[str], None] = print,
    keep_checkpoints: KeepRule | None = None,
) -> list[GridRun]:
    """Train and evaluate every (model, group, seed); finished runs are read back, interrupted ones resumed.

    ``keep_checkpoints(model, group, seed)`` says whether a run keeps its best checkpoint after evaluation
    (``None``: every run keeps ``last.pt`` and ``best.pt``).
    """
    runs_dir = Path(runs_dir)
    for group in groups:
        check_group(group)
    runs = []
    for seed in seeds:
        manifest = runs_dir / f"split-seed{seed}.csv"
        for group in groups:
            for model in models:
                folder = run_folder(runs_dir, model, group, seed)
                echo(f"{model} on {group}, seed {seed}: {folder}")
                if not (folder / SCORES_FILE).is_file():
                    _train_and_evaluate(replace(base, model=model, group=group, seed=seed), data_root, folder,
                                        manifest, progress)
                    if keep_checkpoints is not None:
                        _prune(folder, keep_checkpoints(model, group, seed))
                runs.append(_read_run(model, group, seed, folder))
    return runs


def _train_and_evaluate(config: TrainConfig, data_root: str | Path, folder: Path, manifest: Path,
                        progress: bool) -> None:
    result = train(config, data_root, folder, manifest=manifest, progress=progress)
    checkpoint = result.best_checkpoint or result.last_checkpoint
    scores = evaluate_checkpoint(checkpoint, data_root, manifest=manifest, batch_size=config.batch_size,
                                 device=config.device, num_workers=config.num_workers, progress=False)
    write_text_atomic(folder / SCORES_FILE, scores.to_csv(index=False))  # written last: a run with scores is finished


def _prune(folder: Path, keep_best: bool) -> None:
    """Drop the resume state of a finished, evaluated run, and its best weights unless they are to be kept."""
    if (folder / BEST).is_file():
        (folder / LAST).unlink(missing_ok=True)
    if not keep_best:
        (folder / BEST).unlink(missing_ok=True)
        (folder / LAST).unlink(missing_ok=True)


def _read_run(model: str, group: str, seed: int, folder: Path) -> GridRun:
    scores = pd.read_csv(folder / SCORES_FILE, keep_default_na=False)
    history = pd.read_csv(folder / HISTORY_FILE)
    kept = [path for path in (folder / BEST, folder / LAST) if path.is_file()]
    return GridRun(model, group, seed, folder, history, scores, kept[0] if kept else None)


def paper_name(model: str) -> str:
    return describe_model(model).paper_name


def scores_frame(runs: Sequence[GridRun]) -> pd.DataFrame:
    """Every evaluation row of every run, labelled with the paper's model name, training group and seed."""
    frames = [run.scores.assign(model=paper_name(run.model), trained_on=run.group, seed=run.seed) for run in runs]
    return pd.concat(frames, ignore_index=True)


def histories_frame(runs: Sequence[GridRun]) -> pd.DataFrame:
    """Training histories of all runs (one row per epoch)."""
    frames = [run.history.assign(model=paper_name(run.model), group=run.group, seed=run.seed) for run in runs]
    return pd.concat(frames, ignore_index=True)


def _own_group_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """Rows scoring a model on the group it was trained on, as paper Table 5 does."""
    return scores[(scores["group"] == scores["trained_on"]) & (scores["subdataset"] == "")]


def table5(scores: pd.DataFrame, statistic: str = "mean") -> pd.DataFrame:
    """Table 5 rows (model, group) with the six scores in percent, the mean (or std) over seeds."""
    rows = _own_group_rows(scores)
    grouped = rows.groupby(["model", "group"], sort=False)[list(SCORE_COLUMNS)]
    table = grouped.mean() if statistic == "mean" else grouped.std(ddof=1)
    return table.reset_index()


def mean_std_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Table 5 as "mean ± std" over seeds (std over seeds, ddof 1), for runs with more than one seed."""
    mean = table5(scores).set_index(["model", "group"])
    std = table5(scores, "std").set_index(["model", "group"])
    seeds = _own_group_rows(scores).groupby(["model", "group"], sort=False)["seed"].nunique()
    text = mean.map(lambda v: f"{v:.2f}") + " ± " + std.map(lambda v: f"{v:.2f}")
    return text.assign(seeds=seeds).rename_axis(["Model", "Group"])


def subdataset_breakdown(scores: pd.DataFrame, metric: str = "iou") -> pd.DataFrame:
    """One score per sub-dataset (rows) and model trained on its own group (columns), mean over seeds."""
    rows = scores[(scores["group"] == scores["trained_on"]) | (scores["trained_on"] == "UAV&SAT")]
    rows = rows[rows["subdataset"] != ""]
    table = rows.pivot_table(index=["trained_on", "group", "subdataset"], columns="model", values=metric,
                             aggfunc="mean", sort=False)
    tiles = rows.groupby(["trained_on", "group", "subdataset"], sort=False)["tiles"].first()
    table.insert(0, "val tiles", tiles)
    return table.rename_axis(index=["Trained on", "Group", "Sub-dataset"], columns=None)


def training_curves(histories: pd.DataFrame) -> Figure:
    """Training loss and validation mIoU per epoch, one panel per group, one line per model (seed means)."""
    groups = list(dict.fromkeys(histories["group"]))
    models = list(dict.fromkeys(histories["model"]))
    figure = plt.figure(figsize=(3.2 * len(groups), 5.4), layout="constrained")
    axes = figure.subplots(2, len(groups), squeeze=False, sharex=True)
    colours = dict(zip(models, ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"], strict=False))
    mean = histories.groupby(["group", "model", "epoch"], sort=False)[["train_loss", "val_miou"]].mean().reset_index()
    for column, group in enumerate(groups):
        for model in models:
            line = mean[(mean["group"] == group) & (mean["model"] == model)]
            axes[0, column].plot(line["epoch"], line["train_loss"], marker="o", color=colours[model], label=model)
            validated = line.dropna(subset=["val_miou"])
            axes[1, column].plot(validated["epoch"], validated["val_miou"], marker="o", color=colours[model])
        axes[0, column].set_title(group)
        axes[1, column].set_xlabel("epoch")
        axes[1, column].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].set_ylabel("training Dice loss")
    axes[1, 0].set_ylabel("validation mIoU (%)")
    figure.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=len(models))
    return figure


def example_tiles(records: Sequence[TileRecord], count: int = 3) -> list[TileRecord]:
    """Validation tiles for the example figure: the tile with most landslide pixels in ``count`` sub-datasets.

    UAV and SAT sub-datasets alternate, so both sensor groups appear when both are present.
    """
    stats = tile_statistics(records, progress=False)
    best = stats.sort_values("landslide_pixels", ascending=False, kind="stable").drop_duplicates("subdataset")
    by_group = [list(best.index[best["group"] == group]) for group in ("UAV", "SAT")]
    order = [i for pair in zip_longest(*by_group) for i in pair if i is not None]
    return [records[i] for i in order[:count]]


def error_map(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """0 = true negative, 1 = true positive, 2 = false positive, 3 = false negative."""
    truth, prediction = truth.astype(bool), prediction.astype(bool)
    return np.select([truth & prediction, ~truth & prediction, truth & ~prediction], [1, 2, 3], 0).astype(np.uint8)


def prediction_examples(runs: Sequence[GridRun], tiles: Sequence[TileRecord], *, device: str = "cpu",
                        crop_size: int | None = None) -> Figure:
    """Image, truth and each run's errors on the same validation tiles (rows: tiles; columns: models).

    ``crop_size`` shows the central crop the runs were validated on (quick CPU runs) instead of the full tile.

    Error colours: true positive green,
    false positive red, false negative blue; true negatives show the image.
    """
    import torch

    from .checkpoints import CheckpointError, load_checkpoint, trained_model
    from .datasets import CASTileDataset

    dataset = CASTileDataset(tiles, crop_size=crop_size, centre_crop=True)
    shown = CASTileDataset(tiles, crop_size=crop_size, centre_crop=True, mean=None, std=None)  # [0, 1] RGB
    images = torch.stack([dataset[i]["image"] for i in range(len(tiles))])
    predictions = []
    for run in runs:
        if run.checkpoint is None:
            raise CheckpointError(run.folder / BEST, "this run did not keep its checkpoint",
                                  "keep the checkpoints of the runs whose predictions are shown (keep_checkpoints)")
        model, _ = trained_model(load_checkpoint(run.checkpoint))
        with torch.inference_mode():
            predictions.append((model.to(device)(images.to(device))[:, 0] > 0).cpu().numpy())
    figure = plt.figure(figsize=(2.0 * (2 + len(runs)), 2.1 * len(tiles)), layout="constrained")
    axes = figure.subplots(len(tiles), 2 + len(runs), squeeze=False)
    colours = ListedColormap(["#00000000", *ERROR_COLOURS.values()])
    for row, tile in enumerate(tiles):
        item = shown[row]
        rgb, truth = item["image"].permute(1, 2, 0).numpy(), item["mask"].numpy()
        axes[row, 0].imshow(rgb)
        axes[row, 1].imshow(truth, cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_ylabel(f"{tile.subdataset}\n{tile.name}", fontsize=7)
        for column, (run, predicted) in enumerate(zip(runs, predictions, strict=True), start=2):
            axes[row, column].imshow(rgb)
            axes[row, column].imshow(error_map(truth, predicted[row]), cmap=colours, vmin=0, vmax=3,
                                     interpolation="nearest")
    for column, title in enumerate(["image", "truth (white = landslide)", *(paper_name(r.model) for r in runs)]):
        axes[0, column].set_title(title, fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.legend(handles=[Patch(color=c, label=k) for k, c in ERROR_COLOURS.items()], loc="outside lower center",
                  ncols=3, fontsize=8)
    return figure
