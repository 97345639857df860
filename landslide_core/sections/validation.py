"""What the "Validation of quality control" page (paper Table 6) computes beyond the experiment itself.

The page's training parameters become one :class:`QCSettings`; the tiles come from
:func:`landslide_core.sections.building.build_dataset` (synthetic scenes) or, for the
published dataset, from the data root alone, which holds only tiles that passed
quality control. The summary under the tables is derived from the run's numbers;
:func:`paper_notes` quotes the paper on the experiment and shows where its numbers disagree.

Every number comes with a block-bootstrap interval (:mod:`landslide_core.scoring.intervals`): each arm's model and
baselines on the arm's own validation tiles, resampled by the leakage groups among those tiles
(:func:`arm_intervals`), and the comparisons of :data:`COMPARISONS` as paired differences (:func:`judge_comparisons`).
The summary says "X beats Y" only where the interval of the difference excludes 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..building.leakage_split import grouped_split
from ..data.statistics import usable_cores
from ..errors import ConfigError
from ..eval.baselines import BASELINES, rule
from ..eval.paper import paper_values
from ..experiments.table5 import GridRun
from ..experiments.table6 import ARMS, QCArm, qc_arms, validation_blocks
from ..paper import mismatches, says
from ..scoring.intervals import BootstrapSettings, Judged, compare, difference_text, format_difference, judge
from ..scoring.metrics import PAPER_COLUMNS
from ..sources import get_source
from ..train.config import TrainConfig
from .benchmarks import no_checkpoints_note
from .training_text import describe_training

__all__ = ["COMPARISONS", "SHOWN_NAMES", "Comparison", "QCSettings", "arm_blocks", "arm_intervals", "arms_for",
           "baseline_lines", "common_table", "comparison_table", "judge_comparisons", "no_common_scores_note",
           "no_result_cells", "paper_notes", "record_table", "summary"]

SHOWN_NAMES = {**PAPER_COLUMNS, "f1_landslide": "F1 (landslide class)"}
"""Column labels of the page's tables and records."""
_LABELS = {"iou": "landslide IoU", "miou": "mIoU"}
"""The metrics the comparisons are judged on, as sentences name them."""


@dataclass(frozen=True)
class Comparison:
    """One comparison of two arms' models that the page judges: Δ = ``a`` − ``b`` (dataset labels)."""

    label: str
    a: str
    b: str
    same_tiles: bool
    """Both models scored on the same tiles (the filtered arm's validation set), paired tile by tile; otherwise each
    on its own arm's validation tiles, resampled together over the union of both (zeros where one scored none)."""
    names: tuple[str, str]
    """``a`` and ``b`` as the summary's sentences name them."""

    @property
    def tiles(self) -> tuple[str, ...]:
        """The arms (dataset labels) whose validation tiles are resampled: the key of their labels in :func:`arm_blocks`."""
        return (ARMS["filtered"],) if self.same_tiles else (self.a, self.b)


_QC_NAMES = ("the model trained on the kept tiles (SAT)", "the model trained on every tile (Original SAT)")
COMPARISONS = (
    Comparison("after against before quality control, same tiles", ARMS["filtered"], ARMS["unfiltered"], True,
               _QC_NAMES),
    Comparison("after against before quality control, each on its own tiles", ARMS["filtered"], ARMS["unfiltered"],
               False, _QC_NAMES),
    Comparison("random against grouped split", ARMS["filtered"], ARMS["grouped"], False,
               ("the random split", "the grouped split")),
)
"""What the page compares: quality control on the common tiles (the stronger comparison: one set of tiles, paired),
quality control as Table 6 reads it (each model on its own validation set), and the random against the grouped split
(two validation sets of the kept tiles)."""


