"""What the sub-dataset benchmarks page (paper Table 5) computes beyond the grid itself.

The page's parameters become one :class:`GridSettings`; from it come the
training configuration, the runs folder, which checkpoints to keep, the
sentence that says how the models were trained, the summary under the tables
(every clause derived from the run's parameters and scores), and the figures:
training curves and example predictions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from itertools import zip_longest
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ..book.compare import metric_tables_html
from ..book.fingerprint import package_digest
from ..book.runner import shown_path
from ..building.leakage_split import grouped_split, save_grouped_split
from ..data.splits import load_or_make_split, split_records
from ..data.statistics import tile_statistics
from ..data.torch_dataset import TileDataset
from ..errors import CheckpointError, ConfigError, GridError
from ..eval.baselines import ALL_LANDSLIDE, baseline_judgements, is_baseline, no_result, rule
from ..eval.paper import consistency
from ..experiments.grid import Cell, grid_cells, run_cell
from ..experiments.runs import SCORES_FILE, epoch_choice, read_run
from ..experiments.table5 import GridRun, KeepRule, paper_name
from ..paper import quote, says
from ..scoring.intervals import (
    BootstrapSettings,
    Judged,
    compare,
    difference_text,
    distinguishable,
    format_interval,
)
from ..sources import Normalisation, TileSource, get_source
from ..tiles import TileRecord
from ..train.checkpoints import BEST, load_checkpoint, trained_model
from ..train.config import TrainConfig
from .training_text import describe_training

__all__ = [
    "ERROR_COLOURS", "GridSettings", "SPLIT_KINDS", "baseline_table", "baseline_verdicts", "benchmark_cells",
    "checkpoints_note", "comparison_html", "consistency_summary", "epoch_table", "error_examples", "error_map",
    "example_tiles", "exceptions_note", "grid_configs", "grid_runs_dir", "interval_note", "missing_note",
    "model_comparisons", "model_differences", "no_checkpoints_note", "not_learned", "prediction_examples",
    "prepare_splits", "run_benchmarks", "runs_directory", "shown_validation_tiles", "split_baselines", "step_times",
    "summary", "training_curves",
]

SPLIT_KINDS = ("random", "grouped")
ERROR_COLOURS = {"true positive": "#1a9850", "false positive": "#d7301f", "false negative": "#2b8cbe"}
ROUNDING = 0.01
"""Points a published score may be off the value its own P, R and OA imply by rounding alone."""


_EXCEPTIONS = ("groups", "epochs", "lr", "crop_size", "model_options")
"""The settings ``per_model`` may give a model."""


def _frozen(key: str, value: Any) -> Any:
    """A ``per_model`` setting in hashable form: groups as a tuple, model options as sorted (name, value) pairs."""
    if key == "model_options":
        return tuple(sorted(dict(value).items()))
    return tuple(value) if key == "groups" else value


@dataclass(frozen=True)
class GridSettings:
    """The benchmarks page's parameters that decide what is trained and how."""

    models: tuple[str, ...]
    groups: tuple[str, ...]
    epochs: int
    batch_size: int
    crop_size: int | None
    val_crop_size: int | None
    seeds: tuple[int, ...]
    pretrained: bool | str
    device: str
    num_workers: int
    keep_checkpoints: bool
    split: str = "random"
    """``random``: each sub-dataset split 7:3 at random (the paper: “randomly split each subdataset into training
    and validation sets at a 7:3 ratio”); ``grouped`` (ours): no validation tile shares pixels the leakage audit finds
    with a training tile (:func:`landslide_core.building.leakage_split.grouped_split`)."""
    lr: float = 0.01
    """SGD's initial learning rate (the paper: “employing the SGD optimizer with a learning rate of 0.01”), decayed
    to zero by the poly schedule (ours)."""
    val_every: int = 1
    """Validate (and write the resume checkpoint) every this many epochs, and after the last; the best epoch is
    chosen among these."""
    per_model: Any = ()
    """Per-model exceptions, model → ``{"groups": [...], "epochs": n, "lr": x, "crop_size": px, "model_options":
    {...}}``: e.g. the costliest models trained on one group for fewer epochs, to fit a CPU budget, or FCN-8s built
    on VGG16 with batch normalisation (``model_options: {batch_norm: true}``)."""
    steps_per_epoch: int | None = None
    """Stop each epoch after this many optimisation steps; ``None``: every batch. The ``rehearsal`` profile's 1 runs
    every other stage of the page in full (:attr:`~landslide_core.train.config.TrainConfig.steps_per_epoch`)."""

    def __post_init__(self) -> None:
        """Store lists from a notebook's parameters as tuples, so settings compare and hash; check them.

        Raises:
            ConfigError: ``split`` is neither ``random`` nor ``grouped``, or ``per_model`` names a model not in
                ``models``, a group not in ``groups``, or a setting other than ``groups``, ``epochs``, ``lr``,
                ``crop_size`` and ``model_options``.
        """
        for name in ("models", "groups", "seeds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.split not in SPLIT_KINDS:
            raise ConfigError(f"split must be one of {', '.join(SPLIT_KINDS)}, not {self.split!r}")
        exceptions = {m: dict(v) for m, v in dict(self.per_model or {}).items()}
        unknown = [m for m in exceptions if m not in self.models]
        outside = sorted({g for v in exceptions.values() for g in v.get("groups", ())} - set(self.groups))
        keys = sorted({k for v in exceptions.values() for k in v} - set(_EXCEPTIONS))
        if unknown or outside or keys:
            raise ConfigError(f"per_model names model(s) {unknown} not in models {list(self.models)}, group(s) "
                              f"{outside} not in groups {list(self.groups)} or setting(s) {keys}; it takes models of "
                              "`models` with `groups` (a subset of `groups`), `epochs`, `lr`, `crop_size` and "
                              "`model_options`")
        frozen = tuple((m, tuple((k, _frozen(k, v)) for k, v in sorted(exceptions[m].items())))
                       for m in self.models if m in exceptions)
        object.__setattr__(self, "per_model", frozen)

    @classmethod
    def from_parameters(cls, values: Mapping[str, Any]) -> GridSettings:
        """The settings among a page's parameters (other parameters, such as ``data_root``, are ignored)."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})

    def _exception(self, model: str) -> dict[str, Any]:
        return dict(dict(self.per_model).get(model, ()))

    def groups_of(self, model: str) -> tuple[str, ...]:
        """The groups ``model`` is trained on, in :attr:`groups`' order."""
        chosen = self._exception(model).get("groups", self.groups)
        return tuple(g for g in self.groups if g in chosen)

    def epochs_of(self, model: str) -> int:
        """The epochs ``model`` is trained for."""
        return int(self._exception(model).get("epochs", self.epochs))

    def lr_of(self, model: str) -> float:
        """The initial learning rate ``model`` is trained with."""
        return float(self._exception(model).get("lr", self.lr))

    def crop_of(self, model: str) -> int | None:
        """The training crop size of ``model``."""
        return self._exception(model).get("crop_size", self.crop_size)

    def train_config_of(self, model: str) -> TrainConfig:
        """:meth:`train_config` with ``model``'s own epochs, learning rate, training crop and model options."""
        return replace(self.train_config(), epochs=self.epochs_of(model), lr=self.lr_of(model),
                       crop_size=self.crop_of(model), model_options=dict(self._exception(model).get("model_options", ())))

    def as_parameters(self) -> dict[str, Any]:
        """The settings as the notebook's parameters (lists and dicts), for provenance."""
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        values["per_model"] = {m: {k: dict(v) if k == "model_options" else list(v) if isinstance(v, tuple) else v
                                   for k, v in pairs} for m, pairs in self.per_model}
        return values

    def train_config(self) -> TrainConfig:
        """The training configuration every run of the grid starts from (model, group and seed vary)."""
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, crop_size=self.crop_size,
                           val_crop_size=self.val_crop_size, pretrained=self.pretrained, device=self.device,
                           num_workers=self.num_workers, lr=self.lr, val_every=self.val_every,
                           checkpoint_every=self.val_every, steps_per_epoch=self.steps_per_epoch)

    @property
    def shown_group(self) -> str:
        """The group whose runs the example predictions show: the one most models trained on, ``UAV&SAT`` first."""
        order = sorted(self.groups, key=lambda g: g != "UAV&SAT")
        return max(order, key=lambda g: sum(g in self.groups_of(m) for m in self.models))

    def keep_rule(self) -> KeepRule | None:
        """Keep every checkpoint, or only those of the first seed's runs on :attr:`shown_group`."""
        if self.keep_checkpoints:
            return None
        shown = (self.shown_group, self.seeds[0])
        return lambda model, group, seed: (group, seed) == shown


