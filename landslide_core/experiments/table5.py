"""Paper Table 5 as an experiment: every model trained and validated on every sensor group, for several seeds.

Each (model, group, seed) is one training run in its own folder under
``runs_dir``, named by everything that decides its result (:class:`~.runs.RunSpec`),
so a changed setting trains anew, an interrupted grid resumes where it stopped and a finished run
is not repeated: its evaluation (``scores.csv``) and ``history.csv`` are read
back. Checkpoints are large (FCN-8s: 0.5 GB of weights, twice that with its
optimizer state), so ``keep_checkpoints`` can say which runs keep theirs
(``best.pt`` only) once evaluated; the others keep their scores and history. All
models of one seed share one split manifest (the paper: “randomly split each
subdataset into training and validation sets at a 7:3 ratio”; splitting each once,
for every model and group, is ours), so they are compared on the same tiles.
Scores are the best checkpoint's (by validation mIoU) on its group's validation
tiles, per group and per sub-dataset, computed from confusion matrices.

For intervals, every score keeps its counts per validation tile: the runs' (``tile_counts.csv``) and the baselines'
(beside each seed's manifest), gathered by :func:`tile_counts_frame`; :func:`grid_blocks` gives the leakage groups a
bootstrap resamples them by, and :func:`subdataset_intervals` the per-sub-dataset table with intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..building.leakage_groups import merge_groups
from ..data.splits import load_or_make_split, split_records
from ..errors import BaselineError
from ..eval.baselines import ALL_BACKGROUND, baseline_scores
from ..io.atomic import write_text_atomic
from ..models import describe_model
from ..scoring.confusion import COUNT_COLUMNS, SCORE_COLUMNS
from ..scoring.intervals import BootstrapSettings, Judged, format_interval, judge
from ..train.checkpoints import BEST, LAST
from ..train.config import TrainConfig
from .blocks import blocks_path, leakage_blocks
from .runs import SCORES_FILE, GridRun, RunSpec, baseline_tiles_path, read_run, train_and_evaluate

__all__ = [
    "COUNT_FRAME_COLUMNS", "SCORES_FILE", "GridRun", "KeepRule", "baseline_frame", "baseline_tile_counts",
    "grid_blocks", "histories_frame", "judge_subdatasets", "mean_std_table", "paper_name",
    "prune_checkpoints", "run_grid", "run_stem", "scores_frame", "subdataset_breakdown", "subdataset_intervals",
    "subdataset_views", "table5", "tile_counts_frame",
]

COUNT_FRAME_COLUMNS = ("model", "group", "seed", "tile", "subdataset", *COUNT_COLUMNS)
"""Columns of :func:`tile_counts_frame`: ``group`` is the group the model (or baseline) was trained and scored on."""


KeepRule = Callable[[str, str, int], bool]


def run_stem(model: str, group: str, seed: int) -> str:
    """The readable part of one (model, group, seed) run's folder name (:meth:`~.runs.RunSpec.folder` adds the digest).

    ``:`` and ``/`` in the model name become ``-`` and ``&`` in the group becomes ``+``.
    """
    safe_model = model.replace(":", "-").replace("/", "-")
    return f"{safe_model}_{group.replace('&', '+')}_seed{seed}"


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
    """Train and evaluate every (model, group, seed) on a random 7:3 split per seed; finished runs are read back.

    Interrupted runs resume. ``keep_checkpoints(model, group, seed)`` says whether a run keeps its best checkpoint
    after evaluation (``None``: every run keeps ``last.pt`` and ``best.pt``).
    """
    runs_dir = Path(runs_dir)
    for group in groups:
        base.tile_source().check_group(group)
    runs = []
    for seed in seeds:
        manifest = runs_dir / f"split-seed{seed}.csv"
        load_or_make_split(data_root, manifest, seed=seed, val_fraction=base.val_fraction, source=base.tile_source())
        for group in groups:
            for model in models:
                spec = RunSpec(replace(base, model=model, group=group, seed=seed), Path(data_root), manifest, "random")
                folder = spec.folder(runs_dir, run_stem(model, group, seed))
                echo(f"{model} on {group}, seed {seed}: {folder}")
                if not (folder / SCORES_FILE).is_file():
                    train_and_evaluate(spec, folder, progress)
                    if keep_checkpoints is not None:
                        prune_checkpoints(folder, keep_checkpoints(model, group, seed))
                runs.append(read_run(spec, folder))
    return runs


def prune_checkpoints(folder: Path, keep_best: bool) -> None:
    """Drop a finished, evaluated run's checkpoints unless its best weights are to be kept.

    (:func:`~.runs.train_and_evaluate` has already dropped ``last.pt`` where ``best.pt`` exists.)
    """
    if not keep_best:
        (folder / BEST).unlink(missing_ok=True)
        (folder / LAST).unlink(missing_ok=True)


def paper_name(model: str) -> str:
    """The name tables label a model with: its registry entry's ``paper_name`` (e.g. ``fcn`` gives ``FCN``)."""
    return describe_model(model).paper_name