@dataclass(frozen=True)
class QCSettings:
    """The validation page's parameters that decide how the model is trained."""

    model: str
    epochs: int
    batch_size: int
    crop_size: int | None
    val_crop_size: int | None
    pretrained: bool | str
    device: str
    num_workers: int
    seed: int
    lr: float = 0.01
    """SGD's initial learning rate; 0.01 is the paper's “SGD optimizer with a learning rate of 0.01”."""
    val_every: int = 1
    """Validate (and write the resume checkpoint) every this many epochs, and after the last."""
    steps_per_epoch: int | None = None
    """Stop each epoch after this many optimisation steps; ``None``: every batch. The ``rehearsal`` profile's 1 runs
    every other stage of the page in full (:attr:`~landslide_core.train.config.TrainConfig.steps_per_epoch`)."""

    def as_parameters(self) -> dict[str, Any]:
        """The settings as the notebook's parameters, for provenance."""
        return asdict(self)

    def train_config(self) -> TrainConfig:
        """Every arm's training configuration: the SAT group, as paper Table 6."""
        return TrainConfig(model=self.model, group="SAT", epochs=self.epochs, batch_size=self.batch_size,
                           crop_size=self.crop_size, val_crop_size=self.val_crop_size, pretrained=self.pretrained,
                           device=self.device, num_workers=self.num_workers, seed=self.seed, lr=self.lr,
                           val_every=self.val_every, checkpoint_every=self.val_every,
                           steps_per_epoch=self.steps_per_epoch)


def arms_for(filtered_root: Path, runs_dir: Path, *, unfiltered_root: Path | None, seed: int,
             val_fraction: float = 0.3) -> list[QCArm]:
    """The experiment's arms, with the grouped split built from the leakage audit of the filtered tiles (every core)."""
    grouped, _ = grouped_split(get_source("cas").list_tiles(filtered_root), val_fraction=val_fraction, seed=seed,
                               progress=False, workers=usable_cores())
    return qc_arms(filtered_root, runs_dir, grouped=grouped, unfiltered_root=unfiltered_root, seed=seed,
                   val_fraction=val_fraction)


def paper_notes() -> str:
    """Markdown under Table 6: the two arms and the split quoted, our reading, and where Table 6 disagrees.

    Quotes and numbers come from :mod:`landslide_core.paper`; the reading that each arm is scored on its own
    7:3 split is ``unfiltered_own_split`` of ``inferences.yaml``.
    """
    found = mismatches()
    return "\n".join([
        f"- **The two arms.** {says('original_sat')}",
        "- **The split.** The unfiltered and filtered arms are split 7:3 at random, "
        f"{says('random_split', lead='as the paper says')} (for Table 5). Ours: that Table 6 was split the same way, and that each arm is scored on its own split, "
        "so the unfiltered model is also judged on the tiles quality control removed (Table 6 names no "
        "validation tiles; the next section scores both models on the same tiles).",
        f"- **Tiles.** {found['sat_tiles'].line()}",
        f"- **The gain.** {says('qc_one_percent')}. {found['one_percent'].line()}",
    ])


def arm_blocks(arms: Sequence[QCArm], base: TrainConfig) -> dict[tuple[str, ...], dict[str, str]]:
    """Tile → leakage group of every set of tiles the page resamples, keyed by the arms' dataset labels.

    Each arm's own validation tiles (``(dataset,)``; the common tiles are the filtered arm's) and, for each
    comparison of :data:`COMPARISONS` on different tiles, the union of both arms' (:attr:`Comparison.tiles`). The
    leakage audit behind them is cached beside the manifests (:func:`~landslide_core.experiments.table6.validation_blocks`).
    """
    by_label = {arm.dataset: arm for arm in arms}
    wanted = [(arm.dataset,) for arm in arms] + [c.tiles for c in COMPARISONS if set(c.tiles) <= set(by_label)]
    return {labels: validation_blocks([by_label[label] for label in labels], base) for labels in dict.fromkeys(wanted)}


