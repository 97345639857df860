"""Four exclusion rules as thresholds on the scores, and the flags and reasons they give.

The rules and their numbers are in the prose of the "Building the dataset" section, not in Table 3, which
names the four challenges. The paper says: “Data with a proportion of filled pixels exceeding
30% were excluded”; “we established a threshold to exclude data in which the proportion of labelled pixels
in a single image falls below 0.1%”; “we opted to exclude satellite image instances in which the proportion
of cloud pixels exceeds 80% and the clarity of landslide pixels is compromised”; “we carefully excluded
low-quality images exhibiting severe misalignment and blurred representations of landslide regions”.
Ours: the cloud rule flags on the cloud share alone (the clarity of the landslide pixels has no measure, so
it is left to the person who reviews the flags), and the seam threshold is ours (the seam rule has no number).

A flag is a suggestion for that person (the paper: “Images failing to meet certain thresholds were flagged.
We then manually inspected the flagged images to make the final rejection or retention decision.”). A rule
whose score is missing (NaN) never flags, and the reason says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["CRITERIA", "SCORE_COLUMNS", "QCThresholds", "flag"]

CRITERIA = ("fill", "label", "cloud", "seam")
"""One rule per challenge the paper's Table 3 names: image boundary (fill), label pixel proportion, cloud, seam."""
SCORE_COLUMNS = {"fill": "fill_fraction", "label": "label_share", "cloud": "cloud_fraction", "seam": "seam_score"}
"""The score each rule reads (the keys of :func:`~landslide_core.building.qc.metrics.score_tile`)."""
_MISSING = {"label": "needs a mask", "fill": "not scored", "cloud": "no image content", "seam": "no image content"}


@dataclass(frozen=True)
class QCThresholds:
    """Where each rule flags a tile; the first three are the numbers of the rules quoted above, the seam one is ours.

    ``seam`` = 8 was chosen on published tiles (which passed quality control): the 24 real Hokkaido
    Iburi-Tobu tiles score at most 4.8 and 28 of the 29 real originals at most 5.9 (the 29th,
    Palu0117, shows two mosaic seams and scores 17.7). On those 52 clean tiles, one half made to
    differ (along either axis) by a colour shift of 16 grey levels is flagged in 92 % of cases, by a
    blur of σ = 2 px in 68 %, by 40 % less exposure in 67 % and by 30 % less in 40 %. Of 80
    synthetic demo tiles (5 per sub-dataset), 4 score above 8: roads and rivers wider than the
    strips run straight along a tile axis (see :func:`~landslide_core.building.qc.metrics.seam_score`
    for what the score misses and mistakes).
    """

    fill: float = 0.30
    """Flag when ``fill_fraction`` > this (30 % in the quoted fill rule)."""
    label: float = 0.001
    """Flag when ``label_share`` < this (0.1 % in the quoted label rule)."""
    cloud: float = 0.80
    """Flag satellite tiles when ``cloud_fraction`` > this (80 % in the quoted cloud rule).

    Ours: the share alone decides; the rule's second condition, “the clarity of landslide pixels is
    compromised”, is left to the person who reviews the flags.
    """
    seam: float = 8.0
    """Flag when ``seam_score`` > this (ours; the quoted seam rule has no number)."""


def _share(value: float) -> str:
    return f"{100 * value:.3g} %"


def _reason(rule: str, value: float, limit: float) -> str:
    if rule == "seam":
        return f"seam {value:.1f} > {limit:g}"
    comparison = "<" if rule == "label" else ">"
    return f"{rule} {_share(value)} {comparison} {_share(limit)}"


def flag(scores: pd.DataFrame, thresholds: QCThresholds = QCThresholds()) -> pd.DataFrame:
    """``scores`` with a boolean column per rule (``flag_fill``, …), ``flagged`` (any) and ``reasons``.

    ``reasons`` reads e.g. ``fill 42 % > 30 %; cloud 91 % > 80 %``; a missing score (NaN) never flags
    and is named instead (``label: needs a mask`` when a tile has no mask). The cloud rule is for
    satellite tiles, as the paper's “exclude satellite image instances in which the proportion of cloud
    pixels exceeds 80%” says: where ``scores`` has a ``group`` column, tiles of group ``UAV`` are never
    flagged for cloud (a UAV flies below the clouds; their cloud score counts bright bare ground); without
    it, or for any other group, the rule applies to every tile. It flags on the cloud share alone (ours:
    the rule's “clarity of landslide pixels is compromised” is left to the person who reviews the flags).

    Args:
        scores: One row per tile with the four score columns of :data:`SCORE_COLUMNS`.
        thresholds: Where each rule flags.

    Returns:
        A new DataFrame: ``scores``'s columns, then ``flag_fill``, ``flag_label``, ``flag_cloud``,
        ``flag_seam``, ``flagged`` and ``reasons``.

    Raises:
        ValueError: A score column is missing.
    """
    missing = [column for column in SCORE_COLUMNS.values() if column not in scores.columns]
    if missing:
        raise ValueError(f"scores lack the column(s) {', '.join(missing)}; score tiles with score_tile or score_root")
    flags = scores.copy()
    uav = flags["group"].eq("UAV").to_numpy() if "group" in flags.columns else np.zeros(len(flags), bool)
    notes: list[list[str]] = [[] for _ in range(len(flags))]
    for rule in CRITERIA:
        values = flags[SCORE_COLUMNS[rule]].astype(float).to_numpy()
        limit = getattr(thresholds, rule)
        with np.errstate(invalid="ignore"):
            hit = values < limit if rule == "label" else values > limit
        if rule == "cloud":
            hit &= ~uav
        flags[f"flag_{rule}"] = hit
        for i in np.flatnonzero(hit):
            notes[i].append(_reason(rule, values[i], limit))
        for i in np.flatnonzero(np.isnan(values)):
            notes[i].append(f"{rule}: {_MISSING[rule]}")
    flags["flagged"] = flags[[f"flag_{rule}" for rule in CRITERIA]].any(axis=1)
    flags["reasons"] = ["; ".join(n) for n in notes]
    return flags
