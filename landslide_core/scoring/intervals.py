"""Intervals and judged comparisons for results tables, from tables of per-tile counts.

The pages hold per-tile counts as long tables (rows of :data:`~.confusion.TILE_COLUMNS`, one per run and tile, with
the run's seed). :func:`judge` turns such a table into what a results table shows: each configuration's scores with
a block-bootstrap interval and the seeds' spread, and the paired difference of every pair of configurations scored
on the same tiles (:mod:`.bootstrap`). :func:`paper_verdicts` says whether a published value lies inside this run's
interval, and :func:`compare` turns a difference into the sentence a summary may write: "A beats B" only where the
interval of Δ excludes 0.

Within one cell of ``within`` (a group, or a group and sub-dataset) every configuration is resampled with the same
block draws over the union of the tiles its runs scored; a run that did not score a tile (another seed's split)
carries zeros there, so each seed is scored on its own tiles and the seeds' tiles are resampled together.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .bootstrap import Blocks, bootstrap_many
from .confusion import COUNT_COLUMNS

__all__ = [
    "DIFFERENCE_COLUMNS", "ESTIMATE_COLUMNS", "TABLE_METRICS", "Blocking", "BootstrapSettings", "Judged", "compare",
    "difference_text", "distinguishable", "format_difference", "format_interval", "interval_table", "judge",
    "paper_verdicts", "signed", "verdict_counts",
]

TABLE_METRICS: tuple[str, ...] = ("precision", "recall", "iou", "f1", "miou", "oa")
"""The scores of the paper's tables, resampled by default."""
ESTIMATE_COLUMNS = ("configuration", "metric", "value", "low", "high", "seed_sd", "seeds")
"""Columns of :attr:`Judged.estimates` after the ``within`` keys: mean over seeds, interval and the seeds' standard
deviation (NaN with one seed), in percent."""
DIFFERENCE_COLUMNS = ("a", "b", "metric", "delta", "low", "high")
"""Columns of :attr:`Judged.differences` after the ``within`` keys: Δ = a − b in points and its paired interval."""


Blocking = Mapping[str, Hashable] | Callable[[Mapping[str, Hashable]], Mapping[str, Hashable] | None]
"""What :func:`judge` resamples together: tile → block label for every cell, or a function of a cell's keys giving
that cell's labels."""


@dataclass(frozen=True)
class BootstrapSettings:
    """How intervals are drawn: resamples, seed of the draws and coverage. A page takes them as parameters."""

    resamples: int = 10_000
    seed: int = 0
    level: float = 0.95
    metrics: tuple[str, ...] = TABLE_METRICS

    def describe(self) -> str:
        """E.g. ``95 % intervals from 10,000 block-bootstrap resamples (seed 0)``."""
        return (f"{100 * self.level:g} % intervals from {self.resamples:,} block-bootstrap resamples "
                f"(seed {self.seed})")


@dataclass(frozen=True)
class Judged:
    """What :func:`judge` found: estimates and paired differences, both in percent (points), by ``within``."""

    within: tuple[str, ...]
    estimates: pd.DataFrame
    differences: pd.DataFrame
    settings: BootstrapSettings = field(default_factory=BootstrapSettings)

    def _select(self, frame: pd.DataFrame, where: Mapping[str, Hashable]) -> pd.DataFrame:
        unknown = sorted(set(where) - set(self.within))
        if unknown:
            raise ConfigError(f"{unknown} are not among the keys {list(self.within)} these intervals were drawn within")
        mask = np.ones(len(frame), bool)
        for key, value in where.items():
            mask &= (frame[key] == value).to_numpy()
        return frame[mask]

    def estimate(self, configuration: str, metric: str, **where: Hashable) -> pd.Series:
        """The row of ``configuration``'s ``metric`` in the cell ``where`` (e.g. ``group="SAT"``).

        Raises:
            ConfigError: No such row (a name, metric or cell not resampled).
        """
        rows = self._select(self.estimates, where)
        rows = rows[(rows["configuration"] == configuration) & (rows["metric"] == metric)]
        if len(rows) != 1:
            raise ConfigError(f"no estimate of {metric} for {configuration!r} in {where or 'the table'}: choose one "
                              f"of {sorted(set(self.estimates['configuration']))}")
        return rows.iloc[0]

    def difference(self, a: str, b: str, metric: str, **where: Hashable) -> pd.Series:
        """The row of Δ = ``a`` − ``b`` in ``metric`` in the cell ``where``; asked the other way round, negated.

        Raises:
            ConfigError: The two were not compared in that cell.
        """
        rows = self._select(self.differences, where)
        rows = rows[rows["metric"] == metric]
        found = rows[(rows["a"] == a) & (rows["b"] == b)]
        if len(found) == 1:
            return found.iloc[0]
        swapped = rows[(rows["a"] == b) & (rows["b"] == a)]
        if len(swapped) != 1:
            raise ConfigError(f"{a!r} and {b!r} were not compared on {metric} in {where or 'the table'}")
        row = swapped.iloc[0].copy()
        row["a"], row["b"] = a, b
        row["delta"], row["low"], row["high"] = -row["delta"], -row["high"], -row["low"]
        return row