def scores_frame(runs: Sequence[GridRun]) -> pd.DataFrame:
    """Every evaluation row of every run, labelled with the model's name in paper Table 5, training group and seed."""
    frames = [run.scores.assign(model=paper_name(run.model), trained_on=run.group, seed=run.seed) for run in runs]
    return pd.concat(frames, ignore_index=True)


def baseline_frame(data_root: str | Path, runs_dir: str | Path, *, base: TrainConfig, groups: Sequence[str],
                   seeds: Sequence[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The baselines' rows, labelled as :func:`scores_frame`'s, and the threshold rule fitted per group and seed.

    Each group's rule is fitted on the training tiles of the seed's split manifest (the one the models trained
    on) and every baseline is scored on the same validation tiles and central crops as the models. Their counts
    per tile are written beside the manifest (:func:`~.runs.baseline_tiles_path`), to pair with the runs'.
    """
    frames, rules = [], []
    source = base.tile_source()
    for seed in seeds:
        manifest = Path(runs_dir) / f"split-seed{seed}.csv"
        for group in groups:
            sides = [split_records(data_root, manifest, seed=seed, val_fraction=base.val_fraction, group=group,
                                   split=side, source=source) for side in ("train", "val")]
            scores, tiles, rule = baseline_scores(*sides, source=source, crop_size=base.val_crop_size, device="cpu")
            write_text_atomic(baseline_tiles_path(manifest, group, base.val_crop_size), tiles.to_csv(index=False))
            frames.append(scores.assign(trained_on=group, seed=seed))
            rules.append({"group": group, "seed": seed, "feature": rule.feature, "threshold": rule.threshold,
                          "landslide if": "at or above" if rule.above else "below",
                          "training IoU (%)": rule.training_iou, "training tiles": len(sides[0])})
    return pd.concat(frames, ignore_index=True), pd.DataFrame(rules)


def _manifest(runs_dir: str | Path, seed: int) -> Path:
    return Path(runs_dir) / f"split-seed{seed}.csv"


def baseline_tile_counts(runs_dir: str | Path, *, base: TrainConfig, groups: Sequence[str],
                         seeds: Sequence[int]) -> pd.DataFrame:
    """The baselines' counts per validation tile that :func:`baseline_frame` wrote, for every group and seed.

    Rows of :data:`COUNT_FRAME_COLUMNS`; ``group`` is the group scored (the tile's own sensor group is dropped).

    Raises:
        BaselineError: A group and seed has no such file (call :func:`baseline_frame` with the same settings first).
    """
    frames = []
    for seed in seeds:
        for group in groups:
            path = baseline_tiles_path(_manifest(runs_dir, seed), group, base.val_crop_size)
            if not path.is_file():
                raise BaselineError(f"no baseline counts per tile for {group}, seed {seed} at {path}: call "
                                    "baseline_frame with the same runs folder, groups, seeds and val_crop_size first")
            frames.append(pd.read_csv(path, keep_default_na=False).assign(group=group, seed=seed))
    return pd.concat(frames, ignore_index=True)[list(COUNT_FRAME_COLUMNS)]


def tile_counts_frame(runs: Sequence[GridRun], runs_dir: str | Path, *, base: TrainConfig, groups: Sequence[str],
                      seeds: Sequence[int]) -> pd.DataFrame:
    """Every run's and baseline's counts per validation tile, as :func:`landslide_core.scoring.intervals.judge` takes.

    Runs are labelled as in :func:`scores_frame` (``model`` = :func:`paper_name`), with the group they trained on
    and their seed; the baselines' rows come from :func:`baseline_tile_counts`. Rows of :data:`COUNT_FRAME_COLUMNS`.

    Raises:
        BaselineError: The baselines of a group and seed were not scored.
    """
    frames = [run.tile_counts.assign(model=paper_name(run.model), group=run.group, seed=run.seed)
              for run in runs if run.group in groups and run.seed in seeds]
    frames.append(baseline_tile_counts(runs_dir, base=base, groups=groups, seeds=seeds))
    return pd.concat([frame[list(COUNT_FRAME_COLUMNS)] for frame in frames], ignore_index=True)


def grid_blocks(data_root: str | Path, runs_dir: str | Path, *, base: TrainConfig, groups: Sequence[str],
                seeds: Sequence[int]) -> dict[str, str]:
    """Tile uid → block: the leakage groups of every seed's validation tiles of every group, joined.

    Each seed's validation tiles are audited per group, or once where one group's hold all the others' (UAV&SAT),
    and the labels cached beside the seed's manifest (:func:`~.blocks.blocks_path`). Several seeds' splits put
    different tiles in validation; a tile's block is the union of the groups it falls in under any of them, so tiles
    that share pixels are resampled together in every cell, whichever seed scored them.
    """
    source = base.tile_source()
    labellings = []
    for seed in seeds:
        manifest = _manifest(runs_dir, seed)
        sides = {group: split_records(data_root, manifest, seed=seed, val_fraction=base.val_fraction, group=group,
                                      split="val", source=source) for group in groups}
        uids = {group: {record.uid for record in records} for group, records in sides.items()}
        every = set().union(*uids.values())
        covering = next((group for group in groups if uids[group] == every), None)
        for group in groups if covering is None else [covering]:
            labellings.append(leakage_blocks(sides[group], source=source, cache=blocks_path(manifest, group)))
    return merge_groups(*labellings)


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


def subdataset_views(breakdown: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """:func:`subdataset_breakdown` as one narrow table per training group, to fit a laptop's page.

    Each holds only the models trained on that group, without the tile counts and all background (whose IoU is 0
    by construction).
    """
    views = {}
    for trained_on, rows in breakdown.groupby(level="Trained on", sort=False):
        view = rows.droplevel([n for n in rows.index.names if n != "Sub-dataset"])
        views[trained_on] = view.drop(columns=["val tiles", ALL_BACKGROUND], errors="ignore").dropna(axis=1, how="all")
    return views


def subdataset_breakdown(scores: pd.DataFrame, metric: str = "iou") -> pd.DataFrame:
    """One score per sub-dataset (rows) and model trained on its own group (columns), mean over seeds."""
    rows = scores[(scores["group"] == scores["trained_on"]) | (scores["trained_on"] == "UAV&SAT")]
    rows = rows[rows["subdataset"] != ""]
    table = rows.pivot_table(index=["trained_on", "group", "subdataset"], columns="model", values=metric,
                             aggfunc="mean", sort=False)
    tiles = rows.groupby(["trained_on", "group", "subdataset"], sort=False)["tiles"].first()
    table.insert(0, "val tiles", tiles)
    return table.rename_axis(index=["Trained on", "Group", "Sub-dataset"], columns=None)


def judge_subdatasets(counts: pd.DataFrame, breakdown: pd.DataFrame, *, blocks: Mapping[str, str] | None,
                      settings: BootstrapSettings, metric: str = "iou") -> Judged:
    """``metric`` with its interval in every cell (group trained on, sub-dataset) of ``breakdown``.

    Only what :func:`subdataset_views` shows is resampled: the breakdown's rows and its models and baselines, less
    all background (IoU 0 by construction); no differences are drawn.

    Args:
        counts: :func:`tile_counts_frame` of the grid.
        breakdown: :func:`subdataset_breakdown` of the same runs.
        blocks: Tile → block (:func:`grid_blocks`).
        settings: Resamples, seed and coverage.
        metric: The breakdown's metric.
    """
    cells = set(zip(breakdown.index.get_level_values("Trained on"), breakdown.index.get_level_values("Sub-dataset"),
                    strict=True))
    shown = [c for c in breakdown.columns if c not in ("val tiles", ALL_BACKGROUND)]
    shown_cells = pd.MultiIndex.from_frame(counts[["group", "subdataset"]]).isin(list(cells))
    rows = counts[shown_cells & counts["model"].isin(shown).to_numpy()]
    return judge(rows, within=["group", "subdataset"], blocks=blocks,
                 settings=replace(settings, metrics=(metric,)), pairs=[])


def subdataset_intervals(judged: Judged, breakdown: pd.DataFrame, metric: str = "iou") -> pd.DataFrame:
    """``breakdown`` with every resampled cell as text ``value [low, high]`` (:func:`judge_subdatasets`).

    Same index and ``val tiles``; a model not resampled in a row (not trained on its group) is NaN, all background
    is left out, so :func:`subdataset_views` gives the same narrow tables.
    """
    estimates = judged.estimates[judged.estimates["metric"] == metric]
    text = pd.Series([format_interval(v, lo, hi) for v, lo, hi in estimates[["value", "low", "high"]].to_numpy()],
                     index=pd.MultiIndex.from_frame(estimates[["group", "subdataset", "configuration"]]), dtype=object)
    table = breakdown[["val tiles"]].copy()
    keys = list(zip(breakdown.index.get_level_values("Trained on"), breakdown.index.get_level_values("Sub-dataset"),
                    strict=True))
    for model in breakdown.columns.drop(["val tiles", ALL_BACKGROUND], errors="ignore"):
        table[model] = [text.get((group, sub, model), float("nan")) for group, sub in keys]
    return table
