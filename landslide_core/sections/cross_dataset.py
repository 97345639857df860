"""What the cross-dataset page (paper Table 7) computes beyond the experiment itself.

The page's training parameters become one :class:`CrossSettings`; which datasets
train comes from a mapping of source name to root, where a missing root means the
dataset's synthetic stand-in (:func:`stand_in_roots`), written in the dataset's
official format. The heat map, the example predictions and the summary under the
tables are derived from the run.
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
from ..eval.baselines import BASELINES, MARGIN, RULE, THRESHOLD_RULE, beats_baseline, no_result
from ..eval.paper import paper_values
from ..experiments.runs import read_config
from ..experiments.table7 import CAS_TRAINING, PAPER_LABELS, TrainingSet
from ..paper import inferences, mismatches, quote, says
from ..sources import CAS, bijie, hrgldd, landslide4sense, sichuan
from ..sources.stand_in_marker import is_stand_in
from ..sources.standardize import STANDARD_SIZE, Stretch
from ..tiles import TileRecord
from ..train.checkpoints import LAST
from ..train.config import TrainConfig
from .benchmarks import error_examples, example_tiles, no_checkpoints_note
from .training_text import describe_training

__all__ = [
    "PUBLIC_DATASETS", "CrossSettings", "data_table", "example_checkpoints", "example_figure", "examples_note",
    "hrgldd_note", "paper_below", "public_roots", "roots_note", "run_configs", "short_label", "stand_in_note",
    "stand_in_roots", "standardising_note", "summary", "training_sets_note", "transfer_heatmap",
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

    def as_parameters(self) -> dict[str, Any]:
        """The settings as the notebook's parameters, for provenance."""
        return asdict(self)

    def train_config(self) -> TrainConfig:
        """The training configuration every model shares; source, group and seed are set per run."""
        return TrainConfig(model=self.model, epochs=self.epochs, batch_size=self.batch_size, crop_size=self.crop_size,
                           val_crop_size=self.val_crop_size, pretrained=self.pretrained, device=self.device,
                           num_workers=self.num_workers, lr=self.lr, checkpoint_every=self.checkpoint_every)


def stand_in_roots(folder: Path, names: Sequence[str], *, seed: int = 0) -> dict[str, Path]:
    """Each named dataset's synthetic stand-in under ``folder/<name>``, written once (kept when already there)."""
    roots = {}
    for name in names:
        root = folder / name
        if not is_stand_in(root):
            STAND_IN_WRITERS[name](root, seed=seed)
        roots[name] = root
    return roots


def public_roots(datasets: Mapping[str, str | None], stand_in_folder: Path, *, seed: int = 0) -> dict[str, Path]:
    """Source name → root for the page's ``datasets`` parameter: a given path, or the stand-in where it is None."""
    missing = [name for name, root in datasets.items() if not root]
    stand_ins = stand_in_roots(stand_in_folder, missing, seed=seed)
    return {name: Path(root) if root else stand_ins[name] for name, root in datasets.items()}


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
    return (f"**Synthetic stand-ins.** {names}: no copy of {'this dataset' if len(stand_ins) == 1 else 'these datasets'} "
            "was given, so each row trains on a small synthetic stand-in written in the dataset's official format "
            "(file names, data types, band order, mask encoding) by `landslide_core.sources.<name>.write_stand_in`. "
            "They are not the datasets' imagery: their scores say nothing about the real datasets.")


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


