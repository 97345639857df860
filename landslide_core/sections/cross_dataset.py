"""What the cross-dataset page (paper Table 7) computes beyond the experiment itself.

The page's training parameters become one :class:`CrossSettings`; which datasets
train comes from a mapping of source name to root, where a missing root means the
dataset's synthetic stand-in (:func:`stand_in_roots`), written in the dataset's
official format. The heat map, the example predictions and the summary under the
tables are derived from the run. Every cell of Table 7 and of the transfer matrix has a block-bootstrap interval,
and every comparison the page draws (two training sets on one held-out part, a model against a baseline) is judged
by the paired interval of its difference (:func:`~landslide_core.experiments.table7.judge_table7`,
:func:`~landslide_core.experiments.table7.judge_transfer`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..book.runner import shown_path
from ..errors import ConfigError
from ..eval.baselines import BASELINES, THRESHOLD_RULE, baseline_judgements, no_result, rule
from ..eval.paper import paper_values, published_long
from ..experiments.runs import read_config
from ..experiments.table7 import CAS_TRAINING, PAPER_LABELS, TrainingSet
from ..paper import inferences, mismatches, quote, says
from ..scoring.intervals import (
    Judged,
    compare,
    difference_text,
    distinguishable,
    format_difference,
    format_interval,
    paper_verdicts,
    verdict_counts,
)
from ..scoring.metrics import PAPER_COLUMNS
from ..sources import CAS, bijie, hrgldd, landslide4sense, sichuan
from ..sources.stand_in_marker import is_stand_in
from ..sources.standardize import STANDARD_SIZE, Stretch
from ..tiles import TileRecord
from ..train.checkpoints import LAST
from ..train.config import TrainConfig
from .benchmarks import error_examples, example_tiles, no_checkpoints_note
from .training_text import describe_training

__all__ = [
    "DATA_ROOT_FIELD", "PUBLIC_DATASETS", "CrossSettings", "data_table", "example_checkpoints", "example_figure",
    "examples_note", "hrgldd_note", "no_result_cells", "pair_table", "paper_below", "public_roots", "roots_note",
    "run_configs", "short_label", "stand_in_note", "stand_in_roots", "standardising_note", "summary",
    "table7_intervals", "table7_verdicts", "training_set_pairs", "training_sets_note", "transfer_heatmap",
    "transfer_intervals", "transfer_table", "verdict_note", "with_intervals",
]

STAND_IN_WRITERS: dict[str, Callable[..., Path]] = {
    "bijie": bijie.write_stand_in, "sichuan": sichuan.write_stand_in, "hr-gldd": hrgldd.write_stand_in,
    "landslide4sense": landslide4sense.write_stand_in,
}
PUBLIC_DATASETS = tuple(STAND_IN_WRITERS)
"""The public datasets of paper Table 7, by source name."""


@dataclass(frozen=True)
class CrossSettings:
    """The cross-dataset page's parameters that decide how each model is trained."""

    model: str
    epochs: int
    batch_size: int
    crop_size: int | None
    val_crop_size: int | None
    pretrained: bool | str
    device: str
    num_workers: int
    seeds: tuple[int, ...]
    lr: float = 0.01
    """SGD's initial learning rate (0.01 as in “employing the SGD optimizer with a learning rate of 0.01”)."""
    checkpoint_every: int = 1
    """Write each run's resume checkpoint every this many epochs (and after the last)."""
    steps_per_epoch: int | None = None
    """Stop each epoch after this many optimisation steps; ``None``: every batch. The ``rehearsal`` profile's 1 runs
    every other stage of the page in full (:attr:`~landslide_core.train.config.TrainConfig.steps_per_epoch`)."""

    def as_parameters(self) -> dict[str, Any]:
        """The settings as the notebook's parameters, for provenance."""
        return asdict(self)

    def train_config(self) -> TrainConfig:
        """The training configuration every model shares; source, group and seed are set per run."""
        return TrainConfig(model=self.model, epochs=self.epochs, batch_size=self.batch_size, crop_size=self.crop_size,
                           val_crop_size=self.val_crop_size, pretrained=self.pretrained, device=self.device,
                           num_workers=self.num_workers, lr=self.lr, checkpoint_every=self.checkpoint_every,
                           steps_per_epoch=self.steps_per_epoch)