def runs_directory(results_dir: Path, runs_dir: str | Path | None) -> Path:
    """Where a page's runs go: ``runs_dir`` as given, else ``results_dir/runs/<code version>``.

    Keyed by the package's digest, so a code version's runs, split manifests and stand-ins stay together (and
    travel together in a results archive); each run's folder is also named by its full identity
    (:class:`landslide_core.experiments.runs.RunSpec`).
    """
    return Path(runs_dir) if runs_dir else results_dir / "runs" / package_digest()[:12]


def grid_runs_dir(results_dir: Path, runs_dir: str | Path | None, split: str) -> Path:
    """The folder the page's grid trains in and reads back from: :func:`runs_directory` ``/<split>-split``."""
    return runs_directory(results_dir, runs_dir) / f"{split}-split"


def grid_configs(settings: GridSettings) -> list[TrainConfig]:
    """One training configuration per (model, group, seed) of the grid, in the tables' order: seed, group, model."""
    return [replace(settings.train_config_of(model), model=model, group=group, seed=seed)
            for seed in settings.seeds for group in settings.groups for model in settings.models
            if group in settings.groups_of(model)]


def benchmark_cells(runs_dir: Path, settings: GridSettings, data_root: Path) -> list[Cell]:
    """The grid's cells (:func:`grid_configs`), keeping the checkpoints :meth:`GridSettings.keep_rule` says.

    The split manifests must exist (:func:`prepare_splits`): each cell's folder is named by its manifest's checksum.
    """
    return grid_cells(runs_dir, grid_configs(settings), data_root, split=settings.split, keep=settings.keep_rule())


