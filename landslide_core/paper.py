"""The paper's published results (Tables 5, 6 and 7), quoted from one data file.

``data/paper_values.csv`` holds every published score with the table and row it
comes from, in percent as printed. Nothing else in the project types a paper
number by hand; the tests check this file against the paper's text.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

from .metrics import PAPER_COLUMNS

METRICS = tuple(PAPER_COLUMNS)


@cache
def _values() -> pd.DataFrame:
    with resources.files(__package__).joinpath("data", "paper_values.csv").open(encoding="utf-8") as f:
        return pd.read_csv(f, dtype={"group": "string", "dataset": "string"}, keep_default_na=False)


def paper_values(table: int | None = None) -> pd.DataFrame:
    """Published scores (percent), all tables or one; a copy the caller may change."""
    values = _values()
    return (values if table is None else values[values["table"] == table]).reset_index(drop=True).copy()


def paper_row(table: int, *, model: str, group: str = "", dataset: str = "") -> dict[str, float]:
    """One published row's six scores in percent, keyed by our metric names."""
    values = paper_values(table)
    match = values[(values["model"] == model) & (values["group"] == group) & (values["dataset"] == dataset)]
    if len(match) != 1:
        raise KeyError(f"paper Table {table} has no single row for model={model!r} group={group!r} dataset={dataset!r}")
    return {m: float(match.iloc[0][m]) for m in METRICS}