def _blocks(blocks: Mapping[tuple[str, ...], Mapping[str, str]], labels: tuple[str, ...]) -> Mapping[str, str]:
    if labels not in blocks:
        raise ConfigError(f"no leakage groups of the validation tiles of {list(labels)}: pass arm_blocks(arms, base) "
                          "for the arms these counts come from")
    return blocks[labels]


def arm_intervals(counts: pd.DataFrame, blocks: Mapping[tuple[str, ...], Mapping[str, str]],
                  settings: BootstrapSettings) -> Judged:
    """Each arm's model and baselines with intervals, on the arm's own validation tiles (``within`` dataset).

    Every arm is resampled by the leakage groups among its own tiles, so its model and baselines share block draws
    and their differences are paired (:func:`~landslide_core.eval.baselines.baseline_judgements`).

    Args:
        counts: Per-tile counts with ``dataset`` (:func:`~landslide_core.experiments.table6.arm_tile_counts`).
        blocks: :func:`arm_blocks`.
        settings: Resamples, seed and coverage.
    """
    return judge(counts, within=["dataset"], blocks=lambda cell: _blocks(blocks, (cell["dataset"],)),
                 settings=settings)


def record_table(table: pd.DataFrame, judged: Judged) -> pd.DataFrame:
    """``table``'s rows (model, dataset, scores) with each resampled score's interval beside it, columns as shown.

    E.g. ``IoU``, ``IoU low``, ``IoU high``: the record of every arm's models and baselines.
    """
    estimates = judged.estimates.rename(columns={"configuration": "model"})
    rows = pd.MultiIndex.from_frame(table[["model", "dataset"]])
    shown = table.copy()
    for metric in judged.settings.metrics:
        bounds = estimates[estimates["metric"] == metric].set_index(["model", "dataset"])
        position = shown.columns.get_loc(metric)
        for offset, bound in enumerate(("low", "high"), start=1):
            shown.insert(position + offset, f"{SHOWN_NAMES[metric]} {bound}", bounds[bound].reindex(rows).to_numpy())
    return shown.rename(columns=SHOWN_NAMES)


def no_result_cells(unlearned: pd.DataFrame) -> list[tuple[str, str]]:
    """(dataset, model) of every model that is no result: the cells the Table 6 comparison marks †.

    ``unlearned`` is :func:`~landslide_core.eval.baselines.no_result` of :func:`arm_intervals`.
    """
    flat = unlearned[unlearned["no result"]]
    return list(zip(flat["dataset"], flat["model"], strict=True))