def prepare_splits(data_root: Path, runs_dir: Path, settings: GridSettings) -> None:
    """Write each seed's split manifest before any cell trains, so that jobs running at once only read it.

    With ``split="grouped"`` it is a grouped split of every tile; otherwise the random 7:3 split per sub-dataset
    (written once, read back when it exists).
    """
    val_fraction = settings.train_config().val_fraction
    for seed in settings.seeds:
        manifest = runs_dir / f"split-seed{seed}.csv"
        if settings.split == "grouped":
            if not manifest.is_file():
                records = get_source("cas").list_tiles(data_root)
                grouped, _ = grouped_split(records, val_fraction=val_fraction, seed=seed, progress=False)
                save_grouped_split(grouped, manifest, root=data_root, seed=seed, val_fraction=val_fraction)
        else:
            load_or_make_split(data_root, manifest, seed=seed, val_fraction=val_fraction)


def run_benchmarks(data_root: Path, runs_dir: Path, settings: GridSettings, *,
                   train: bool = True) -> tuple[list[GridRun], list[Cell]]:
    """The page's grid: the finished runs, and the cells that have not finished.

    With ``train`` every cell that has not finished is trained here, quietly (finished ones are read back,
    interrupted ones resume); without it the finished cells are only collected, e.g. after
    ``landslide-core grid --submit`` ran them as jobs.

    Raises:
        GridError: No cell has finished (only possible without ``train``): the page would have nothing to show.
        RunMismatchError: A finished run's ``config.json`` is not the configuration its folder name stands for.
    """
    prepare_splits(data_root, runs_dir, settings)
    runs, missing = [], []
    for cell in benchmark_cells(runs_dir, settings, data_root):
        if train:
            run_cell(cell, progress=False)
        if (cell.folder / SCORES_FILE).is_file():
            runs.append(read_run(cell.spec, cell.folder))
        else:
            missing.append(cell)
    if not runs:
        raise GridError(f"no run of the grid under {shown_path(runs_dir)} has finished, so this page has nothing to show: list "
                        "the cells with `landslide-core grid` (with this build's --profile and -p options) and run "
                        "them with --submit, or build the page with -p train true")
    return runs, missing


def missing_note(missing: Sequence[Cell], total: int, *, profile: str, data_root: Path | None) -> str:
    """Which cells of the grid have not finished, and the command that runs them, in Markdown; empty if none.

    ``data_root`` goes into the command; ``None`` (the demo data) leaves it out.
    """
    if not missing:
        return ""
    root = f" -p data_root {data_root}" if data_root is not None else ""
    cells = ", ".join(f"{c.index} ({paper_name(c.config.model)}, {c.config.group}, seed {c.config.seed})"
                      for c in missing)
    return (f"**{len(missing)} of {total} runs of the grid have not finished**, so the tables below leave them out: "
            f"cells {cells}. This page only collects finished runs (parameter `train` is false). Run the missing "
            f"ones as Slurm jobs with `landslide-core grid --profile {profile}{root} --submit` (add `--executor "
            "local` to run them on this machine, or run one with `--cell N`), then build this page again.")