def _arrays(cell: pd.DataFrame, configuration: str, tiles: pd.Index) -> dict[str, np.ndarray]:
    """Configuration → counts ``(seeds, tiles, 4)`` over ``tiles``, zeros where a seed's run scored no such tile.

    Raises:
        ConfigError: A run lists a tile twice.
    """
    arrays = {}
    for name, rows in cell.groupby(configuration, sort=False):
        seeds = sorted(rows["seed"].unique())
        array = np.zeros((len(seeds), len(tiles), 4), np.int64)
        for s, seed in enumerate(seeds):
            runs = rows[rows["seed"] == seed]
            if runs["tile"].duplicated().any():
                raise ConfigError(f"{name!r}, seed {seed} has tile(s) {sorted(runs.loc[runs['tile'].duplicated(), 'tile'])[:3]} "
                                  "twice in one cell: give each run's counts once, or add the key that tells the rows "
                                  "apart to `within`")
            array[s, tiles.get_indexer(runs["tile"])] = runs[list(COUNT_COLUMNS)].to_numpy(np.int64)
        arrays[str(name)] = array
    return arrays


def judge(counts: pd.DataFrame, *, within: Sequence[str] = (), configuration: str = "model",
          blocks: Blocking | None = None, settings: BootstrapSettings | None = None,
          pairs: Sequence[tuple[str, str]] | None = None) -> Judged:
    """Intervals for every configuration and paired differences, in each cell of ``within``.

    Args:
        counts: Per-tile counts: ``tile``, ``tp``, ``fp``, ``fn``, ``tn``, the ``configuration`` column, the
            ``within`` columns and, with several runs of one configuration, ``seed`` (absent: one run each).
        within: Columns whose values are scored separately (e.g. ``["group"]``, or ``["group", "subdataset"]``).
        configuration: The column that names what is compared (a model, a baseline, an arm of Table 6).
        blocks: Tile → block label (leakage group or scene); tiles missing or labelled ``None`` are blocks alone.
            Where each cell has its own tiles' groups: a function of the cell's keys (``{"dataset": …}``) giving its
            mapping (or ``None``).
        settings: Resamples, seed and coverage (default :class:`BootstrapSettings`).
        pairs: The (a, b) pairs to compare where both are present in a cell; ``None``: every pair, in order of
            first appearance.

    Returns:
        Estimates and differences in percent, with the ``within`` keys first.

    Raises:
        ConfigError: A column is missing, or a run lists a tile twice within a cell.
    """
    settings = settings or BootstrapSettings()
    within = tuple(within)
    needed = {"tile", configuration, *within, *COUNT_COLUMNS}
    missing = sorted(needed - set(counts.columns))
    if missing or counts.empty:
        raise ConfigError(f"per-tile counts lack column(s) {missing or '(no rows)'}: pass rows of tile counts "
                          "(tile_counts.csv of a run, or a baselines' -tiles.csv) with the columns "
                          f"{sorted(needed)}")
    frame = counts if "seed" in counts.columns else counts.assign(seed=0)
    estimates, differences = [], []
    cells = frame.groupby(list(within), sort=False) if within else [((), frame)]
    for key, cell in cells:
        key = key if isinstance(key, tuple) else (key,)
        keys = dict(zip(within, key, strict=True))
        tiles = pd.Index(pd.unique(cell["tile"]))
        cell_blocks = blocks(keys) if callable(blocks) else blocks
        labels = [None if cell_blocks is None else cell_blocks.get(tile) for tile in tiles]
        replicates = bootstrap_many(_arrays(cell, configuration, tiles), Blocks.from_labels(labels),
                                    resamples=settings.resamples, seed=settings.seed, level=settings.level,
                                    metrics=settings.metrics)
        names = list(replicates.values)
        for name in names:
            for metric, estimate in replicates.estimates(name).items():
                estimates.append({**keys, "configuration": name, "metric": metric, "value": 100 * estimate.point,
                                  "low": 100 * estimate.low, "high": 100 * estimate.high,
                                  "seed_sd": 100 * estimate.seed_sd, "seeds": estimate.seeds})
        chosen = ([(a, b) for i, a in enumerate(names) for b in names[i + 1:]] if pairs is None
                  else [(a, b) for a, b in pairs if a in names and b in names])
        for a, b in chosen:
            for metric, interval in replicates.difference(a, b).items():
                differences.append({**keys, "a": a, "b": b, "metric": metric, "delta": 100 * interval.point,
                                    "low": 100 * interval.low, "high": 100 * interval.high})
    return Judged(within, pd.DataFrame(estimates, columns=[*within, *ESTIMATE_COLUMNS]),
                  pd.DataFrame(differences, columns=[*within, *DIFFERENCE_COLUMNS]), settings)


