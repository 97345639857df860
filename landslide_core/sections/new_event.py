"""The new-event page: what it computes beyond the experiment (:mod:`landslide_core.experiments.new_event`).

The page's parameters become one :class:`EventSettings`; :func:`plan_event` plans its runs outside the page, for
``landslide-core new-event`` (list, submit as jobs, run one), from the same parameters, so the page built afterwards
collects what the jobs wrote. The tables, figures and the one sentence per region are derived from the judged
counts (:func:`~landslide_core.experiments.new_event.judge_event`): a model "maps the region as well as" another
only where the paired interval of their difference holds 0, and "reaches the in-region score" (the issue's
criterion) where its interval reaches the in-region model's score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from ..book.page import results_folder
from ..book.runner import resolve_data_root
from ..errors import ConfigError
from ..eval.baselines import ALL_BACKGROUND, ALL_LANDSLIDE, THRESHOLD_RULE
from ..experiments.new_event import (
    HELD_OUT,
    IN_REGION,
    EventRun,
    FineTuning,
    RegionSplit,
    k_label,
    plan_regions,
    plan_runs,
    rule_label,
    run_event,
)
from ..scoring.intervals import Judged, format_difference, format_interval
from ..sources.cas import regions, subdatasets
from ..train.config import TrainConfig
from .benchmarks import runs_directory
from .cross_dataset import CrossSettings
from .grid import page_values

__all__ = [
    "SECTION", "EventPlan", "EventSettings", "answers", "demo_limits", "gap_figure", "gap_table", "locations_of",
    "missing_note", "plan_event", "prepare", "regions_table", "shots_figure", "shots_run", "shots_table",
    "train_missing",
]

SECTION = "new_event"


@dataclass(frozen=True)
class EventSettings(CrossSettings):
    """The new-event page's parameters that decide what is trained and how: the cross-dataset page's, and these."""

    shots: tuple[int, ...] = (0, 5, 20, 50)
    """The k values: labelled tiles of the held-out region the held-out model is fine-tuned on (0: not at all)."""
    finetune_epochs: int = 10
    finetune_lr: float = 0.01
    group: str = "UAV&SAT"
    """The sensor group every run trains and is scored on (default: all sensors)."""
    regions: tuple[str, ...] | None = None
    """Paper Table 4's keys of the regions held out in turn; ``None``: every region with tiles of the group."""
    val_fraction: float = 0.3
    train: bool = True
    """Train the runs that are missing here (else only collect the finished ones)."""

    def __post_init__(self) -> None:
        """Lists from a notebook's parameters become tuples; the k values are checked.

        Raises:
            ConfigError: A k is negative.
        """
        for name in ("seeds", "shots"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.regions is not None:
            object.__setattr__(self, "regions", tuple(self.regions))
        if any(k < 0 for k in self.shots):
            raise ConfigError(f"shots are numbers of labelled tiles, 0 or more; got {list(self.shots)}")

    @classmethod
    def from_parameters(cls, values: Mapping[str, Any]) -> EventSettings:
        """The settings among a page's parameters (others, such as ``data_root``, are ignored)."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})

    def train_config(self) -> TrainConfig:
        """What every held-out and in-region run trains with (seed set per run)."""
        return replace(super().train_config(), group=self.group, val_fraction=self.val_fraction)

    def tuning(self) -> FineTuning:
        """How the k-tile runs fine-tune."""
        return FineTuning(self.finetune_epochs, self.finetune_lr)


def prepare(settings: EventSettings, data_root: Path, runs_dir: Path, *,
            progress: bool = True) -> tuple[dict[int, list[RegionSplit]], list[EventRun]]:
    """Every seed's region splits (manifests written where missing) and every run they make."""
    splits = {seed: plan_regions(data_root, runs_dir / "splits", group=settings.group, seed=seed,
                                 val_fraction=settings.val_fraction, shots=settings.shots, chosen=settings.regions,
                                 progress=progress)
              for seed in settings.seeds}
    return splits, plan_runs(splits, runs_dir, settings.train_config(), settings.tuning(), settings.shots)


@dataclass(frozen=True)
class EventPlan:
    """The page's runs for one profile, planned outside the page: settings, data, runs folder, splits and runs."""

    profile: str
    settings: EventSettings
    data_root: Path
    runs_dir: Path
    splits: dict[int, list[RegionSplit]]
    runs: list[EventRun]


def plan_event(profile: str, overrides: Mapping[str, Any] | None = None) -> EventPlan:
    """The runs the new-event page would make with ``profile`` and ``overrides`` (``-p NAME VALUE``).

    Raises:
        ProfileError: The profile needs a parameter that is not given (the paper profile: ``data_root``).
        GridError: An override is not a parameter of the page.
    """
    values = page_values(SECTION, profile, overrides)
    settings = EventSettings.from_parameters(values)
    data_root = resolve_data_root(values.get("data_root"))
    runs_dir = runs_directory(results_folder(profile, SECTION), values.get("runs_dir"))
    splits, runs = prepare(settings, data_root, runs_dir)
    return EventPlan(profile, settings, data_root, runs_dir, splits, runs)


def train_missing(runs: Sequence[EventRun]) -> int:
    """Train and score every run not done (held-out models before their k-tile runs); returns how many ran."""
    missing = [run for run in runs if not run.done()]
    for run in tqdm(missing, desc="new-event runs", unit="run"):
        run_event(run, progress=False)
    return len(missing)


def missing_note(missing: Sequence[EventRun], total: int, *, profile: str, data_root: Path | None) -> str:
    """Which runs have not finished and the command that runs them, in Markdown; empty if none."""
    if not missing:
        return ""
    root = f" -p data_root {data_root}" if data_root is not None else ""
    names = ", ".join(run.label for run in missing)
    return (f"**{len(missing)} of {total} runs have not finished**, so the tables below leave them out: {names}. "
            "This page only collects finished runs (parameter `train` is false). Run the missing ones as Slurm jobs "
            f"with `landslide-core new-event --profile {profile}{root} --submit` (add `--executor local` to run them "
            "on this machine), then build this page again.")


def regions_table(splits: Sequence[RegionSplit]) -> pd.DataFrame:
    """Per held-out region (one seed's splits): its trigger, its sub-datasets and how its tiles are used.

    The trigger is paper Table 4's; the sub-datasets are those under the data root.
    """
    table4 = {r.key: r for r in regions()}
    rows = []
    for split in splits:
        present = {uid.split("/", 1)[0] for uid in (*split.evaluation, *split.pool)}
        names = [sd.name for sd in subdatasets() if sd.key in present]
        rows.append({"region": split.location, "trigger (Table 4)": table4[split.region].trigger,
                     "sub-datasets": ", ".join(names), "evaluation tiles": len(split.evaluation),
                     "labelled pool": len(split.pool), "held-out model trains on": len(split.elsewhere),
                     "left out (share pixels)": split.left_out})
    return pd.DataFrame(rows).set_index("region")


def _cell(judged: Judged, configuration: str, region: str, metric: str) -> tuple[float, float, float]:
    """(value, low, high) of one configuration in one region; NaNs where it was not scored there."""
    try:
        row = judged.estimate(configuration, metric, region=region)
    except ConfigError:
        return (np.nan, np.nan, np.nan)
    return float(row["value"]), float(row["low"]), float(row["high"])


def _delta(judged: Judged, a: str, b: str, region: str, metric: str) -> pd.Series | None:
    try:
        return judged.difference(a, b, metric, region=region)
    except ConfigError:
        return None


def _shown(judged: Judged, configuration: str, region: str, metric: str) -> str:
    return format_interval(*_cell(judged, configuration, region, metric))


def _regions(judged: Judged, locations: Mapping[str, str]) -> list[str]:
    """The regions scored, in the order of ``locations`` (paper Table 4's)."""
    scored = set(judged.estimates["region"])
    return [region for region in locations if region in scored]


def gap_table(judged: Judged, locations: Mapping[str, str], metric: str = "iou") -> pd.DataFrame:
    """Per region: in-region and held-out scores, the gap (in-region − held-out) and the baselines, with intervals."""
    rows = []
    for region in _regions(judged, locations):
        gap = _delta(judged, IN_REGION, HELD_OUT, region, metric)
        rows.append({"region": locations[region], "in-region": _shown(judged, IN_REGION, region, metric),
                     "held-out": _shown(judged, HELD_OUT, region, metric),
                     "gap (in-region − held-out)": "—" if gap is None else format_difference(gap["delta"], gap["low"],
                                                                                            gap["high"]),
                     "threshold rule (other regions)": _shown(judged, rule_label(None), region, metric),
                     ALL_LANDSLIDE: _shown(judged, ALL_LANDSLIDE, region, metric),
                     ALL_BACKGROUND: _shown(judged, ALL_BACKGROUND, region, metric)})
    return pd.DataFrame(rows).set_index("region")


def _shots(judged: Judged, region: str, shots: Sequence[int]) -> list[int]:
    """The k values scored in a region: 0 (the held-out model) where it was, then every k that ran there."""
    scored = set(judged.estimates.loc[judged.estimates["region"] == region, "configuration"])
    return [k for k in sorted(set(shots) | {0}) if (HELD_OUT if k == 0 else k_label(k)) in scored]


def _reaches(judged: Judged, configuration: str, region: str, metric: str) -> bool:
    """Whether the configuration's interval reaches the in-region model's score (the issue's criterion)."""
    target = _cell(judged, IN_REGION, region, metric)[0]
    high = _cell(judged, configuration, region, metric)[2]
    return bool(np.isfinite(target) and np.isfinite(high) and high >= target)


def shots_table(judged: Judged, locations: Mapping[str, str], shots: Sequence[int],
                metric: str = "iou") -> pd.DataFrame:
    """Per region and k: the fine-tuned model, the rule fitted on the same k tiles, and how it stands to in-region."""
    rows = []
    for region in _regions(judged, locations):
        for k in _shots(judged, region, shots):
            name = HELD_OUT if k == 0 else k_label(k)
            gap = _delta(judged, IN_REGION, name, region, metric)
            rows.append({"region": locations[region], "k": k, "model": _shown(judged, name, region, metric),
                         "threshold rule (same k tiles)": "—" if k == 0 else _shown(judged, rule_label(k), region,
                                                                                    metric),
                         "in-region − model": "—" if gap is None else format_difference(gap["delta"], gap["low"],
                                                                                       gap["high"]),
                         "interval reaches in-region": "yes" if _reaches(judged, name, region, metric) else "no"})
    return pd.DataFrame(rows).set_index(["region", "k"])


def gap_figure(judged: Judged, locations: Mapping[str, str], metric: str = "iou", label: str = "landslide IoU") -> Figure:
    """Per region, the in-region and held-out scores with their intervals, and the baselines in grey.

    The better constant is a tick, the threshold rule fitted on the other regions a square.
    """
    names = _regions(judged, locations)
    figure, axis = plt.subplots(figsize=(7.5, 0.5 * len(names) + 1.6), layout="constrained")
    for offset, (configuration, colour) in ((-0.15, (IN_REGION, "#1b7837")), (0.15, (HELD_OUT, "#762a83"))):
        cells = np.array([_cell(judged, configuration, region, metric) for region in names])
        y = np.arange(len(names)) + offset
        axis.errorbar(cells[:, 0], y, xerr=[cells[:, 0] - cells[:, 1], cells[:, 2] - cells[:, 0]], fmt="o",
                      color=colour, capsize=3, label=configuration)
    constants = np.array([max(_cell(judged, c, region, metric)[0] for c in (ALL_LANDSLIDE, ALL_BACKGROUND))
                          for region in names])
    axis.scatter(constants, np.arange(len(names)), marker="|", s=200, color="grey", label="better constant")
    rules = [_cell(judged, rule_label(None), region, metric)[0] for region in names]
    axis.scatter(rules, np.arange(len(names)), marker="s", s=30, color="grey", label=rule_label(None))
    axis.set_yticks(range(len(names)), [locations[r] for r in names])
    axis.invert_yaxis()
    axis.set_xlabel(f"{label} (%) with 95 % interval")
    figure.legend(loc="outside lower center", ncols=4, fontsize=8)
    return figure


def shots_figure(judged: Judged, locations: Mapping[str, str], shots: Sequence[int], metric: str = "iou",
                 label: str = "landslide IoU") -> Figure:
    """One panel per region: the fine-tuned model's score against k, the rule on the same k tiles, in-region band."""
    names = _regions(judged, locations)
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False,
                                layout="constrained", sharey=True)
    for axis, region in zip(axes.flat, names, strict=False):
        ks = _shots(judged, region, shots)
        cells = np.array([_cell(judged, HELD_OUT if k == 0 else k_label(k), region, metric) for k in ks])
        axis.errorbar(ks, cells[:, 0], yerr=[cells[:, 0] - cells[:, 1], cells[:, 2] - cells[:, 0]], fmt="o-",
                      color="#762a83", capsize=3, label="fine-tuned (k = 0: held-out)")
        rules = [k for k in ks if k > 0]
        if rules:
            axis.plot(rules, [_cell(judged, rule_label(k), region, metric)[0] for k in rules], "s--", color="grey",
                      label="threshold rule on k tiles")
        value, low, high = _cell(judged, IN_REGION, region, metric)
        axis.axhspan(low, high, color="#1b7837", alpha=0.15)
        axis.axhline(value, color="#1b7837", label="in-region (95 % interval shaded)")
        axis.set_title(locations[region], fontsize=9)
        axis.set_xticks(ks)
        axis.set_xlabel("k labelled tiles")
    for axis in axes.flat[len(names):]:
        axis.set_visible(False)
    axes[0, 0].set_ylabel(f"{label} (%)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8)
    return figure


def _first_reaching(judged: Judged, region: str, shots: Sequence[int], metric: str) -> int | None:
    return next((k for k in _shots(judged, region, shots)
                 if _reaches(judged, HELD_OUT if k == 0 else k_label(k), region, metric)), None)


def _against_rule(judged: Judged, region: str, metric: str) -> str:
    """``, and better than the threshold rule fitted on the other regions (x %)`` (or worse, or not distinguishable)."""
    rule = rule_label(None)
    delta = _delta(judged, HELD_OUT, rule, region, metric)
    if delta is None:
        return ""
    word = "better than" if delta["low"] > 0 else "worse than" if delta["high"] < 0 else "not distinguishable from"
    return (f", and {word} the {THRESHOLD_RULE} fitted on the other regions "
            f"({format_interval(*_cell(judged, rule, region, metric))} %)")


def answers(judged: Judged, locations: Mapping[str, str], shots: Sequence[int], metric: str = "iou",
            label: str = "landslide IoU") -> list[str]:
    """One sentence per region answering the mapper's two questions, from the judged scores."""
    lines = []
    for region in _regions(judged, locations):
        held, inside = _cell(judged, HELD_OUT, region, metric), _cell(judged, IN_REGION, region, metric)
        gap = _delta(judged, IN_REGION, HELD_OUT, region, metric)
        if gap is None:
            lines.append(f"{locations[region]}: not every run of this region has finished, so there is no answer yet.")
            continue
        if gap["low"] > 0:
            verdict = "worse than"
        elif gap["high"] < 0:
            verdict = "better than"
        else:
            verdict = "not distinguishable from"
        ks = [k for k in _shots(judged, region, shots) if k > 0]
        reached = _first_reaching(judged, region, shots, metric)
        if reached == 0:
            labelled = "it needs no labelled tile: its interval already reaches the in-region score"
        elif reached is not None:
            labelled = f"fine-tuned on k = {reached} labelled tiles, its interval reaches the in-region score"
        elif ks:
            labelled = f"no k tried (up to {max(ks)}) brings its interval up to the in-region score"
        else:
            labelled = "its pool is too small for any k tried"
        lines.append(f"- **{locations[region]}**: trained on the other regions, the model maps it at {label} "
                     f"{format_interval(*held)} %, {verdict} a model trained on the region's own labelled pool "
                     f"({format_interval(*inside)} %; gap {format_difference(gap['delta'], gap['low'], gap['high'])} "
                     f"points){_against_rule(judged, region, metric)}; {labelled}.")
    return lines


def locations_of(splits: Sequence[RegionSplit]) -> dict[str, str]:
    """Region key → its name in paper Table 4."""
    return {split.region: split.location for split in splits}


def shots_run(splits: Mapping[int, Sequence[RegionSplit]], shots: Sequence[int]) -> str:
    """Which k values each region's pool allows, as a sentence (fewer where a region is small)."""
    first = next(iter(splits.values()))
    parts = [f"{s.location} {', '.join(str(k) for k in sorted(set(shots) | {0}) if k <= len(s.pool))} "
             f"(pool {len(s.pool)})" for s in first]
    return "The k values each region's labelled pool allows: " + "; ".join(parts) + "."


def demo_limits(settings: EventSettings, splits: Sequence[RegionSplit], *, synthetic: bool) -> str:
    """What this run cannot show, in plain words: synthetic data, few evaluation blocks, short training.

    An interval resamples a region's evaluation tiles by leakage group, so it is only as good as their number of
    groups: one group gives a zero-width interval, which measures nothing.
    """
    blocks = {s.location: len(set(s.blocks.values())) for s in splits}
    fewest = min(blocks, key=blocks.__getitem__)
    parts = []
    if synthetic:
        parts.append("the tiles are synthetic, so the scores say nothing about how a model maps a real new event")
    if blocks[fewest] < 30:
        few = [name for name, n in blocks.items() if n < 30]
        parts.append(f"the evaluation tiles of {len(few)} of the {len(blocks)} regions form fewer than 30 leakage "
                     f"groups ({fewest}: {blocks[fewest]}), and an interval resamples whole groups, so theirs are "
                     "rough (and of zero width where a region's tiles form one group: no measure of uncertainty)")
    if settings.epochs < 20:
        parts.append(f"every model trains {settings.epochs} epoch(s) ({settings.model}), far from convergence, so a "
                     "gap or a k here describes these short runs, not the models")
    if not parts:
        return ""
    return "**What this run cannot show.** " + "; ".join(parts) + "."

