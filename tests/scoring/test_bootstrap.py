"""The block bootstrap over per-tile confusion counts: exact scores, whole blocks, paired draws, coverage."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from landslide_core.errors import ConfigError
from landslide_core.scoring.bootstrap import (
    METRICS,
    Blocks,
    bootstrap,
    bootstrap_many,
    paired_difference,
    scores_from_count_arrays,
)
from landslide_core.scoring.metrics import scores_from_counts

# The coverage simulation (also run, with more repetitions, by benchmarks/bootstrap_speed.py). The tiles of a group
# (LABEL: GROUPS groups of TILES_PER_GROUP) share a landslide share λ ~ Beta(2, 18), a detection rate p ~ Beta(4, 2)
# and a false-alarm rate q ~ Beta(1, 39), drawn independently; per tile L ~ Bin(P, λ) landslide pixels of P,
# TP ~ Bin(L, p), FN = L − TP, FP ~ Bin(P − L, q), TN the rest. The truth is the pooled IoU of an infinite population
# of such groups, E[TP] / (E[TP] + E[FP] + E[FN]) = E[λ]·E[p] / (E[λ] + (1 − E[λ])·E[q]) by independence:
# 0.0667 / 0.1225 = 0.5442.
LANDSLIDE_SHARE, DETECTION, FALSE_ALARM = (2, 18), (4, 2), (1, 39)
TILES_PER_GROUP, GROUPS, PIXELS = 8, 60, 4096
LABEL = np.repeat(np.arange(GROUPS), TILES_PER_GROUP)


def _beta_mean(a: float, b: float) -> float:
    return a / (a + b)


TRUE_IOU = (_beta_mean(*LANDSLIDE_SHARE) * _beta_mean(*DETECTION)
            / (_beta_mean(*LANDSLIDE_SHARE) + (1 - _beta_mean(*LANDSLIDE_SHARE)) * _beta_mean(*FALSE_ALARM)))


def simulate(rng: np.random.Generator, label: np.ndarray, *, seeds: int = 1,
             pixels: int = PIXELS) -> np.ndarray:
    """Counts ``(seeds, len(label), 4)`` of the grouped model above; ``label`` numbers each tile's group from 0.

    Seeds share the tiles and their landslide pixels and differ in the group-level detection and false-alarm rates.
    """
    groups = int(label.max()) + 1
    landslide = rng.binomial(pixels, rng.beta(*LANDSLIDE_SHARE, groups)[label])
    detection = rng.beta(*DETECTION, (seeds, groups))[:, label]
    false_alarm = rng.beta(*FALSE_ALARM, (seeds, groups))[:, label]
    tp = rng.binomial(landslide, detection)
    fp = rng.binomial(pixels - landslide, false_alarm)
    return np.stack([tp, fp, landslide - tp, pixels - landslide - fp], axis=-1)


def coverage(repetitions: int, resamples: int = 1000, *, level: float = 0.95) -> tuple[float, float]:
    """Share of repetitions whose IoU interval covers TRUE_IOU: with blocks = groups, and with each tile alone."""
    rng = np.random.default_rng(20240112)
    covered = {"grouped": 0, "ignored": 0}
    structures = {"grouped": Blocks.from_labels(LABEL), "ignored": Blocks.singletons(len(LABEL))}
    for repetition in range(repetitions):
        counts = simulate(rng, LABEL)
        for name, blocks in structures.items():
            iou = bootstrap(counts, blocks, resamples=resamples, seed=repetition, level=level, metrics=["iou"])["iou"]
            covered[name] += iou.low <= TRUE_IOU <= iou.high
    return covered["grouped"] / repetitions, covered["ignored"] / repetitions


def test_vectorised_scores_equal_the_scalar_scores_exactly():
    rng = np.random.default_rng(0)
    patterns = np.array(list(itertools.product([0, 1, 7], repeat=4)))  # every pattern of zeros, 1s and 7s
    cases = np.concatenate([patterns, rng.integers(0, 4, (500, 4)), rng.integers(0, 10**12, (500, 4)),
                            rng.integers(0, 2, (200, 4)) * rng.integers(1, 10**9, (200, 4))])
    vectorised = scores_from_count_arrays(cases.reshape(3, 7, 61, 4))  # any leading shape
    assert list(vectorised) == list(METRICS)
    for i, row in enumerate(cases):
        expected = vars(scores_from_counts(*(int(v) for v in row)))
        got = {metric: vectorised[metric].reshape(-1)[i] for metric in METRICS}
        assert got == expected, row
    one = scores_from_count_arrays(np.array([0, 0, 0, 0]))  # nothing anywhere: every class absent → 1.0
    assert {m: float(v) for m, v in one.items()} == vars(scores_from_counts(0, 0, 0, 0))


def test_vectorised_scores_name_the_wrong_shape():
    with pytest.raises(ConfigError, match=r"counts has shape \(5, 3\).*\(\.\.\., 4\)"):
        scores_from_count_arrays(np.zeros((5, 3)))


def test_blocks_from_labels_number_groups_in_order_and_give_unlabelled_tiles_their_own():
    blocks = Blocks.from_labels(["s2", "s1", "s2", None, float("nan"), "s1"])
    assert blocks.n_tiles == 6 and blocks.n_blocks == 4
    assert blocks.index.tolist() == [0, 1, 0, 2, 3, 1]
    counts = np.arange(12).reshape(6, 2)
    assert blocks.sums(counts).tolist() == [[4, 6], [12, 14], [6, 7], [8, 9]]
    assert Blocks.singletons(3).index.tolist() == [0, 1, 2]


@pytest.mark.parametrize("make", [lambda: Blocks.from_labels([]), lambda: Blocks.from_labels([[1, 2]]),
                                  lambda: Blocks(np.array([0, 2]), 3), lambda: Blocks(np.array([0, -1]), 2),
                                  lambda: Blocks(np.array([0.0, 1.0]), 2)])
def test_blocks_reject_what_cannot_be_a_partition(make):
    with pytest.raises(ConfigError, match="labels|from_labels"):
        make()


def test_a_model_compared_with_itself_differs_by_exactly_zero():
    counts = simulate(np.random.default_rng(1), LABEL, seeds=3)
    difference = paired_difference(counts, counts.copy(), Blocks.from_labels(LABEL), resamples=500, seed=3)
    assert set(difference) == set(METRICS)
    for interval in difference.values():
        assert (interval.point, interval.low, interval.high) == (0.0, 0.0, 0.0)


def test_a_better_model_is_better_within_its_paired_interval():
    counts = simulate(np.random.default_rng(2), LABEL, seeds=2)
    better = counts.copy()
    moved = better[..., 2] // 2  # half of every tile's missed landslide pixels found
    better[..., 0] += moved
    better[..., 2] -= moved
    iou = paired_difference(better, counts, Blocks.from_labels(LABEL), resamples=500)["iou"]
    assert 0 < iou.low <= iou.point <= iou.high


def test_draws_repeat_for_a_seed_and_differ_for_another():
    counts = simulate(np.random.default_rng(3), LABEL, seeds=3)
    blocks = Blocks.from_labels(LABEL)
    first = bootstrap(counts, blocks, resamples=300, seed=5)
    assert bootstrap(counts, blocks, resamples=300, seed=5) == first
    other = bootstrap(counts, blocks, resamples=300, seed=6)
    assert all(other[m].point == first[m].point for m in METRICS)  # the point does not resample
    assert all((other[m].low, other[m].high) != (first[m].low, first[m].high) for m in METRICS)


def test_replicates_do_not_depend_on_chunking_or_on_the_other_configurations():
    rng = np.random.default_rng(4)
    a, b = simulate(rng, LABEL, seeds=3), simulate(rng, LABEL, seeds=2)
    blocks = Blocks.from_labels(LABEL)
    alone = bootstrap_many({"a": a}, blocks, resamples=257, seed=1)
    together = bootstrap_many({"b": b, "a": a}, blocks, resamples=257, seed=1, memory_mib=0.01)  # 5 rows a chunk
    for metric in METRICS:
        assert np.array_equal(alone.values["a"][metric], together.values["a"][metric])
    assert bootstrap(a, blocks, resamples=257, seed=1) == alone.estimates("a")
    assert list(together.table()["configuration"].unique()) == ["b", "a"]


def test_point_is_the_mean_of_the_seeds_pooled_scores_and_the_spread_their_sd():
    counts = simulate(np.random.default_rng(5), LABEL, seeds=3)
    blocks = Blocks.from_labels(LABEL)
    estimates = bootstrap(counts, blocks, resamples=200, metrics=("iou", "f1"))
    assert list(estimates) == ["iou", "f1"]
    per_seed = [scores_from_counts(*(int(v) for v in counts[s].sum(axis=0))).iou for s in range(3)]
    assert estimates["iou"].point == pytest.approx(np.mean(per_seed), abs=1e-15)
    assert estimates["iou"].seed_sd == pytest.approx(np.std(per_seed, ddof=1), abs=1e-15)
    assert estimates["iou"].seeds == 3
    assert estimates["iou"].low < estimates["iou"].point < estimates["iou"].high
    one = bootstrap(counts[:1], blocks, resamples=200, metrics="iou")["iou"]
    assert one.seeds == 1 and math.isnan(one.seed_sd)


def test_every_resample_keeps_blocks_whole_and_draws_the_same_blocks_for_every_seed():
    # Each tile carries a base-7 digit of its own in the oa numerator (seed 0: digits 0-5, seed 1: digits 6-11), every
    # block totals K pixels, so 2·3K·oa of a resample reads back as w0·m_t (low digits) and w1·m_t (high digits):
    # m_t how often tile t was drawn, w_s how often seed s was drawn (w0 + w1 = 2; m_t ≤ 3, so digits stay below 7).
    label = np.array(["a", "b", "a", "c", "b", "a"])
    blocks = Blocks.from_labels(label)
    tiles, base, total = len(label), 7, 7**12
    counts = np.zeros((2, tiles, 4), np.int64)
    for s in range(2):
        counts[s, :, 0] = base ** (np.arange(tiles) + s * tiles)  # TP: the tile's digit
        for block in np.unique(label):
            first = np.flatnonzero(label == block)[0]
            counts[s, first, 2] = total - counts[s, label == block, 0].sum()  # FN: the block's total made K
    replicates = bootstrap_many({"signature": counts}, blocks, resamples=2000, seed=0, metrics=["oa"])
    encoded = np.rint(replicates.values["signature"]["oa"] * 2 * blocks.n_blocks * total).astype(np.int64)
    digits = (encoded[:, None] // base ** np.arange(2 * tiles)) % base
    low, high = digits[:, :tiles], digits[:, tiles:]
    both = (low.sum(1) > 0) & (high.sum(1) > 0)
    assert np.array_equal(low[both], high[both])  # one seed of each: the same tiles drawn for both
    drawn = np.where(both[:, None], low, (low + high) // 2)  # one seed drawn twice: its digits are 2·m_t
    assert np.all((low + high)[~both] % 2 == 0)
    for block in np.unique(label):
        members = drawn[:, label == block]
        assert np.all(members == members[:, :1]), block  # a block's tiles are drawn together
    per_block = drawn[:, [np.flatnonzero(label == b)[0] for b in np.unique(label)]]
    assert np.all(per_block.sum(axis=1) == blocks.n_blocks)  # n_blocks blocks drawn with replacement
    assert both.any() and (~both).any() and len({tuple(row) for row in per_block}) == 10  # all 10 draws of 3 from 3


@pytest.mark.parametrize(("call", "message"), [
    (lambda c, b: bootstrap(c[:, :-1], b), r"counts\['counts'\] has shape \(2, 15, 4\); expected \(seeds, tiles, 4\)"),
    (lambda c, b: bootstrap(c[..., :3], b), r"has shape \(2, 16, 3\)"),
    (lambda c, b: bootstrap(c[0], b), r"has shape \(16, 4\)"),
    (lambda c, b: bootstrap(-c, b), "negative count"),
    (lambda c, b: bootstrap(c + 0.5, b), "whole pixel counts"),
    (lambda c, b: paired_difference(c, c[:, :8], b), r"counts\['counts_b'\] has shape"),
    (lambda c, b: bootstrap(c, b, resamples=0), "resamples must be a whole number of at least 1"),
    (lambda c, b: bootstrap(c, b, level=1.0), "level must lie strictly between 0 and 1"),
    (lambda c, b: bootstrap(c, b, level=0), "level must lie strictly between 0 and 1"),
    (lambda c, b: bootstrap(c, b, seed=-1), "seed must be a whole number of 0 or more"),
    (lambda c, b: bootstrap(c, b, metrics=["dice"]), r"metrics \['dice'\]: choose one or more of"),
    (lambda c, b: bootstrap_many({}, b), "counts is empty"),
    (lambda c, b: bootstrap(c * 10**14, b), "too large to score exactly"),
    (lambda c, b: bootstrap_many({"a": c}, b, resamples=5).estimates("b"), "no configuration 'b'"),
])
def test_errors_name_the_argument_and_the_fix(call, message):
    counts = np.random.default_rng(6).integers(1, 100, (2, 16, 4))
    with pytest.raises(ConfigError, match=message):
        call(counts, Blocks.from_labels(np.arange(16) // 4))


def test_block_intervals_cover_the_truth_and_ignoring_groups_does_not():
    # 500 repetitions of 60 groups × 8 tiles, 1,000 resamples each, nominal 95 %. The bootstrap over groups covers the
    # truth about as often: 93.0 % here, 93.2 % over 1,000 repetitions (the percentile interval of a ratio from 60
    # groups is a little short); 90 % is about 3 standard errors of a 500-repetition share below that. Treating the
    # 480 correlated tiles as independent gives intervals far too narrow (51.8 %): the margin asserted is 15 points.
    grouped, ignored = coverage(500)
    assert 0.90 <= grouped <= 0.99
    assert ignored < 0.85 and ignored < grouped - 0.15