def stand_in_roots(folder: Path, names: Sequence[str], *, seed: int = 0) -> dict[str, Path]:
    """Each named dataset's synthetic stand-in under ``folder/<name>``, written once (kept when already there)."""
    roots = {}
    for name in names:
        root = folder / name
        if not is_stand_in(root):
            STAND_IN_WRITERS[name](root, seed=seed)
        roots[name] = root
    return roots


DATA_ROOT_FIELD = "{data_root}"
"""Stands for the CAS data root in a root of the ``datasets`` parameter: a profile cannot know the data root, and the
replica (``landslide-core replica``) keeps the public datasets' stand-ins under it, in
``{data_root}/_stand_ins/<source name>`` (what the ``rehearsal`` profile gives)."""


def public_roots(datasets: Mapping[str, str | None], stand_in_folder: Path, *, seed: int = 0,
                 data_root: Path | None = None) -> dict[str, Path]:
    """Source name → root for the page's ``datasets`` parameter: a given path, or the stand-in where it is None.

    :data:`DATA_ROOT_FIELD` in a given path is replaced by ``data_root``.

    Raises:
        ConfigError: A path holds :data:`DATA_ROOT_FIELD` but no ``data_root`` is given.
    """
    missing = [name for name, root in datasets.items() if not root]
    stand_ins = stand_in_roots(stand_in_folder, missing, seed=seed)
    placed = [name for name, root in datasets.items() if root and DATA_ROOT_FIELD in str(root)]
    if placed and data_root is None:
        raise ConfigError(f"the datasets' roots of {', '.join(placed)} hold {DATA_ROOT_FIELD}, but no CAS data root "
                          "was given: give one with -p data_root DIR, or give these roots in full")
    return {name: Path(str(root).replace(DATA_ROOT_FIELD, str(data_root))) if root else stand_ins[name]
            for name, root in datasets.items()}


def data_table(sets: Sequence[TrainingSet]) -> pd.DataFrame:
    """Per training set: the source that read it, which data it is (real or a synthetic stand-in) and where."""
    rows = []
    for training_set in sets:
        source = training_set.source
        rows.append({"dataset": short_label(training_set.label), "source": source.name,
                     "data": source.data_label(training_set.held_out.root), "held out": training_set.held_out.dataset,
                     "root": shown_path(training_set.held_out.root)})
    return pd.DataFrame(rows).set_index("dataset")


def roots_note(table: pd.DataFrame) -> str:
    """Where each dataset was read from, as a Markdown list (paths are too long for a table column on a laptop)."""
    return "Read from:\n" + "\n".join(f"- {dataset}: `{row['root']}`" for dataset, row in table.iterrows())


def stand_in_note(sets: Sequence[TrainingSet]) -> str:
    """A plain-words warning naming the datasets that are synthetic stand-ins; empty when none is."""
    stand_ins = [s for s in sets if s.source.name != CAS.name and s.source.is_synthetic(s.held_out.root)]
    if not stand_ins:
        return ""
    names = ", ".join(short_label(s.label) for s in stand_ins)
    return (f"**Synthetic stand-ins.** {names}: {'this row trains' if len(stand_ins) == 1 else 'these rows train'} "
            "on a synthetic stand-in, not on the dataset: one written in the dataset's official format (file names, "
            "data types, band order, mask encoding) by `landslide_core.sources.<name>.write_stand_in`, by this page "
            "where no root was given, or beforehand (e.g. the replica's). They are not the datasets' imagery: their "
            "scores say nothing about the real datasets.")