def summary(table: pd.DataFrame, baselines: pd.DataFrame, matrix: pd.DataFrame, *, synthetic: bool,
            configs: Sequence[Mapping[str, Any]], column: str) -> str:
    """What the run shows, in Markdown: the best training set, CAS against the public datasets, transfer.

    Args:
        table: :func:`landslide_core.experiments.table7.table7` of the run.
        baselines: :func:`landslide_core.experiments.table7.table7_baselines` of the run.
        matrix: :func:`landslide_core.experiments.table7.transfer_matrix` (IoU).
        synthetic: Whether any of the data are synthetic.
        configs: The runs' own ``config.json`` contents (:func:`run_configs`): how they trained.
        column: The CAS held-out part's column label.
    """
    ranked = table.sort_values("iou", ascending=False)
    best = ranked.iloc[0]
    cas_rows = table[table["dataset"].isin(["UAV", "SAT", "SAT + UAV"])]
    public = table[~table.index.isin(cas_rows.index)]
    lines = [f"- On {column}, the model trained on **{short_label(best['dataset'])}** has the highest landslide IoU "
             f"({best['iou']:.1f} %); the lowest is {short_label(ranked.iloc[-1]['dataset'])}'s "
             f"({ranked.iloc[-1]['iou']:.1f} %)."]
    if len(cas_rows) and len(public):
        beaten = int((public["iou"].to_numpy()[:, None] < cas_rows["iou"].to_numpy()[None, :]).all(axis=1).sum())
        lines.append(f"- {beaten} of the {len(public)} public datasets score below every CAS training set on IoU.")
    lines.append(f"- {paper_below()}")
    lines.append(_against_baselines(table, baselines))
    own = [matrix.loc[r, c] for r in matrix.index for c in matrix.columns if _trained_on(r, c)]
    other = [matrix.loc[r, c] for r in matrix.index for c in matrix.columns if not _trained_on(r, c)]
    if own and other:
        lines.append(f"- In the matrix, models score {np.nanmean(own):.1f} % IoU on average on their own dataset's "
                     f"held-out part and {np.nanmean(other):.1f} % on the others'.")
    how = describe_training(configs)
    if synthetic:
        verdict = (f"These models were trained on synthetic data ({how}): the CAS demo tiles and stand-ins written in "
                   "each public dataset's format. The numbers check that every source, split and evaluation runs end "
                   "to end; they say nothing about the real datasets. Give the datasets' roots (`datasets`) and the "
                   "CAS root (`data_root`) to rerun it on the real data.")
    else:
        verdict = (f"Trained with {how}. The epochs and batch size are ours; the paper's training settings name "
                   f"neither: {quote('optimiser').cited()}. Public datasets without a split of their own train on "
                   "70 % of their samples here (ours), so that every model also has a held-out part to be scored on.")
    return "\n".join(lines) + "\n\n" + verdict


def _against_baselines(table: pd.DataFrame, baselines: pd.DataFrame) -> str:
    """How many models beat each baseline on the same tiles, and which are no result (the rule stated on the page).

    The threshold rule each model is compared with was fitted on the model's own training set.
    """
    models = table.set_index("dataset")
    parts = []
    for name in BASELINES:
        rows = baselines[baselines["model"] == name].set_index("dataset").reindex(models.index)
        beaten = beats_baseline(models, rows)
        if name == THRESHOLD_RULE:
            which = ", ".join(short_label(d) for d in models.index[beaten]) or "none"
            parts.append(f"{int(beaten.sum())} beat the threshold rule fitted on their own training set ({which})")
        else:
            parts.append(f"{int(beaten.sum())} beat {name} ({rows['iou'].iloc[0]:.1f} / {rows['miou'].iloc[0]:.1f} %)")
    text = (f"- Against the baselines on the same tiles (landslide IoU / mIoU), of {len(models)} models: "
            + "; ".join(parts) + f". Here {RULE}.")
    unlearned = no_result(pd.concat([table, baselines], ignore_index=True), "dataset").to_numpy()
    flat = [short_label(d) for d in table.loc[unlearned, "dataset"]]
    if flat:
        many = len(flat) > 1
        text += (f"\n- **No result**: the model{'s' if many else ''} trained on {', '.join(flat)} "
                 f"score{'' if many else 's'} an mIoU not more than {MARGIN:g} point above that of the better "
                 f"constant, so {'they have' if many else 'it has'} not learned to find landslides.")
    return text


def _trained_on(row: str, column: str) -> bool:
    """Whether a matrix cell is a model on its own dataset's held-out part."""
    return column == row or (column.startswith("CAS") and row in ("UAV", "SAT", "SAT + UAV"))
