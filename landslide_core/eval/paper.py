"""The paper's published results (Tables 5, 6 and 7), read from ``landslide_core/paper/scores.csv``.

That file holds every published score with the table and row it comes from, in percent as
printed. Nothing else in the package types a published score by hand; the tests check the
file against the text of the paper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources

import pandas as pd

from ..scoring.metrics import PAPER_COLUMNS, scores_from_counts

__all__ = ["METRICS", "consistency", "implied_counts", "paper_row", "paper_values", "published_long"]

METRICS = tuple(PAPER_COLUMNS)


@cache
def _values() -> pd.DataFrame:
    with resources.files("landslide_core.paper").joinpath("scores.csv").open(encoding="utf-8") as f:
        return pd.read_csv(f, dtype={"group": "string", "dataset": "string"}, keep_default_na=False)


def paper_values(table: int | None = None) -> pd.DataFrame:
    """Published scores (percent), all tables or one; a copy the caller may change."""
    values = _values()
    return (values if table is None else values[values["table"] == table]).reset_index(drop=True).copy()


def paper_row(table: int, *, model: str, group: str = "", dataset: str = "") -> dict[str, float]:
    """One published row's six scores in percent, keyed by our metric names.

    Args:
        table: Number of the paper table.
        model: The row's model.
        group: The row's sensor group; empty where the table has none.
        dataset: The row's sub-dataset; empty where the table has none.

    Raises:
        KeyError: The table does not have exactly one row with these model, group and dataset.
    """
    values = paper_values(table)
    match = values[(values["model"] == model) & (values["group"] == group) & (values["dataset"] == dataset)]
    if len(match) != 1:
        raise KeyError(f"paper Table {table} has no single row for model={model!r} group={group!r} dataset={dataset!r}")
    return {m: float(match.iloc[0][m]) for m in METRICS}


def implied_counts(row: Mapping[str, float], total: int) -> tuple[int, int, int, int]:
    """The confusion matrix ``(TP, FP, FN, TN)`` over ``total`` pixels implied by a published P, R and OA.

    With P = TP/(TP+FP), R = TP/(TP+FN) and FP+FN = (1−OA)·N, TP follows; the row's IoU,
    F1 and mIoU are then *predictions* to check against what the paper printed.
    """
    p, r, oa = row["precision"] / 100, row["recall"] / 100, row["oa"] / 100
    tp = (1 - oa) * total / (1 / p + 1 / r - 2)
    fp, fn = round(tp * (1 / p - 1)), round(tp * (1 / r - 1))
    tp = round(tp)
    return tp, fp, fn, total - tp - fp - fn


def consistency(table: int) -> pd.DataFrame:
    """For each published row: how far its IoU, F1 and mIoU are from those its own P, R and OA imply (points).

    Eqs. 1–6 of the paper are written in pixel counts; that a row comes from one confusion matrix
    pooled over all validation pixels is our reading, and this is its test: such a row deviates by
    rounding only (< 0.01), and larger deviations mean the row was computed some other way. The
    implied F1 is the two-class mean, our reading of the tables' "F1 score" (Eq. 3 says 2PR/(P+R)).
    """
    rows = []
    for _, row in paper_values(table).iterrows():
        implied = scores_from_counts(*implied_counts(row, total=10**12)).as_percent()
        deviations = {m: implied[m] - float(row[m]) for m in ("iou", "f1", "miou")}
        rows.append({"model": row["model"], "group": row["group"], "dataset": row["dataset"],
                     **{f"{m} implied − published": d for m, d in deviations.items()},
                     "largest |deviation|": max(abs(d) for d in deviations.values())})
    return pd.DataFrame(rows)


def published_long(table: int, keys: Sequence[str]) -> pd.DataFrame:
    """Paper Table ``table``'s published scores as long rows, as :func:`~landslide_core.scoring.intervals.paper_verdicts` takes them.

    Columns: ``keys`` (``model`` named ``configuration``), ``metric`` and ``paper`` (percent).

    Args:
        table: 5, 6 or 7.
        keys: The columns that name a row, in the order wanted, e.g. ``["group", "model"]`` for Table 5.
    """
    values = paper_values(table).melt(id_vars=list(keys), value_vars=list(METRICS), var_name="metric",
                                      value_name="paper")
    return values.rename(columns={"model": "configuration"})
