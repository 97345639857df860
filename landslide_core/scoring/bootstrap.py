"""Confidence intervals for pooled scores: a block bootstrap over per-tile confusion counts, seeds and tiles.

A group's scores come from one confusion matrix, the sum of its tiles' counts (TP, FP, FN, TN of the landslide
class; :mod:`.metrics`). Neighbouring tiles are not independent: tiles cut from one scene, or sharing pixels (one
leakage group), succeed or fail together, so resampling single tiles would understate how much a score could
change on other tiles. Here whole blocks of tiles (:class:`Blocks`, e.g. one per leakage group or scene) are
resampled, and so are the seeds (runs of one configuration), the other source of spread.

One resample draws ``S`` seeds with replacement and ``n_blocks`` blocks with replacement, the same blocks for every
drawn seed; each drawn seed's counts are summed over the drawn blocks, scored, and the scores averaged over the drawn
seeds. The interval is the percentile interval of these replicates (numpy's ``linear`` quantiles).

Draws are shared so that comparisons are paired: every configuration of one call to :func:`bootstrap_many` sees the
same block draws, and configurations with the same number of seeds draw the same seed positions (seed ``i`` of one
is paired with seed ``i`` of the other, as in a grid trained with the same seeds). The draws depend only on
``seed``, the number of blocks and the number of seeds, never on the counts or on how the work is chunked, so a
configuration's replicates are the same alone (:func:`bootstrap`) or within a grid, and a model compared with
itself differs by exactly 0.

Speed: block multiplicities are drawn for a chunk of resamples at once, and the resampled totals of every run are
one matrix product (resamples × blocks) @ (blocks × 4·runs). Counts are summed in float64, exact while a resample's
pixels number fewer than 2**52 (checked), so the replicates equal :func:`~.metrics.scores_from_counts` on the same
totals exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ..errors import ConfigError
from .metrics import Scores, scores_from_count_arrays

__all__ = [
    "METRICS", "Blocks", "Estimate", "Interval", "Replicates", "bootstrap", "bootstrap_many", "paired_difference",
    "scores_from_count_arrays",
]

METRICS: tuple[str, ...] = tuple(f.name for f in fields(Scores))
"""The scores :func:`scores_from_count_arrays` gives, named and ordered as :class:`~.metrics.Scores`."""

_EXACT_LIMIT = 2**52
"""Pixels a confusion matrix may hold for its scores to be exact in float64: every sum they take, up to
2·TP + FP + FN, then stays a whole number below 2**53."""


@dataclass(frozen=True, eq=False)
class Blocks:
    """Tiles resampled together: tile ``t`` belongs to block ``index[t]``, numbered 0 to ``n_blocks - 1``.

    Build one with :meth:`from_labels` (one block per leakage group or scene) or :meth:`singletons` (every tile
    alone: the groups ignored).

    Raises:
        ConfigError: ``index`` is not 1-D whole numbers from 0 to ``n_blocks - 1``, or a block has no tile.
    """

    index: np.ndarray
    n_blocks: int

    def __post_init__(self) -> None:
        index = np.asarray(self.index)
        if index.ndim != 1 or index.size == 0 or index.dtype.kind not in "iu":
            raise ConfigError(f"Blocks.index must be a non-empty 1-D integer array (one block number per tile), "
                              f"got dtype {index.dtype} and shape {index.shape}: build it with Blocks.from_labels")
        sizes = np.bincount(index, minlength=self.n_blocks) if index.min() >= 0 else np.zeros(0, np.int64)
        if len(sizes) != self.n_blocks or not np.all(sizes > 0):
            raise ConfigError(f"Blocks.index must number {self.n_blocks} blocks 0 to {self.n_blocks - 1}, each "
                              "holding a tile: build it with Blocks.from_labels")
        object.__setattr__(self, "index", index.astype(np.int64))

    @classmethod
    def from_labels(cls, labels: ArrayLike) -> Blocks:
        """One block per distinct label, in order of first appearance; a tile without a label is a block alone.

        Args:
            labels: One label per tile, in the order of the counts' tile axis (e.g. leakage ``group_id`` or scene
                name). Missing labels (``None``, NaN, ``pd.NA``) mean the tile is in no group.

        Returns:
            The blocks.

        Raises:
            ConfigError: ``labels`` is not 1-D or is empty.
        """
        values = pd.Series(np.asarray(labels, dtype=object)) if np.ndim(labels) == 1 else None
        if values is None or values.empty:
            raise ConfigError(f"labels must give one label per tile (1-D, not empty), got shape {np.shape(labels)}")
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        alone = codes < 0
        codes[alone] = len(uniques) + np.arange(int(alone.sum()))
        return cls(codes, len(uniques) + int(alone.sum()))

    @classmethod
    def singletons(cls, n_tiles: int) -> Blocks:
        """Every tile its own block: the ordinary tile bootstrap, which ignores groups."""
        return cls(np.arange(n_tiles), n_tiles)

    @property
    def n_tiles(self) -> int:
        """How many tiles the blocks cover."""
        return len(self.index)

    def sums(self, counts: np.ndarray) -> np.ndarray:
        """Each block's sum over its tiles: ``counts`` of shape ``(n_tiles, k)`` → ``(n_blocks, k)``, same dtype."""
        order = np.argsort(self.index, kind="stable")
        starts = np.searchsorted(self.index[order], np.arange(self.n_blocks))
        return np.add.reduceat(counts[order], starts, axis=0)