def standardising_note() -> str:
    """How Table 7's public datasets were prepared, quoted, and what of it is ours (the resize, the stretch)."""
    low, high = Stretch.percentiles
    return (f"**Standardising the public datasets.** {says('table7_standardized')} On the data: "
            f"{quote('table7_rgb').cited()}. The rest is ours: each image is resized whole to {STANDARD_SIZE} × "
            f"{STANDARD_SIZE} pixels (bilinear; masks by nearest neighbour), not cut into tiles, which we inferred "
            "from Table 7's counts, the numbers of images of the parts trained on; multispectral floats (HR-GLDD, "
            f"Landslide4Sense) become 8 bits by a per-band stretch between percentiles {low:g} and {high:g} "
            "of a seeded sample of the dataset's training files.")


def hrgldd_note() -> str:
    """HR-GLDD's size, quoted, beside the sizes of its published splits, and its channel order (ours)."""
    rows = hrgldd.SPLIT_ROWS
    red, green, blue = hrgldd.RGB
    return (f"**HR-GLDD.** {says('hrgldd_total')} Its published arrays hold {rows['train']:,} + {rows['val']:,} + "
            f"{rows['test']:,} = {sum(rows.values()):,} images (training, validation, test). Which of their four "
            f"channels are red, green and blue is ours: channels {red}, {green} and {blue} by default, while the "
            "arrays may be blue, green, red, near-infrared (the HR-GLDD source's `rgb`, e.g. `[2, 1, 0]`).")


def training_sets_note() -> str:
    """What each Table 7 model trained on: ours, from the counts, with the CAS rows' mismatch with Table 2."""
    choice = next(item.choice for item in inferences() if item.key == "table7_training_sets")
    count = {d: f"{int(n):,}" for d, n in paper_values(7).set_index("dataset")["number"].items()}
    return (f"{says('table7_validation')} Table 7's counts match Bijie's {count['Bijie']} landslide samples (not "
            f"its non-landslide images), Sichuan's {count[PAPER_LABELS['sichuan']]} images, HR-GLDD's "
            f"{count['HR-GLDD']} training images and Landslide4Sense's {count['Landslide4Sense']} training images; "
            f"for CAS: {mismatches()['table7_cas_rows'].line()} {' '.join(choice.split())} "
            "Also ours: a public dataset without a split of its own keeps a held-out part here (its share: "
            "`val_fraction`), so that every model can also be scored on it below.")


def paper_below(values: pd.DataFrame | None = None) -> str:
    """How many public datasets have a lower IoU than each CAS row in Table 7, with the quoted sentence on it.

    Args:
        values: Table 7's rows with ``dataset`` and ``iou`` (percent); default the published values
            (:func:`~landslide_core.eval.paper.paper_values`).
    """
    iou = (paper_values(7) if values is None else values).set_index("dataset")["iou"].astype(float)
    public = iou.drop(list(CAS_TRAINING))
    counts = []
    for row in CAS_TRAINING:
        above = public[public >= iou[row]]
        higher = f" (not {', '.join(f'{short_label(d)}, {v:.1f} %' for d, v in above.items())})" if len(above) else ""
        counts.append(f"{row} ({iou[row]:.1f} %) {len(public) - len(above)} of {len(public)}{higher}")
    every = int((public.to_numpy()[:, None] < iou[list(CAS_TRAINING)].to_numpy()[None, :]).all(axis=1).sum())
    return (f"In the paper's Table 7, the public datasets with a lower landslide IoU than each CAS row are: "
            f"{'; '.join(counts)}; so {every} of the {len(public)} are below every CAS row. "
            f"{says('table7_three_below')}")


