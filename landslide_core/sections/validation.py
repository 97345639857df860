"""What the "Validation of quality control" page (paper Table 6) computes beyond the experiment itself.

The page's training parameters become one :class:`QCSettings`; the tiles come from
:func:`landslide_core.sections.building.build_dataset` (synthetic scenes) or, for the
published dataset, from the data root alone, which holds only tiles that passed
quality control. The summary under the tables is derived from the run's numbers;
:func:`paper_notes` quotes the paper on the experiment and shows where its numbers disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..building.leakage_split import grouped_split
from ..eval.baselines import MARGIN, is_baseline, no_result
from ..experiments.table5 import GridRun
from ..experiments.table6 import ARMS, QCArm, qc_arms
from ..paper import mismatches, says
from ..sources import get_source
from ..train.config import TrainConfig
from .benchmarks import baseline_verdicts, no_checkpoints_note
from .training_text import describe_training

__all__ = ["QCSettings", "arms_for", "no_common_scores_note", "paper_notes", "summary"]


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

    def as_parameters(self) -> dict[str, Any]:
        """The settings as the notebook's parameters, for provenance."""
        return asdict(self)

    def train_config(self) -> TrainConfig:
        """Every arm's training configuration: the SAT group, as paper Table 6."""
        return TrainConfig(model=self.model, group="SAT", epochs=self.epochs, batch_size=self.batch_size,
                           crop_size=self.crop_size, val_crop_size=self.val_crop_size, pretrained=self.pretrained,
                           device=self.device, num_workers=self.num_workers, seed=self.seed, lr=self.lr,
                           val_every=self.val_every, checkpoint_every=self.val_every)


def arms_for(filtered_root: Path, runs_dir: Path, *, unfiltered_root: Path | None, seed: int,
             val_fraction: float = 0.3) -> list[QCArm]:
    """The experiment's arms, with the grouped split built from the leakage audit of the filtered tiles."""
    grouped, _ = grouped_split(get_source("cas").list_tiles(filtered_root), val_fraction=val_fraction, seed=seed,
                               progress=False)
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


def _iou(table: pd.DataFrame, dataset: str) -> float:
    return float(table.loc[table["dataset"] == dataset, "iou"].iloc[0])


def summary(table: pd.DataFrame, common: pd.DataFrame, epochs: pd.DataFrame, *, synthetic: bool,
            runs: Mapping[str, GridRun]) -> str:
    """What the run shows, in Markdown: the baselines, the filtering effect, the leakage gap and the epoch choice.

    ``table`` holds :func:`~landslide_core.experiments.table6.table6`'s model rows and
    :func:`~landslide_core.experiments.table6.table6_baselines`' rows; how the arms trained is read from
    ``runs``' own ``config.json``.
    """
    lines = baseline_verdicts(table, "dataset")
    unlearned = no_result(table, "dataset").to_numpy()
    table = table[~is_baseline(table["model"])]
    if unlearned.any():
        flat = list(table.loc[unlearned, "dataset"])
        named = " and ".join(f"\"{d}\"" for d in flat) if len(flat) < 3 else "all three arms"
        lines.append(f"- **No better than a constant**: the model{'s' if len(flat) > 1 else ''} of {named} "
                     f"score{'' if len(flat) > 1 else 's'} an mIoU not more than {MARGIN:g} point above that of the "
                     "better constant (all landslide or all background), so "
                     f"{'they have' if len(flat) > 1 else 'it has'} not learned to find landslides and the differences "
                     "below are no evidence of anything.")
    datasets = set(table["dataset"])
    if {ARMS["unfiltered"], ARMS["filtered"]} <= datasets:
        gain = _iou(table, ARMS["filtered"]) - _iou(table, ARMS["unfiltered"])
        lines.append(f"- **Filtering**: landslide IoU on each arm's own validation tiles is {gain:+.1f} points after "
                     "quality control (paper: +1.862).")
        if len(common) == 2:
            same = common.set_index("trained on")["iou"]
            lines.append(f"- **Same validation tiles** (the kept tiles' validation set): the model trained on all "
                         f"tiles scores {same[ARMS['unfiltered']]:.1f} % IoU, the one trained on the kept tiles "
                         f"{same[ARMS['filtered']]:.1f} %.")
    if {ARMS["filtered"], ARMS["grouped"]} <= datasets:
        gap = _iou(table, ARMS["filtered"]) - _iou(table, ARMS["grouped"])
        lines.append(f"- **Leakage**: the random split scores {gap:+.1f} IoU points against the grouped split, which "
                     "keeps tiles sharing pixels on one side (the validation sets differ, so part of the gap is the "
                     "tiles drawn).")
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