@dataclass(frozen=True)
class Interval:
    """A point value and its bootstrap percentile interval ``[low, high]`` (fractions, like the scores)."""

    point: float
    low: float
    high: float


@dataclass(frozen=True)
class Estimate(Interval):
    """A configuration's score: the mean over seeds, its interval, and the seeds' own spread.

    ``seed_sd`` is the standard deviation of the seeds' scores on all tiles with ``ddof=1`` (as the "± std" of the
    Table 5 page), NaN with one seed: one run says nothing of how runs spread.
    """

    seed_sd: float
    seeds: int


@dataclass(frozen=True, eq=False)
class Replicates:
    """Bootstrap replicates of several configurations from one set of draws (:func:`bootstrap_many`).

    ``per_seed[name][metric]`` holds each seed's score on all tiles (``S`` values) and ``values[name][metric]`` the
    ``resamples`` replicates; differences between configurations are paired resample by resample.
    """

    per_seed: dict[str, dict[str, np.ndarray]]
    values: dict[str, dict[str, np.ndarray]]
    level: float
    metrics: tuple[str, ...]

    def _bounds(self, values: np.ndarray) -> tuple[float, float]:
        low, high = np.quantile(values, [(1 - self.level) / 2, (1 + self.level) / 2])
        return float(low), float(high)

    def _check(self, name: str) -> None:
        if name not in self.values:
            raise ConfigError(f"no configuration {name!r} was resampled; choose one of {list(self.values)}")

    def estimates(self, name: str) -> dict[str, Estimate]:
        """Each metric of configuration ``name``: mean over seeds, interval and the seeds' spread.

        Raises:
            ConfigError: ``name`` is not one of the configurations resampled.
        """
        self._check(name)
        out = {}
        for metric in self.metrics:
            seeds = self.per_seed[name][metric]
            spread = float(np.std(seeds, ddof=1)) if len(seeds) > 1 else float("nan")
            out[metric] = Estimate(float(seeds.mean()), *self._bounds(self.values[name][metric]), spread, len(seeds))
        return out

    def difference(self, a: str, b: str) -> dict[str, Interval]:
        """Each metric's Δ = ``a`` − ``b`` (difference of the means over seeds) with its paired interval.

        Raises:
            ConfigError: ``a`` or ``b`` is not one of the configurations resampled.
        """
        self._check(a)
        self._check(b)
        return {metric: Interval(float(self.per_seed[a][metric].mean() - self.per_seed[b][metric].mean()),
                                 *self._bounds(self.values[a][metric] - self.values[b][metric]))
                for metric in self.metrics}

    def table(self) -> pd.DataFrame:
        """One row per configuration and metric: ``configuration, metric, point, low, high, seed_sd, seeds``."""
        rows = [{"configuration": name, "metric": metric, **asdict(estimate)}
                for name in self.values for metric, estimate in self.estimates(name).items()]
        return pd.DataFrame(rows)


def _check_counts(name: str, counts: ArrayLike, n_tiles: int) -> np.ndarray:
    """``counts`` as int64 of shape ``(S, n_tiles, 4)``; errors name the argument as ``name``.

    Raises:
        ConfigError: The shape is not ``(S, n_tiles, 4)``, or a count is fractional, not finite or negative.
    """
    array = np.asarray(counts)
    if array.ndim != 3 or array.shape[0] == 0 or array.shape[1:] != (n_tiles, 4):
        raise ConfigError(f"{name} has shape {array.shape}; expected (seeds, tiles, 4) = (S ≥ 1, {n_tiles}, 4): "
                          "one row of (TP, FP, FN, TN) per seed and tile, tiles in the order of the blocks' labels")
    if array.dtype.kind not in "iuf" or (array.dtype.kind == "f" and not np.all(np.isfinite(array) &
                                                                               (array == np.round(array)))):
        raise ConfigError(f"{name} must hold whole pixel counts (dtype {array.dtype} given): pass integer counts")
    if array.min() < 0:
        raise ConfigError(f"{name} holds a negative count ({array.min()}): counts are pixel numbers, 0 or more; "
                          "check the (TP, FP, FN, TN) order of the last axis")
    return array.astype(np.int64, copy=False)