def transfer_heatmap(matrix: pd.DataFrame, *, metric: str = "IoU") -> Figure:
    """Rows: the dataset a model trained on; columns: the held-out part it was scored on; cells: ``metric`` (%)."""
    figure, axis = plt.subplots(figsize=(1.3 * matrix.shape[1] + 3.2, 0.55 * matrix.shape[0] + 1.8),
                                layout="constrained")
    image = axis.imshow(matrix.to_numpy(float), cmap="viridis", vmin=0, vmax=max(float(np.nanmax(matrix)), 1.0))
    for (row, col), value in np.ndenumerate(matrix.to_numpy(float)):
        axis.text(col, row, f"{value:.1f}", ha="center", va="center", fontsize=8,
                  color="white" if value < 0.6 * np.nanmax(matrix.to_numpy(float)) else "black")
    axis.set_xticks(range(matrix.shape[1]), [short_label(c) for c in matrix.columns], rotation=30, ha="right", fontsize=8)
    axis.set_yticks(range(matrix.shape[0]), [short_label(r) for r in matrix.index], fontsize=8)
    axis.set_xlabel("evaluated on (held-out part)")
    axis.set_ylabel("trained on")
    figure.colorbar(image, ax=axis, label=f"{metric} (%)", shrink=0.8)
    return figure


def short_label(label: str) -> str:
    """A dataset's row label short enough for a table on a laptop (Table 7's Sichuan label is 47 characters)."""
    return label.replace("Sichuan and Surrounding Areas Landslide Dataset", "Sichuan")


def run_configs(runs_dir: Path, transfer: pd.DataFrame) -> list[dict[str, Any]]:
    """The own ``config.json`` of every run in ``transfer`` (:func:`~landslide_core.experiments.table7.run_table7`)."""
    return [read_config(runs_dir / name) for name in dict.fromkeys(transfer["run"])]


def example_checkpoints(sets: Sequence[TrainingSet], runs_dir: Path, transfer: pd.DataFrame, *,
                        seed: int) -> list[tuple[str, Path]]:
    """(row label, last checkpoint) of every model the example figure shows: ``seed``'s runs in ``transfer``."""
    folders = transfer[transfer["seed"] == seed].drop_duplicates("key").set_index("key")["run"]
    return [(short_label(s.label), runs_dir / folders[s.key] / LAST) for s in sets]


def examples_note(sets: Sequence[TrainingSet], runs_dir: Path, transfer: pd.DataFrame, *, seed: int) -> str:
    """Why the example figure is left out (models without their checkpoint here, e.g. unpacked results); or empty."""
    return no_checkpoints_note([label for label, path in example_checkpoints(sets, runs_dir, transfer, seed=seed)
                                if not path.is_file()])


def example_figure(sets: Sequence[TrainingSet], runs_dir: Path, transfer: pd.DataFrame,
                   records: Sequence[TileRecord], *, seed: int, device: str, crop_size: int | None,
                   count: int = 3) -> Figure:
    """Every model's errors on the same CAS held-out tiles (the most landslide pixels in ``count`` sub-datasets)."""
    models = example_checkpoints(sets, runs_dir, transfer, seed=seed)
    return error_examples(models, example_tiles(records, count=count), device=device, crop_size=crop_size, source=CAS)


def _count(pairs: int) -> str:
    """``the other N are`` (``the other one is``)."""
    return "the other one is" if pairs == 1 else f"the other {pairs} are"


def table7_intervals(judged: Judged) -> pd.DataFrame:
    """Table 7's intervals keyed as its rows (``model``, ``dataset``), as ``paper_vs_run(intervals=)`` takes them.

    ``judged``: :func:`~landslide_core.experiments.table7.judge_table7`.
    """
    return judged.estimates.rename(columns={"configuration": "model"})