def judge_comparisons(counts: pd.DataFrame, common_tiles: pd.DataFrame,
                      blocks: Mapping[tuple[str, ...], Mapping[str, str]], settings: BootstrapSettings) -> pd.DataFrame:
    """Every comparison of :data:`COMPARISONS` whose models were scored: Δ = a − b with its paired interval.

    A comparison on different tiles resamples the union of both arms' validation tiles with shared block draws, each
    model carrying zeros on the tiles it did not score; one on the same tiles uses ``common_tiles``.

    Args:
        counts: Per-tile counts with ``dataset`` (:func:`~landslide_core.experiments.table6.arm_tile_counts`); only
            the models' rows are compared.
        common_tiles: Both models' counts on the common tiles, with ``trained on`` (the second value of
            :func:`~landslide_core.experiments.table6.common_validation_scores`); empty where they were not scored.
        blocks: :func:`arm_blocks`.
        settings: Resamples, seed and coverage.

    Returns:
        Rows of comparison (its label), tiles (``same`` or ``different``), a, b, metric, delta, low and high (points).
    """
    models = counts[~counts["model"].isin(BASELINES)]
    frames = []
    for comparison in COMPARISONS:
        frame, configuration = (common_tiles, "trained on") if comparison.same_tiles else (models, "dataset")
        if frame.empty or not {comparison.a, comparison.b} <= set(frame[configuration]):
            continue
        pair = frame[frame[configuration].isin([comparison.a, comparison.b])]
        judged = judge(pair, configuration=configuration, blocks=_blocks(blocks, comparison.tiles), settings=settings,
                       pairs=[(comparison.a, comparison.b)])
        frames.append(judged.differences.assign(comparison=comparison.label,
                                                tiles="same" if comparison.same_tiles else "different"))
    columns = ["comparison", "tiles", "a", "b", "metric", "delta", "low", "high"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def common_table(common: pd.DataFrame, common_tiles: pd.DataFrame,
                 blocks: Mapping[tuple[str, ...], Mapping[str, str]], settings: BootstrapSettings) -> pd.DataFrame:
    """Both models on the common tiles: validation tiles, landslide IoU and mIoU, each with its interval.

    ``common`` and ``common_tiles`` are :func:`~landslide_core.experiments.table6.common_validation_scores`' two
    values; the tiles are the filtered arm's validation set, resampled by its leakage groups (:func:`arm_blocks`).
    """
    judged = judge(common_tiles, configuration="trained on", blocks=_blocks(blocks, (ARMS["filtered"],)),
                   settings=settings)
    table = common.set_index("trained on")[["val tiles"]]
    for metric in _LABELS:
        for column, source in ((SHOWN_NAMES[metric], "value"), (f"{SHOWN_NAMES[metric]} low", "low"),
                               (f"{SHOWN_NAMES[metric]} high", "high")):
            table[column] = [judged.estimate(name, metric)[source] for name in table.index]
    return table


def comparison_table(differences: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """:func:`judge_comparisons`' landslide IoU and mIoU differences as cells ``Δ [low, high]``, one row each."""
    rows = []
    for label, judged in differences.groupby("comparison", sort=False):
        cells = judged.set_index("metric")
        rows.append({"comparison": label, "tiles": cells["tiles"].iloc[0],
                     **{f"Δ {SHOWN_NAMES[m]} [{100 * level:g} % interval]":
                        format_difference(*cells.loc[m, ["delta", "low", "high"]])
                        for m in _LABELS}})
    columns = ["comparison", "tiles", *(f"Δ {SHOWN_NAMES[m]} [{100 * level:g} % interval]" for m in _LABELS)]
    return pd.DataFrame(rows, columns=columns).set_index("comparison")


def _names(names: Sequence[str]) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def _interval(row: pd.Series, label: str, level: float) -> str:
    """The difference in ``row``'s columns ``label``, ``label low`` and ``label high`` (e.g. ``Δ mIoU``) in words."""
    return difference_text(label.removeprefix("Δ "), row[label], row[f"{label} low"], row[f"{label} high"], level)


def baseline_lines(judgements: pd.DataFrame, unlearned: pd.DataFrame, level: float = 0.95) -> list[str]:
    """Per arm: which baselines its model beats, the differences to those it does not, and whether it is no result.

    ``judgements`` and ``unlearned`` are :func:`~landslide_core.eval.baselines.baseline_judgements` and
    :func:`~landslide_core.eval.baselines.no_result` of :func:`arm_intervals`.
    """
    lines = [f"Against the baselines, {rule(level)}.\n"]
    flat = unlearned.set_index("dataset")
    for dataset, rows in judgements.groupby("dataset", sort=False):
        model = rows["model"].iloc[0]
        beaten, unbeaten = rows[rows["beats"]], rows[~rows["beats"]]
        missed = [f"{row['baseline']} ({_interval(row, 'Δ mIoU', level)}; {_interval(row, 'Δ IoU', level)})"
                  for _, row in unbeaten.iterrows()]
        lines.append(f"- **{dataset}**: {model} beats {_names(beaten['baseline']) if len(beaten) else 'no baseline'}"
                     + (f"; it does not beat {_names(missed)}" if missed else "") + ".")
        if dataset in flat.index and flat.loc[dataset, "no result"]:
            row = flat.loc[dataset]
            lines.append(f"- **No result: the model of \"{dataset}\"**: the interval of its mIoU difference to "
                         f"{row['constant']}, the better constant, does not lie above 0 "
                         f"({_interval(row, 'Δ mIoU', level)}), so it has not learned to find landslides, and "
                         "comparisons with this arm are no evidence of anything.")
    return lines


def _judged(differences: pd.DataFrame, comparison: Comparison, level: float) -> str:
    """``comparison``'s verdicts on landslide IoU and mIoU, each "A beats B" only where Δ's interval excludes 0."""
    rows = differences[differences["comparison"] == comparison.label].set_index("metric")
    named = {comparison.a: comparison.names[0], comparison.b: comparison.names[1]}
    return "; ".join(compare({**rows.loc[metric].to_dict(), "a": named[comparison.a], "b": named[comparison.b]},
                             label, level) for metric, label in _LABELS.items())


def summary(judgements: pd.DataFrame, unlearned: pd.DataFrame, differences: pd.DataFrame, epochs: pd.DataFrame, *,
            synthetic: bool, runs: Mapping[str, GridRun], level: float = 0.95) -> str:
    """What the run shows, in Markdown: the baselines, the filtering effect, the leakage gap and the epoch choice.

    Args:
        judgements: :func:`~landslide_core.eval.baselines.baseline_judgements` of :func:`arm_intervals`.
        unlearned: :func:`~landslide_core.eval.baselines.no_result` of the same.
        differences: :func:`judge_comparisons`.
        epochs: :func:`~landslide_core.experiments.runs.epoch_choice` of the runs.
        synthetic: The tiles are the synthetic demo's.
        runs: The arms' runs, whose own ``config.json`` says how they trained.
        level: Coverage of the intervals.
    """
    lines = baseline_lines(judgements, unlearned, level)
    done = set(differences["comparison"])
    same, own, split = COMPARISONS
    if same.label in done:
        lines.append("- **Quality control, same tiles** (both models on the kept tiles' validation set, paired tile "
                     "by tile: the comparison this page judges quality control by): "
                     f"{_judged(differences, same, level)}.")
    if own.label in done:
        published = paper_values(6).set_index("dataset")["iou"]
        gain = published[ARMS["filtered"]] - published[ARMS["unfiltered"]]
        lines.append(f"- **Quality control, each on its own validation tiles** (Table 6's reading; paper: {gain:+.3f} "
                     f"IoU points): {_judged(differences, own, level)}. These are two measurements on different "
                     "tiles (the unfiltered arm's also holds the tiles quality control removed), resampled together "
                     "over both, so part of Δ is the tiles drawn"
                     + ("; the same-tiles comparison above is the stronger one." if same.label in done else "."))
    if split.label in done:
        lines.append("- **Leakage** (the grouped split keeps tiles sharing pixels on one side): "
                     f"{_judged(differences, split, level)}. These are two measurements on different tiles (each "
                     "split's own validation set), resampled together over both, so part of Δ is the tiles drawn.")
    optimism = epochs["mIoU best − last"]
    lines.append(f"- **Choosing the epoch on the validation tiles** adds {optimism.min():.1f} to {optimism.max():.1f} "
                 "mIoU points over the last epoch's score.")
    how = describe_training([run.config for run in runs.values()])
    verdict = (f"Trained on synthetic tiles ({how}): the numbers show that the experiment runs end to end, not how "
               "quality control or leakage affect models of real landslides." if synthetic else f"Trained with {how}.")
    return "\n".join(lines) + "\n\n" + verdict


def no_common_scores_note(runs: Mapping[str, GridRun]) -> str:
    """Why the two models were not scored on the same tiles: no unfiltered model, or no checkpoint to score."""
    if "unfiltered" not in runs:
        return "Only filtered tiles were given, so there is no unfiltered model to compare."
    return no_checkpoints_note([ARMS[key] for key in ("unfiltered", "filtered")
                                if key in runs and runs[key].checkpoint is None],
                               left_out="The two models are not scored on the same tiles")