def shown_validation_tiles(data_root: Path, runs_dir: Path, settings: GridSettings, count: int = 3) -> list[TileRecord]:
    """The validation tiles of :attr:`GridSettings.shown_group` that the example figure shows (first seed's split)."""
    seed = settings.seeds[0]
    validation = split_records(data_root, runs_dir / f"split-seed{seed}.csv", seed=seed,
                               val_fraction=settings.train_config().val_fraction, group=settings.shown_group,
                               split="val")
    return example_tiles(validation, count)


def epoch_table(runs: Sequence[GridRun]) -> pd.DataFrame:
    """Best against last epoch for every run of the grid (:func:`landslide_core.experiments.runs.epoch_choice`)."""
    labelled = {f"{paper_name(r.model)}, {r.group}, seed {r.seed}": r for r in runs}
    return epoch_choice(labelled).set_index("run")


def consistency_summary(table: pd.DataFrame | None = None) -> str:
    """Which rows of paper Table 5 fit one confusion matrix to rounding, and how far the others are off.

    Args:
        table: :func:`landslide_core.eval.paper.consistency` of Table 5 (computed when ``None``).
    """
    table = consistency(5) if table is None else table
    deviation = table["largest |deviation|"]
    label = table["model"] + " " + table["group"]
    fits = label[deviation < ROUNDING].tolist()
    off = table[deviation >= ROUNDING].sort_values("largest |deviation|", ascending=False)
    text = (f"{len(fits)} of {len(table)} rows fit one confusion matrix to rounding (largest deviation < "
            f"{ROUNDING} points): {', '.join(fits) if fits else 'none'}.")
    if len(off):
        worst = off.iloc[0]
        text += (f" The other {len(off)} deviate by {off['largest |deviation|'].min():.3f} to "
                 f"{worst['largest |deviation|']:.3f} points (most: {worst['model']} {worst['group']}), so they were "
                 "not all computed from one confusion matrix. Eqs. 1–6 are written in pixel counts and do not say "
                 "whether the counts were pooled over all validation pixels; pooling them, as this book does, is "
                 "our reading.")
    return text


def _names(models: Sequence[str]) -> str:
    return ", ".join(models) if models else "none"


def _key(judged: Judged) -> str:
    """The one key ``judged`` was drawn within (a group, a dataset).

    Raises:
        ConfigError: It was drawn within none or several.
    """
    if len(judged.within) != 1:
        raise ConfigError(f"these intervals were drawn within {list(judged.within)}; judge the table within one key, "
                          "e.g. within=['group']")
    return judged.within[0]


def _points(judged: Judged) -> dict[str, pd.DataFrame]:
    """Per value of the key: every configuration's point values (rows, in order of appearance) by metric."""
    key = _key(judged)
    return {value: cell.pivot(index="configuration", columns="metric", values="value")
            .reindex(pd.unique(cell["configuration"]))
            for value, cell in judged.estimates.groupby(key, sort=False)}


def baseline_verdicts(judged: Judged) -> list[str]:
    """The rule, then per value of the key (group, dataset): the baselines' scores and which models beat each.

    In Markdown. ``judged`` holds models and baselines (:data:`landslide_core.eval.baselines.BASELINES`) judged
    within one key (:func:`~landslide_core.scoring.intervals.judge` with e.g. ``within=["group"]``). The first line
    states :func:`~landslide_core.eval.baselines.rule`; which models beat a baseline is
    :func:`~landslide_core.eval.baselines.baseline_judgements` (both paired intervals above 0). The highest landslide
    IoU is also given as a multiple of all landslide's (the landslide share of the pixels).

    Raises:
        ConfigError: ``judged`` was drawn within no key or several.
    """
    key = _key(judged)
    verdicts = baseline_judgements(judged)
    lines = [f"Against the baselines, {rule(judged.settings.level)}.\n"]
    for value, cell in _points(judged).items():
        names = cell.index.to_series()
        models, baselines = cell[~is_baseline(names)], cell[is_baseline(names)]
        beat = verdicts[(verdicts[key] == value) & verdicts["beats"]]
        scores = ", ".join(f"{name} {row['iou']:.1f} / {row['miou']:.1f} %" for name, row in baselines.iterrows())
        better = "; ".join(f"{name}: {_names(list(beat.loc[beat['baseline'] == name, 'model']))}"
                           for name in baselines.index)
        line = f"- **{value}**: baselines (landslide IoU / mIoU) {scores}. Models that beat {better}."
        if len(models) and ALL_LANDSLIDE in baselines.index:
            best, floor = models["iou"].idxmax(), baselines.loc[ALL_LANDSLIDE, "iou"]
            ratio = f"{models.loc[best, 'iou'] / floor:.1f} ×" if floor > 0 else "—"
            line += f" Highest landslide IoU: {best}'s {models.loc[best, 'iou']:.1f} %, {ratio} all landslide's."
        lines.append(line)
    return lines