def with_intervals(rows: pd.DataFrame, judged: Judged) -> pd.DataFrame:
    """Table 7's rows (models or baselines, by ``model`` and ``dataset``) with each score's interval, for records.

    The bounds follow as columns ``<score> low`` and ``<score> high``, the score named as the paper's tables name
    it (e.g. ``IoU low``).
    """
    estimates = table7_intervals(judged).set_index(["model", "dataset", "metric"])
    out = rows.copy()
    for metric in dict.fromkeys(judged.estimates["metric"]):
        if metric not in rows.columns:
            continue
        keys = pd.MultiIndex.from_arrays([rows["model"], rows["dataset"], [metric] * len(rows)])
        for bound in ("low", "high"):
            out[f"{PAPER_COLUMNS.get(metric, metric)} {bound}"] = estimates[bound].reindex(keys).to_numpy()
    return out


def no_result_cells(judged: Judged) -> list[tuple[str, str]]:
    """(short dataset label, model) of every Table 7 model that is no result, for the tables' † marks.

    Raises:
        BaselineError: A row has no constant's counts to judge its model against.
    """
    flat = no_result(judged)
    flat = flat[flat["no result"]]
    return [(short_label(d), m) for d, m in zip(flat["dataset"], flat["model"], strict=True)]


def table7_verdicts(judged: Judged) -> pd.DataFrame:
    """Every published Table 7 value this run also has, inside or outside this run's interval (and by how much).

    Only the paper's model (DeepLabV3+) has published values; a run of another model has none to judge.
    """
    verdicts = paper_verdicts(judged, published_long(7, ["model", "dataset"]))
    return verdicts.rename(columns={"configuration": "model"})


def verdict_note(verdicts: pd.DataFrame, sets: Sequence[TrainingSet], *, synthetic: bool) -> str:
    """How many of Table 7's published values lie inside this run's intervals, and what the count can mean.

    Args:
        verdicts: :func:`table7_verdicts`.
        sets: The training sets: those read from a synthetic stand-in are named.
        synthetic: Whether the CAS tiles every model is scored on are the synthetic demo data.
    """
    text = verdict_counts(verdicts, synthetic=synthetic)
    stand_ins = [short_label(s.label) for s in sets
                 if s.source.name != CAS.name and s.source.is_synthetic(s.held_out.root)]
    if stand_ins:
        text += (f" The models of {', '.join(stand_ins)} trained on synthetic stand-ins, not on "
                 f"{'that dataset' if len(stand_ins) == 1 else 'those datasets'}: their rows' verdicts say nothing "
                 "about the published models.")
    return text


def transfer_intervals(judged: Judged, metric: str = "iou") -> pd.DataFrame:
    """The transfer matrix's cells as rows: ``trained on``, ``evaluated on``, ``value``, ``low``, ``high`` (%)."""
    rows = judged.estimates[judged.estimates["metric"] == metric]
    return rows.rename(columns={"configuration": "trained on"})[["trained on", "evaluated on", "value", "low", "high"]]


def transfer_table(judged: Judged, matrix: pd.DataFrame, metric: str = "iou") -> pd.DataFrame:
    """:func:`~landslide_core.experiments.table7.transfer_matrix` with each cell as ``value [low, high]``.

    Rows and columns in ``matrix``'s order, labelled short (:func:`short_label`).
    """
    rows = transfer_intervals(judged, metric)
    cells = rows.assign(cell=[format_interval(v, lo, hi) for v, lo, hi in rows[["value", "low", "high"]].to_numpy()])
    table = cells.pivot(index="trained on", columns="evaluated on", values="cell")
    table = table.reindex(index=matrix.index, columns=matrix.columns).fillna("—")
    return table.rename(index=short_label, columns=short_label)


def training_set_pairs(judged: Judged, metric: str = "iou", label: str = "landslide IoU") -> pd.DataFrame:
    """Every two training sets compared on each held-out part (paired: the same tiles), judged.

    Returns:
        ``evaluated on``, ``a``, ``b``, ``Δ`` (a − b, points), ``low``, ``high`` and ``judged``: the sentence of
        :func:`~landslide_core.scoring.intervals.compare` ("A beats B" only where the interval excludes 0).
    """
    diffs = judged.differences[judged.differences["metric"] == metric].reset_index(drop=True)
    level = judged.settings.level
    sentences = [compare({**row, "a": short_label(row["a"]), "b": short_label(row["b"])}, label, level)
                 for row in diffs.to_dict("records")]
    return pd.DataFrame({"evaluated on": diffs["evaluated on"], "a": diffs["a"], "b": diffs["b"], "Δ": diffs["delta"],
                         "low": diffs["low"], "high": diffs["high"], "judged": sentences})