def _check_settings(resamples: int, seed: int, level: float, metrics: Sequence[str]) -> tuple[str, ...]:
    """The metrics as a tuple once every setting is checked.

    Raises:
        ConfigError: ``resamples`` < 1, ``seed`` < 0, ``level`` outside (0, 1), or ``metrics`` empty or unknown.
    """
    if isinstance(resamples, bool) or not isinstance(resamples, int | np.integer) or resamples < 1:
        raise ConfigError(f"resamples must be a whole number of at least 1, got {resamples!r} (10,000 is usual)")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a whole number of 0 or more, got {seed!r}")
    if not 0 < level < 1:
        raise ConfigError(f"level must lie strictly between 0 and 1, got {level!r}: e.g. 0.95 for a 95 % interval")
    chosen = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    unknown = [m for m in chosen if m not in METRICS]
    if not chosen or unknown:
        raise ConfigError(f"metrics {unknown or 'empty'}: choose one or more of {list(METRICS)}")
    return chosen


def _multiplicities(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """How often each of ``n`` items is drawn in ``rows`` draws of ``n`` with replacement, as float64 ``(rows, n)``.

    Uniform doubles (one generator output each, so a chunk's draws do not depend on the chunk's size) scaled to
    0 … n−1, then one bincount with each row offset by ``n``; at most two ``(rows, n)`` arrays are alive at once.
    """
    picks = rng.random((rows, n))
    picks *= n
    picks = picks.astype(np.int64)
    picks += (np.arange(rows, dtype=np.int64) * n)[:, None]
    drawn = np.bincount(picks.reshape(-1), minlength=rows * n).reshape(rows, n)
    del picks
    return drawn.astype(np.float64)


def _chunks(resamples: int, rows: int) -> Iterator[slice]:
    for start in range(0, resamples, rows):
        yield slice(start, min(start + rows, resamples))


def bootstrap_many(
    counts: Mapping[str, ArrayLike],
    blocks: Blocks,
    *,
    resamples: int = 10_000,
    seed: int = 0,
    level: float = 0.95,
    metrics: Sequence[str] = METRICS,
    memory_mib: float = 256.0,
) -> Replicates:
    """Resample every configuration of a grid with one set of block draws, in one matrix product per chunk.

    All configurations must be scored on the same tiles, in the order of ``blocks``. A tile that a run did not score
    (for instance one in another seed's validation split) can carry zeros: it then adds nothing to that run's totals.

    Args:
        counts: Configuration name → counts of shape ``(S, T, 4)``: ``S`` seeds × ``T`` tiles × (TP, FP, FN, TN).
            ``S`` may differ between configurations.
        blocks: Which tiles are resampled together; ``blocks.n_tiles`` must be ``T``.
        resamples: How many resamples.
        seed: Seed of the draws; the same seed repeats the replicates exactly.
        level: Coverage of the percentile intervals, in (0, 1).
        metrics: Which scores of :data:`METRICS` to resample.
        memory_mib: Working memory of the call, in MiB: what the counts and the replicates leave of it sets how many
            resamples one chunk holds (by an estimate per resample). The result does not depend on it.

    Returns:
        The per-seed scores and the replicates of every configuration.

    Raises:
        ConfigError: No configuration is given, a configuration's counts have the wrong shape or hold negative,
            fractional or too large counts, or a setting is out of range.
    """
    chosen = _check_settings(resamples, seed, level, metrics)
    if not counts:
        raise ConfigError("counts is empty: give at least one configuration name → (seeds, tiles, 4) counts")
    arrays = {name: _check_counts(f"counts[{name!r}]", array, blocks.n_tiles) for name, array in counts.items()}
    per_seed = {name: {m: v for m, v in scores_from_count_arrays(a.sum(axis=1)).items() if m in chosen}
                for name, a in arrays.items()}
    # One column per run and count: (T, 4·runs) summed per block, as float64 for the matrix product.
    columns = np.concatenate([a.transpose(1, 0, 2).reshape(blocks.n_tiles, -1) for a in arrays.values()], axis=1)
    block_counts = blocks.sums(columns)
    largest = int(block_counts.reshape(blocks.n_blocks, -1, 4).sum(axis=2).max()) * blocks.n_blocks
    if largest >= _EXACT_LIMIT:
        raise ConfigError(f"counts are too large to score exactly: a resample may total {largest:,} pixels, beyond "
                          "2**52; pass counts in coarser units (e.g. divided by a common factor)")
    block_counts = block_counts.astype(np.float64)
    runs = block_counts.shape[1] // 4
    seeds = {name: a.shape[0] for name, a in arrays.items()}
    block_rng = np.random.default_rng([seed, 0])
    seed_rngs = {s: np.random.default_rng([seed, 1, s]) for s in set(seeds.values())}
    values = {name: {m: np.empty(resamples) for m in chosen} for name in arrays}
    # The chunks share what the counts and the replicates leave of memory_mib. Per resample, in 8-byte numbers: two
    # arrays over the blocks (_multiplicities), the totals (4 per run), about twenty score arrays per run, and the
    # seed multiplicities.
    held = 2 * columns.nbytes + block_counts.nbytes + 8 * resamples * len(chosen) * len(arrays)
    row_bytes = 8 * (2 * blocks.n_blocks + 24 * runs + sum(seeds.values()))
    rows = max(1, int((memory_mib * 2**20 - held) // row_bytes))
    for chunk in _chunks(resamples, rows):
        n = chunk.stop - chunk.start
        weights = {s: _multiplicities(rng, n, s) for s, rng in seed_rngs.items()}
        totals = _multiplicities(block_rng, n, blocks.n_blocks) @ block_counts
        scores = scores_from_count_arrays(totals.reshape(n, runs, 4))
        first = 0
        for name, s in seeds.items():
            for metric in chosen:
                values[name][metric][chunk] = (scores[metric][:, first:first + s] * weights[s]).sum(axis=1) / s
            first += s
    return Replicates(per_seed, values, level, chosen)


def bootstrap(
    counts: ArrayLike,
    blocks: Blocks,
    *,
    resamples: int = 10_000,
    seed: int = 0,
    level: float = 0.95,
    metrics: Sequence[str] = METRICS,
) -> dict[str, Estimate]:
    """One configuration's scores with block-bootstrap intervals and the seeds' spread.

    Args:
        counts: Shape ``(S, T, 4)``: ``S`` seeds × ``T`` tiles × (TP, FP, FN, TN), the same tiles for every seed.
        blocks: Which tiles are resampled together; ``blocks.n_tiles`` must be ``T``.
        resamples: How many resamples.
        seed: Seed of the draws; the same seed repeats the result exactly.
        level: Coverage of the percentile intervals, in (0, 1).
        metrics: Which scores of :data:`METRICS` to give.

    Returns:
        Metric → point value (mean over seeds of each seed's score on all tiles), interval and the seeds' spread.
    """
    return bootstrap_many({"counts": counts}, blocks, resamples=resamples, seed=seed, level=level,
                          metrics=metrics).estimates("counts")


def paired_difference(
    counts_a: ArrayLike,
    counts_b: ArrayLike,
    blocks: Blocks,
    *,
    resamples: int = 10_000,
    seed: int = 0,
    level: float = 0.95,
    metrics: Sequence[str] = METRICS,
) -> dict[str, Interval]:
    """Δ = score(A) − score(B) on the same tiles, with the interval of the paired replicates.

    Both see the same block draws in each resample (and, with as many seeds, the same seed positions), so A
    compared with itself gives Δ = 0 and the interval [0, 0].

    Args:
        counts_a: Shape ``(Sa, T, 4)``, as :func:`bootstrap`'s ``counts``.
        counts_b: Shape ``(Sb, T, 4)``, on the same ``T`` tiles in the same order.
        blocks: Which tiles are resampled together; ``blocks.n_tiles`` must be ``T``.
        resamples: How many resamples.
        seed: Seed of the draws; the same seed repeats the result exactly.
        level: Coverage of the percentile intervals, in (0, 1).
        metrics: Which scores of :data:`METRICS` to give.

    Returns:
        Metric → Δ (difference of the means over seeds) and its interval.
    """
    replicates = bootstrap_many({"counts_a": counts_a, "counts_b": counts_b}, blocks, resamples=resamples,
                                seed=seed, level=level, metrics=metrics)
    return replicates.difference("counts_a", "counts_b")