def not_learned(judged: Judged) -> list[tuple[str, ...]]:
    """(model, values of ``judged.within``) of every model that is no result.

    By :func:`~landslide_core.eval.baselines.no_result`: the interval of its mIoU difference to the better constant
    does not lie above 0, so it has learned nothing a constant could not do. With ``within=["group"]``: (model,
    group) pairs, the cells the tables mark †.

    Raises:
        BaselineError: A cell with models has no constant's counts.
    """
    verdicts = no_result(judged)
    flat = verdicts[verdicts["no result"]]
    return list(zip(flat["model"], *(flat[key] for key in judged.within), strict=True))


def _verdict(row: pd.Series) -> str:
    """``A beats B``, ``B beats A`` or ``not distinguishable``, from a difference row (Δ = A − B)."""
    if not distinguishable(row):
        return "not distinguishable"
    return "A beats B" if row["low"] > 0 else "B beats A"


def model_differences(judged: Judged, metric: str = "iou") -> pd.DataFrame:
    """Every pair of models (no baselines) in each cell: Δ = A − B in ``metric`` with its interval, and the verdict.

    A is the model with the higher point value. "A beats B" only where the interval of Δ lies above 0
    (:func:`~landslide_core.scoring.intervals.distinguishable`); an interval that holds 0 is "not distinguishable".
    One metric per table, so that it fits the page. Empty where no cell holds two models.
    """
    index = [key.capitalize() for key in judged.within] + ["A", "B"]
    pairs = judged.differences
    pairs = pairs[(pairs["metric"] == metric) & ~is_baseline(pairs["a"]) & ~is_baseline(pairs["b"])]
    rows = []
    for _, pair in pairs.iterrows():
        keys = {key: pair[key] for key in judged.within}
        a, b = (pair["a"], pair["b"]) if pair["delta"] >= 0 else (pair["b"], pair["a"])
        difference = judged.difference(a, b, metric, **keys)
        rows.append([*keys.values(), a, b, format_interval(difference["delta"], difference["low"], difference["high"]),
                     _verdict(difference)])
    return pd.DataFrame(rows, columns=[*index, "Δ = A − B", "verdict"]).set_index(index)


def model_comparisons(judged: Judged, value: str, metric: str = "iou", label: str = "landslide IoU") -> list[str]:
    """The judged sentences that rank the models of one cell (``value`` of the key) on ``metric``.

    Each model against the next one down the ranking by point value; where these steps hold only one kind of verdict
    (all "beats", or all "not distinguishable") and another pair of the cell holds the other kind, that pair too (the
    widest gap that beats, or the narrowest that does not), so both kinds are said where they occur. Empty with
    fewer than two models. Sentences from :func:`~landslide_core.scoring.intervals.compare`.
    """
    key = _key(judged)
    points = _points(judged).get(value)
    if points is None:
        return []
    models = points[~is_baseline(points.index.to_series())][metric].sort_values(ascending=False, kind="stable")
    ranked = list(models.index)
    steps = [judged.difference(a, b, metric, **{key: value}) for a, b in zip(ranked, ranked[1:], strict=False)]
    others = [judged.difference(a, b, metric, **{key: value})
              for i, a in enumerate(ranked) for b in ranked[i + 2:]]
    said = {distinguishable(row) for row in steps}
    for kind in (True, False):
        found = [row for row in others if distinguishable(row) == kind]
        if kind not in said and found:
            steps.append(max(found, key=lambda row: abs(row["delta"])) if kind
                         else min(found, key=lambda row: abs(row["delta"])))
    return [compare(row, label, judged.settings.level) for row in steps]


def baseline_table(judged: Judged) -> pd.DataFrame:
    """:func:`~landslide_core.eval.baselines.baseline_judgements` as text, one row per model and baseline.

    Δ mIoU and Δ IoU (model − baseline, points) with their intervals as ``value [low, high]``, and whether the model
    beats the baseline (both intervals above 0).
    """
    verdicts = baseline_judgements(judged)
    index = [key.capitalize() for key in judged.within] + ["Model", "Baseline"]
    table = pd.DataFrame(dict(zip(index, [verdicts[key] for key in (*judged.within, "model", "baseline")],
                                  strict=True)))
    for label in ("Δ mIoU", "Δ IoU"):
        table[label] = [format_interval(v, lo, hi) for v, lo, hi in
                        verdicts[[label, f"{label} low", f"{label} high"]].to_numpy()]
    table["beats"] = verdicts["beats"].map({True: "yes", False: "no"})
    return table.set_index(index)


