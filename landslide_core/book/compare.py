"""The paper's published value beside this run's, and the difference, for any paper table.

Published values come only from ``paper_values.csv`` (via :mod:`landslide_core.eval.paper`);
regenerated values come from a run's table. Rows are matched on the table's keys
(model, group, dataset), so a row the run did not produce shows "—" rather than a
number that was never computed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..errors import LandslideCoreError
from ..eval.paper import METRICS, paper_values
from ..scoring.metrics import PAPER_COLUMNS

__all__ = ["DIFFERENCE", "PAPER", "paper_vs_run"]

PAPER = "paper"
DIFFERENCE = "difference"
KEYS = ("model", "group", "dataset")


def paper_vs_run(
    run: pd.DataFrame,
    table: int,
    *,
    run_label: str,
    keys: Sequence[str] = ("model", "group"),
    metrics: Sequence[str] = METRICS,
) -> pd.DataFrame:
    """Rows keyed like the paper's table; for each metric the columns paper, ``run_label`` and difference.

    ``run`` holds the key columns and the metrics in percent (as the paper prints them).
    The difference is run − paper, in percentage points. Rows of the paper's table the
    run does not cover are kept (run value "—"), in the paper's order, followed by rows
    only the run has.

    Args:
        run: This run's table: the key columns and the metrics in percent.
        table: Number of the paper table whose published values to compare against.
        run_label: Label of the run's columns, beside ``paper`` and ``difference``.
        keys: Columns rows are matched on, each one of ``model``, ``group`` or ``dataset``.
        metrics: Metric columns to compare.

    Raises:
        LandslideCoreError: A key is not one of ``model``, ``group``, ``dataset``, or ``run`` lacks a key or
            metric column.
    """
    unknown = [k for k in keys if k not in KEYS]
    missing = [c for c in (*keys, *metrics) if c not in run.columns]
    if unknown or missing:
        raise LandslideCoreError(
            f"paper_vs_run needs key columns from {KEYS} and metric columns {tuple(metrics)} in the run table; "
            f"unknown keys {unknown}, missing columns {missing}"
        )
    published = paper_values(table)[[*keys, *metrics]]
    merged = published.merge(run[[*keys, *metrics]], on=list(keys), how="outer", suffixes=("@paper", "@run"),
                             sort=False, indicator=False)
    order = {tuple(row): i for i, row in enumerate(published[list(keys)].itertuples(index=False))}
    merged["_order"] = [order.get(tuple(row), len(order) + i)
                        for i, row in enumerate(merged[list(keys)].itertuples(index=False))]
    merged = merged.sort_values("_order").set_index(list(keys))
    columns = {}
    for metric in metrics:
        name = PAPER_COLUMNS.get(metric, metric)
        paper, ours = merged[f"{metric}@paper"].astype(float), merged[f"{metric}@run"].astype(float)
        columns[(name, PAPER)] = paper
        columns[(name, run_label)] = ours
        columns[(name, DIFFERENCE)] = ours - paper
    result = pd.DataFrame(columns)
    result.columns = pd.MultiIndex.from_tuples(result.columns, names=["metric", "source"])
    result.index.names = [k.capitalize() for k in keys]
    return result