def distinguishable(row: pd.Series | Mapping[str, float]) -> bool:
    """Whether a difference's interval excludes 0 (both bounds on one side of it)."""
    return bool(row["low"] > 0 or row["high"] < 0)


def format_interval(value: float, low: float, high: float, digits: int = 1) -> str:
    """``68.1 [66.0, 70.2]``: a value and its interval, as the tables show them (``—`` where undefined)."""
    if not np.isfinite(value):
        return "—"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def signed(value: float) -> str:
    """``+1.2`` or ``−1.2``: a difference in points, as the pages write it."""
    return f"{value:+.1f}".replace("-", "−")


def format_difference(delta: float, low: float, high: float) -> str:
    """``+2.2 [−6.5, +9.5]``: a difference and its interval, in points."""
    return f"{signed(delta)} [{signed(low)}, {signed(high)}]"


def difference_text(label: str, delta: float, low: float, high: float, level: float = 0.95) -> str:
    """``Δ mIoU +14.1 points, 95 % interval [−0.1, +29.7]``: a difference in words (``label`` names the score)."""
    return f"Δ {label} {signed(delta)} points, {100 * level:g} % interval [{signed(low)}, {signed(high)}]"


def compare(row: pd.Series | Mapping[str, object], metric_label: str, level: float = 0.95) -> str:
    """One judged sentence from a difference row (``a``, ``b``, ``delta``, ``low``, ``high``), in Markdown.

    "A beats B" only where the interval of Δ excludes 0, with Δ = winner − loser; otherwise "not distinguishable on
    these tiles", with Δ = A − B. Δ and its interval are in points.
    """
    a, b, delta, low, high = row["a"], row["b"], row["delta"], row["low"], row["high"]
    if high < 0:  # b is higher: say so with b first
        a, b, delta, low, high = b, a, -delta, -high, -low
    numbers = difference_text(metric_label, delta, low, high, level)
    if low > 0:
        return f"{a} beats {b} ({numbers})"
    return f"{a} and {b} are not distinguishable on these tiles ({numbers})"


def interval_table(judged: Judged, metrics: Sequence[str], *, index: Sequence[str] = ("configuration",),
                   digits: int = 1) -> pd.DataFrame:
    """Estimates as text cells ``value [low, high]``, one column per metric, rows by ``index`` (e.g. model, group)."""
    frame = judged.estimates[judged.estimates["metric"].isin(metrics)].copy()
    frame["cell"] = [format_interval(v, lo, hi, digits) for v, lo, hi in frame[["value", "low", "high"]].to_numpy()]
    table = frame.pivot_table(index=list(index), columns="metric", values="cell", aggfunc="first", sort=False)
    return table[[m for m in metrics if m in table.columns]].rename_axis(columns=None)


def paper_verdicts(judged: Judged, paper: pd.DataFrame) -> pd.DataFrame:
    """For every published value, whether it lies inside this run's interval, and by how many points if not.

    Args:
        judged: This run's estimates.
        paper: Published values: the ``within`` keys, ``configuration``, ``metric`` and ``paper`` (percent).

    Returns:
        The paper's rows that this run also has, with ``value``, ``low``, ``high``, ``inside`` and ``outside by``
        (points from the nearer bound; 0 inside), and ``verdict`` (``reproduced within uncertainty`` or
        ``outside by N points``).
    """
    keys = [*judged.within, "configuration", "metric"]
    merged = paper.merge(judged.estimates[[*keys, "value", "low", "high"]], on=keys, how="inner")
    above, below = merged["paper"] - merged["high"], merged["low"] - merged["paper"]
    merged["outside by"] = np.maximum(np.maximum(above, below), 0.0)
    merged["inside"] = merged["outside by"] == 0
    merged["verdict"] = ["reproduced within uncertainty" if inside else f"outside by {by:.1f} points"
                         for inside, by in merged[["inside", "outside by"]].to_numpy()]
    return merged


def verdict_counts(verdicts: pd.DataFrame, *, synthetic: bool) -> str:
    """How many published values lie inside this run's intervals, in one Markdown sentence.

    On the synthetic demo data the count is given with a plain statement that it means nothing.
    """
    inside, total = int(verdicts["inside"].sum()), len(verdicts)
    text = (f"{inside} of {total} published values lie inside this run's interval (reproduced within uncertainty); "
            f"{total - inside} lie outside")
    if total - inside:
        worst = verdicts.loc[verdicts["outside by"].idxmax()]
        text += f" (farthest: {worst['outside by']:.1f} points)"
    if synthetic:
        return (text + ". These intervals come from synthetic demo tiles, not the CAS data, so this comparison with "
                "the paper is not meaningful: it only shows how the verdict is computed.")
    return text + "."