def comparison_html(comparison: pd.DataFrame, *, caption: str, flagged: Sequence[tuple[str, str]] = (),
                    level: float = 0.95, groups_per_table: int = 2) -> str:
    """:func:`~landslide_core.book.compare.metric_tables_html` of Table 5, ``groups_per_table`` groups at a time.

    With intervals, a metric's table of all three groups is wider than the text column of a 1280-px page (about
    690 px); two groups fit.
    """
    groups = list(dict.fromkeys(comparison.index.get_level_values("Group")))
    parts = []
    for start in range(0, len(groups), groups_per_table):
        chunk = groups[start:start + groups_per_table]
        part = comparison[comparison.index.get_level_values("Group").isin(chunk)]
        parts.append(metric_tables_html(part, rows="Model", columns="Group", caption=f"{caption}: {', '.join(chunk)}",
                                        flagged=flagged, level=level))
    return "".join(parts)


def split_baselines(views: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Each view's models and baselines as two tables (``<name>: models``, ``<name>: baselines``), to fit the page.

    Four models' cells of ``value [low, high]`` beside two baselines' are wider than a 1280-px page's text column.
    """
    tables = {}
    for name, view in views.items():
        baselines = is_baseline(view.columns.to_series())
        for part, columns in (("models", view.columns[~baselines.to_numpy()]),
                              ("baselines", view.columns[baselines.to_numpy()])):
            if len(columns):
                tables[f"{name}: {part}"] = view[columns]
    return tables


def interval_note(settings: BootstrapSettings, seeds: int) -> str:
    """What the page's intervals cover (the tiles, and the seeds when several) and what they do not, in Markdown."""
    if seeds > 1:
        drawn = f", and so are the {seeds} seeds' training runs"
        covers = "on other tiles like these and in other training runs. It does not"
    else:
        drawn = ""
        covers = ("on other tiles like these. One seed was run, so it leaves out how much another training run would "
                  "differ, and it does not")
    return (f"Intervals: {settings.describe()}. Each resample draws the validation tiles again with replacement, "
            f"tiles that share pixels (one leakage group) together{drawn}. An interval says how much a score could "
            f"change {covers} cover the choice of validation region (another split of the sub-datasets, or another "
            "area). Two models are compared on the same draws of the same tiles (paired): "
            "\"A beats B\" only where the interval of Δ = A − B lies above 0.")


def summary(scores: pd.DataFrame, judged: Judged, comparison: pd.DataFrame, settings: GridSettings,
            runs: Sequence[GridRun], *, synthetic: bool, data_root: Path, times: pd.DataFrame | None = None) -> str:
    """What the run shows, in Markdown.

    Per group, the baselines and which models beat them (:func:`baseline_verdicts`), the models that are no result,
    the models against each other (:func:`model_comparisons`: "beats" only where the interval of Δ excludes 0), the
    paper's best model, the average gap to the paper, and what the data and settings allow one to conclude.

    Args:
        scores: :func:`landslide_core.experiments.table5.scores_frame` of the runs, with the baselines' rows
            (:func:`landslide_core.experiments.table5.baseline_frame`).
        judged: The runs' and baselines' per-tile counts judged within ``group``
            (:func:`landslide_core.scoring.intervals.judge`).
        comparison: The paper-versus-run table (:func:`landslide_core.book.paper_vs_run` of Table 5).
        settings: The grid's settings (which models and groups the page asked for).
        runs: The finished runs: how they trained is read from their own ``config.json``.
        synthetic: Whether the data are the demo data.
        data_root: The data root the runs read.
        times: :func:`step_times` of the runs, to give the measured cost of a model that did not learn.
    """
    level = judged.settings.level
    points = _points(judged)
    lines = baseline_verdicts(judged)
    verdicts = no_result(judged)
    for _, flat in verdicts[verdicts["no result"]].iterrows():
        model, group, constant = flat["model"], flat["group"], flat["constant"]
        epochs = _joined([r.config["epochs"] for r in runs if paper_name(r.model) == model and r.group == group])
        cost = ""
        if times is not None and model in times.index:
            cost = (f", one training step of {times.loc[model, 'batch']} images taking "
                    f"{times.loc[model, 's per step']:.2f} s "
                    "(measured, table above)")
        lines.append(f"- **Not a result: {model} on {group}**: on these tiles it cannot be told apart from predicting "
                     f"one class everywhere (its mIoU {points[group].loc[model, 'miou']:.1f} % against {constant}'s "
                     f"{points[group].loc[constant, 'miou']:.1f} %, the better constant: "
                     f"{difference_text('mIoU', flat['Δ mIoU'], flat['Δ mIoU low'], flat['Δ mIoU high'], level)}, "
                     f"not above 0), so this run's {epochs} epoch(s) show no learning "
                     f"that these tiles can confirm{cost}. Its scores in the tables above are not evidence of a "
                     "trained model.")
    lines.append("\nThe models against each other, on landslide IoU paired on the same tiles:\n")
    for group in settings.groups:
        sentences = model_comparisons(judged, group)
        trained = [m for m in points.get(group, pd.DataFrame()).index if not is_baseline(m)]
        if sentences:
            lines.append(f"- **{group}**: " + "; ".join(sentences) + ".")
        elif trained:
            lines.append(f"- **{group}**: only {trained[0]} was trained on this group, so no model is compared "
                         "with it.")
    paper_best = []
    for group in settings.groups:
        trained = [m for m in points.get(group, pd.DataFrame()).index if not is_baseline(m)]
        paper_iou = comparison.xs(group, level="Group")[("IoU", "paper")].dropna()
        paper_iou = paper_iou[paper_iou.index.isin(trained)]
        if len(paper_iou):
            paper_best.append(f"{paper_iou.idxmax()}'s in {group}")
    if paper_best:
        lines.append(f"\nIn the paper, the highest landslide IoU among the same models is {', '.join(paper_best)}.")
    gap = comparison.xs("difference", axis=1, level="source").abs().stack().mean()
    how = describe_training([r.config for r in runs])
    if synthetic:
        verdict = (f"These models were trained on synthetic tiles ({how}): the numbers, their intervals and "
                   "verdicts check that the protocol runs end to end and say nothing about how the models compare on "
                   "real landslides. The `paper` profile runs the full protocol on the CAS data.")
    else:
        sub = scores.loc[scores["subdataset"] != ""]
        verdict = (f"This run used the {sub['subdataset'].nunique()} of 16 sub-datasets found under `{data_root}` "
                   f"({sub.drop_duplicates('subdataset')['tiles'].sum()} validation tiles in all), with {how}. "
                   f"{says('random_split', lead='The paper states its split')}; its optimiser, "
                   f"{quote('optimiser').cited()}; and its loss, {quote('dice_loss').cited()}. It states no epochs, "
                   "batch size or learning-rate schedule: those, and this run's poly decay, crop size, augmentation "
                   "and backbone initialisation, are ours, so a difference to the paper's scores may come from them "
                   "as well as from the models.")
    return "\n".join(lines) + f"\n\nAcross the table this run differs from the paper by {gap:.1f} points on average. " + verdict


def _joined(values: Sequence[Any]) -> str:
    """Distinct values in order of appearance, as text (``None``: full tiles)."""
    return ", ".join(str("full" if v is None else f"{v:g}" if isinstance(v, float) else v)
                     for v in dict.fromkeys(values))


def step_times(histories: pd.DataFrame, runs: Sequence[GridRun]) -> pd.DataFrame:
    """Per model: measured images per second and seconds per step (medians over its epochs) and how it trained.

    Groups, batch, epochs, learning rate and crop come from the runs' own ``config.json``. Where some models train
    on fewer groups or epochs (the page's ``per_model``), this is the measured reason.
    """
    speed = histories.groupby("model", sort=False)["images_per_s"].median()
    configs = {model: [r.config for r in runs if paper_name(r.model) == model] for model in speed.index}
    batch = pd.Series({m: float(np.median([c["batch_size"] for c in configs[m]])) for m in speed.index})
    return pd.DataFrame({
        "images / s": speed,
        "s per step": batch / speed,
        "batch": [_joined([c["batch_size"] for c in configs[m]]) for m in speed.index],
        "trained on": [_joined([c["group"] for c in configs[m]]) for m in speed.index],
        "epochs": [_joined([c["epochs"] for c in configs[m]]) for m in speed.index],
        "learning rate": [_joined([float(c["lr"]) for c in configs[m]]) for m in speed.index],
        "crop (px)": [_joined([c["crop_size"] for c in configs[m]]) for m in speed.index],
    }).rename_axis("model")


def exceptions_note(times: pd.DataFrame) -> str:
    """Where models trained differently (groups, epochs, learning rate, crop), each one's settings and measured cost.

    From :func:`step_times` (the runs' own configurations); empty when every model trained alike.
    """
    settings = ["trained on", "epochs", "learning rate", "crop (px)"]
    if (times[settings].nunique() <= 1).all():
        return ""
    which = "; ".join(f"{model} on {row['trained on']}, {row['epochs']} epoch(s) from learning rate "
                      f"{row['learning rate']} on crops of {row['crop (px)']} px" for model, row in times.iterrows())
    costs = times.sort_values("s per step", ascending=False)
    listed = ", ".join(f"{row['s per step']:.2f} s for {model} (batch {row['batch']})"
                       for model, row in costs.iterrows())
    return (f"The models trained with different settings (read from their runs' `config.json`): {which}. The "
            f"measured cost of one training step on this run's device: {listed}.")


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

    Raises:
        CheckpointError: A run did not keep its checkpoint.
    """
    for run in runs:
        if run.checkpoint is None:
            raise CheckpointError(run.folder / BEST, "this run did not keep its checkpoint",
                                  "keep the checkpoints of the runs whose predictions are shown (keep_checkpoints)")
    return error_examples([(paper_name(r.model), r.checkpoint) for r in runs if r.checkpoint is not None], tiles,
                          device=device, crop_size=crop_size)


def no_checkpoints_note(without: Sequence[str], *, left_out: str = "No example predictions") -> str:
    """Why ``left_out`` (something computed from checkpoints), in Markdown, naming the runs that kept none here.

    Empty when ``without`` is: every run needed kept its checkpoint.
    """
    if not without:
        return ""
    return (f"{left_out}: {', '.join(without)} kept no checkpoint here. Scores and histories travel "
            "without checkpoints (`landslide-core results pack`); train the runs here, or copy their checkpoints "
            "into their run folders, to see predictions.")


def checkpoints_note(runs: Sequence[GridRun]) -> str:
    """:func:`no_checkpoints_note` for the runs the example figure shows; empty when all kept their checkpoint.

    A run without one is either unpacked from a results archive or, with ``keep_checkpoints`` false, outside the
    shown group.
    """
    if not runs:
        return "No example predictions: no run of this group finished."
    return no_checkpoints_note([f"{paper_name(r.model)} on {r.group}, seed {r.seed}" for r in runs
                                if r.checkpoint is None])


def error_examples(models: Sequence[tuple[str, Path]], tiles: Sequence[TileRecord], *, device: str = "cpu",
                   crop_size: int | None = None, source: str | TileSource = "cas") -> Figure:
    """Image, truth and each model's errors on the same tiles (rows: tiles; columns: the labelled checkpoints).

    ``crop_size`` shows the central crop the models were validated on (quick CPU runs) instead of the full tile.

    Error colours: true positive green,
    false positive red, false negative blue; true negatives show the image.
    """
    dataset = TileDataset(tiles, crop_size=crop_size, centre_crop=True, source=source)
    items = [dataset[i] for i in range(len(tiles))]
    raw = torch.stack([item["image"] for item in items])
    shown = Normalisation(dataset.normalisation.scale).batch(raw)  # [0, 1] RGB
    predictions = []
    for _, checkpoint in models:
        model, _ = trained_model(load_checkpoint(checkpoint))
        with torch.inference_mode():
            logits = model.to(device)(dataset.normalisation.batch(raw.to(device)))
            predictions.append((logits[:, 0] > 0).cpu().numpy())
    figure = plt.figure(figsize=(2.0 * (2 + len(models)), 2.1 * len(tiles)), layout="constrained")
    axes = figure.subplots(len(tiles), 2 + len(models), squeeze=False)
    colours = ListedColormap(["#00000000", *ERROR_COLOURS.values()])
    for row, tile in enumerate(tiles):
        rgb, truth = shown[row].permute(1, 2, 0).numpy(), items[row]["mask"].numpy()
        axes[row, 0].imshow(rgb)
        axes[row, 1].imshow(truth, cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_ylabel(f"{tile.subdataset}\n{tile.name}", fontsize=7)
        for column, predicted in enumerate(predictions, start=2):
            axes[row, column].imshow(rgb)
            axes[row, column].imshow(error_map(truth, predicted[row]), cmap=colours, vmin=0, vmax=3,
                                     interpolation="nearest")
    for column, title in enumerate(["image", "truth (white = landslide)", *(label for label, _ in models)]):
        axes[0, column].set_title(title, fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.legend(handles=[Patch(color=c, label=k) for k, c in ERROR_COLOURS.items()], loc="outside lower center",
                  ncols=3, fontsize=8)
    return figure