def pair_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """:func:`training_set_pairs` as a table to show: one row per pair ``A − B``, one column per held-out part.

    Each cell is ``Δ [low, high]`` in points; an interval above 0 means A beats B, below 0 that B beats A, and one
    that holds 0 that the two are not distinguishable on these tiles.
    """
    cells = pairs.assign(pair=[f"{short_label(a)} − {short_label(b)}" for a, b in pairs[["a", "b"]].to_numpy()],
                         cell=[format_difference(d, lo, hi) for d, lo, hi in pairs[["Δ", "low", "high"]].to_numpy()])
    table = cells.pivot(index="pair", columns="evaluated on", values="cell")
    table = table.reindex(index=list(dict.fromkeys(cells["pair"])),
                          columns=list(dict.fromkeys(cells["evaluated on"]))).fillna("—")
    return table.rename(columns=short_label).rename_axis(index="pair (A − B)", columns="evaluated on")


def summary(table: pd.DataFrame, matrix: pd.DataFrame, models: Judged, transfer: Judged, *, synthetic: bool,
            configs: Sequence[Mapping[str, Any]], column: str) -> str:
    """What the run shows, in Markdown: the best training set, CAS against the public datasets, transfer.

    Every comparison is judged by the paired interval of its difference: "A beats B" only where it excludes 0.

    Args:
        table: :func:`landslide_core.experiments.table7.table7` of the run.
        matrix: :func:`landslide_core.experiments.table7.transfer_matrix` (IoU).
        models: :func:`landslide_core.experiments.table7.judge_table7`: each row's model and the baselines.
        transfer: :func:`landslide_core.experiments.table7.judge_transfer`: every model on every held-out part.
        synthetic: Whether any of the data are synthetic.
        configs: The runs' own ``config.json`` contents (:func:`run_configs`): how they trained.
        column: The CAS held-out part's column label.
    """
    where = {"evaluated on": column}
    level = transfer.settings.level
    ranked = table.sort_values("iou", ascending=False)["dataset"].tolist()

    def iou(dataset: str) -> str:
        row = transfer.estimate(dataset, "iou", **where)
        return format_interval(row["value"], row["low"], row["high"])

    def versus(a: str, b: str) -> str:
        row = transfer.difference(a, b, "iou", **where)
        return compare({**row, "a": short_label(a), "b": short_label(b)}, "landslide IoU", level)

    first = (f"- On {column}, the model trained on **{short_label(ranked[0])}** has the highest landslide IoU "
             f"({iou(ranked[0])} %)")
    if len(ranked) > 1:
        first += (f"; against the next: {versus(ranked[0], ranked[1])}. The lowest is "
                  f"{short_label(ranked[-1])}'s ({iou(ranked[-1])} %)")
    lines = [first + "."]
    cas = [d for d in ranked if d in CAS_TRAINING]
    public = [d for d in table["dataset"] if d not in CAS_TRAINING]
    if cas and public:
        beaten = [p for p in public if all(transfer.difference(c, p, "iou", **where)["low"] > 0 for c in cas)]
        rest = [short_label(p) for p in public if p not in beaten]
        lines.append(f"- {len(beaten)} of the {len(public)} public datasets are beaten on landslide IoU by every CAS "
                     f"training set (the {100 * level:g} % interval of Δ = CAS row − public dataset lies above 0 "
                     "for each CAS row)" + (f"; not {', '.join(rest)}, which at least one CAS row does not beat on "
                                            "these tiles" if rest else "") + ".")
    lines.append(f"- {paper_below()}")
    lines.append(_against_baselines(models))
    diffs = transfer.differences[transfer.differences["metric"] == "iou"]
    if len(diffs):
        clear = sum(distinguishable(row) for _, row in diffs.iterrows())
        lines.append(f"- Of the {len(diffs)} pairs of training sets compared on the same held-out tiles "
                     f"({diffs['evaluated on'].nunique()} held-out parts), {clear} differ in landslide IoU by more "
                     f"than these tiles can tell from chance (the {100 * level:g} % interval of Δ excludes 0: one "
                     f"beats the other); {_count(len(diffs) - clear)} not distinguishable on these tiles.")
    own = [matrix.loc[r, c] for r in matrix.index for c in matrix.columns if _trained_on(r, c)]
    other = [matrix.loc[r, c] for r in matrix.index for c in matrix.columns if not _trained_on(r, c)]
    if own and other:
        lines.append(f"- In the matrix, models score {np.nanmean(own):.1f} % IoU on average on their own dataset's "
                     f"held-out part and {np.nanmean(other):.1f} % on the others' (averages of the cells' values).")
    how = describe_training(configs)
    if synthetic:
        verdict = (f"These models were trained on synthetic data ({how}): synthetic CAS tiles and stand-ins "
                   "written in each public dataset's format. The numbers check that every source, split and evaluation runs end "
                   "to end; they say nothing about the real datasets. Give the datasets' roots (`datasets`) and the "
                   "CAS root (`data_root`) to rerun it on the real data.")
    else:
        verdict = (f"Trained with {how}. The epochs and batch size are ours; the paper's training settings name "
                   f"neither: {quote('optimiser').cited()}. Public datasets without a split of their own train on "
                   "70 % of their samples here (ours), so that every model also has a held-out part to be scored on.")
    return "\n".join(lines) + "\n\n" + verdict


def _against_baselines(models: Judged) -> str:
    """How many models beat each baseline on the same tiles, and which are no result (the rule stated on the page).

    The threshold rule each model is compared with was fitted on the model's own training set.
    """
    level = models.settings.level
    judgements = baseline_judgements(models)
    flat = no_result(models)
    parts = []
    for name in BASELINES:
        rows = judgements[judgements["baseline"] == name]
        if rows.empty:
            continue
        beaten = rows[rows["beats"].astype(bool)]
        if name == THRESHOLD_RULE:
            which = ", ".join(short_label(d) for d in beaten["dataset"]) or "none"
            parts.append(f"{len(beaten)} beat the threshold rule fitted on their own training set ({which})")
        else:
            cell = {"dataset": rows["dataset"].iloc[0]}
            iou, miou = (models.estimate(name, m, **cell)["value"] for m in ("iou", "miou"))
            parts.append(f"{len(beaten)} beat {name} ({iou:.1f} / {miou:.1f} %)")
    text = (f"- Against the baselines on the same tiles (their landslide IoU / mIoU in brackets), of {len(flat)} "
            f"models: " + "; ".join(parts) + f". Here {rule(level)}.")
    flat = flat[flat["no result"].astype(bool)]
    if len(flat):
        many = len(flat) > 1
        each = ", ".join(f"{short_label(row['dataset'])} ("
                         + difference_text(f"mIoU to {row['constant']}", row["Δ mIoU"], row["Δ mIoU low"],
                                           row["Δ mIoU high"], level) + ")" for _, row in flat.iterrows())
        text += (f"\n- **No result**: the model{'s' if many else ''} trained on {each}: the interval does not lie "
                 f"above 0, so {'their mIoUs are' if many else 'its mIoU is'} not shown to exceed the better "
                 "constant's on these tiles.")
    return text


def _trained_on(row: str, column: str) -> bool:
    """Whether a matrix cell is a model on its own dataset's held-out part."""
    return column == row or (column.startswith("CAS") and row in ("UAV", "SAT", "SAT + UAV"))
