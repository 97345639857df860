"""The paper's published value beside this run's, and the difference, for any paper table.

Published values come only from ``landslide_core/paper/scores.csv`` (via :mod:`landslide_core.eval.paper`);
regenerated values come from a run's table. Rows are matched on the table's keys
(model, group, dataset), so a row the run did not produce shows "—" rather than a
number that was never computed.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..errors import LandslideCoreError
from ..eval.baselines import no_result_rule
from ..eval.paper import METRICS, paper_values
from ..scoring.metrics import PAPER_COLUMNS

__all__ = ["DIFFERENCE", "HIGH", "INTERVAL_BREAK", "LOW", "PAPER", "by_metric", "metric_tables_html", "paper_vs_run",
           "paper_vs_run_figure", "side_by_side"]

PAPER = "paper"
DIFFERENCE = "difference"
LOW, HIGH = "low", "high"
"""Sources of a comparison's interval columns: the bounds of this run's interval (:func:`paper_vs_run`)."""
INTERVAL_BREAK = "<br>"
"""What separates a cell's values from this run's interval in :func:`by_metric` (HTML tables show a line break)."""
KEYS = ("model", "group", "dataset")


def paper_vs_run(
    run: pd.DataFrame,
    table: int,
    *,
    run_label: str,
    keys: Sequence[str] = ("model", "group"),
    metrics: Sequence[str] = METRICS,
    intervals: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rows keyed like the paper's table; for each metric the columns paper, ``run_label`` and difference.

    With ``intervals``, also :data:`LOW` and :data:`HIGH`: the bounds of this run's interval of each value.

    ``run`` holds the key columns and the metrics in percent (like the paper's tables).
    The difference is run − paper, in percentage points. Rows of the paper's table the
    run does not cover are kept (run value "—"), in the paper's order, followed by rows
    only the run has, in the run's order.

    Args:
        run: This run's table: the key columns and the metrics in percent.
        table: Number of the paper table whose published values to compare against.
        run_label: Label of the run's columns, beside ``paper`` and ``difference``.
        keys: Columns rows are matched on, each one of ``model``, ``group`` or ``dataset``.
        metrics: Metric columns to compare.
        intervals: Rows with the key columns, ``metric`` (e.g. ``iou``), ``low`` and ``high`` (percent), e.g.
            :attr:`landslide_core.scoring.intervals.Judged.estimates` with ``configuration`` renamed to ``model``.

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
    extra = {tuple(row): len(order) + i for i, row in enumerate(run[list(keys)].itertuples(index=False))}
    merged["_order"] = [order.get(tuple(row), extra.get(tuple(row)))
                        for row in merged[list(keys)].itertuples(index=False)]
    merged = merged.sort_values("_order").set_index(list(keys))
    columns = {}
    for metric in metrics:
        name = PAPER_COLUMNS.get(metric, metric)
        paper, ours = merged[f"{metric}@paper"].astype(float), merged[f"{metric}@run"].astype(float)
        columns[(name, PAPER)] = paper
        columns[(name, run_label)] = ours
        columns[(name, DIFFERENCE)] = ours - paper
        if intervals is not None:
            bounds = intervals[intervals["metric"] == metric].set_index(list(keys))[[LOW, HIGH]]
            for bound in (LOW, HIGH):
                columns[(name, bound)] = pd.Series(bounds[bound]).reindex(merged.index).astype(float)
    result = pd.DataFrame(columns)
    result.columns = pd.MultiIndex.from_tuples(result.columns, names=["metric", "source"])
    result.index.names = [k.capitalize() for k in keys]
    return result


def _number(value: float, signed: bool = False) -> str:
    if pd.isna(value):
        return "—"
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    return text.replace("-", "−")


def _run_label(columns: pd.Index) -> str:
    """The source label of a comparison's run columns (the one that is not paper, difference or a bound)."""
    return next(c for c in columns if c not in (PAPER, DIFFERENCE, LOW, HIGH))


def by_metric(comparison: pd.DataFrame, *, rows: str, columns: str,
              flagged: Sequence[tuple[str, str]] = ()) -> dict[str, pd.DataFrame]:
    """One small table per metric of a :func:`paper_vs_run` table, each cell "paper / this run / Δ".

    Where the comparison has intervals, this run's ``[low, high]`` follows on a second line of the cell
    (:data:`INTERVAL_BREAK`).

    ``rows`` and ``columns`` name two of the comparison's index levels (e.g. ``Model`` and ``Group``). A row
    the paper has no value for (a baseline) shows this run's value alone; a run that produced no value shows
    "—" there. Cells of ``flagged`` (row, column) pairs, e.g. models that learned nothing, end in "†".
    Eighteen columns side by side do not fit a laptop's page, three or four do.
    """
    tables = {}
    for metric in dict.fromkeys(comparison.columns.get_level_values("metric")):
        part = comparison[metric]
        ours = part[_run_label(part.columns)].map(_number)
        text = part[PAPER].map(_number) + " / " + ours + " / " + part[DIFFERENCE].map(lambda v: _number(v, signed=True))
        text = text.where(part[PAPER].notna(), ours)
        if LOW in part.columns:  # the interval on a line of its own: three groups' cells then fit a laptop's page
            bounds = INTERVAL_BREAK + "[" + part[LOW].map(_number) + ", " + part[HIGH].map(_number) + "]"
            text = text + bounds.where(part[LOW].notna(), "")
        frame = text.reset_index()
        table = frame.pivot(index=rows, columns=columns, values=0)
        table = table.loc[list(dict.fromkeys(frame[rows])), list(dict.fromkeys(frame[columns]))]
        for row, column in flagged:
            if row in table.index and column in table.columns:
                table.loc[row, column] += " †"
        tables[metric] = table.fillna("").rename_axis(index=rows, columns=None)
    return tables


def metric_tables_html(comparison: pd.DataFrame, *, rows: str, columns: str, caption: str,
                       flagged: Sequence[tuple[str, str]] = (), level: float = 0.95) -> str:
    """:func:`by_metric`'s tables as HTML, side by side where the page is wide enough and wrapping where not.

    ``flagged`` (row, column) pairs are marked "†": no result (:func:`~landslide_core.eval.baselines.no_result`);
    ``level`` is the coverage of the intervals, where the comparison has them.
    """
    sources = comparison.columns.get_level_values("source")
    interval = f", and under it this run's {100 * level:g} % interval [low, high]" if LOW in sources else ""
    parts = [f'<p class="metric-tables-caption"><strong>{html.escape(caption)}</strong>. Each cell: paper / '
             f"{html.escape(_run_label(sources))} / difference (points){interval}; a baseline's cell holds this run's "
             "value alone, and — stands where a side has no value."
             + (f" † marks a model that is no result: {html.escape(no_result_rule(level))}."
                if flagged else "")
             + "</p>"]
    return parts[0] + side_by_side(by_metric(comparison, rows=rows, columns=columns, flagged=flagged))


def side_by_side(tables: Mapping[str, pd.DataFrame], precision: int = 1) -> str:
    """Small tables as HTML, each captioned by its key, side by side where the page is wide enough, wrapped where not."""
    cells = []
    for name, table in tables.items():
        styler = (table.style.format(precision=precision, na_rep="—").set_caption(html.escape(str(name)))
                  .set_table_styles([{"selector": "", "props": "font-size: 0.9em"},
                                     {"selector": "td, th", "props": "padding: 0.15em 0.6em 0.15em 0.25em"},
                                     {"selector": "td", "props": "white-space: nowrap"}])
                  .set_table_attributes('class="dataframe metric-table"'))
        cells.append(f'<div class="metric-table-cell">{styler.to_html()}</div>')
    return ('<div class="metric-tables" style="display:flex;flex-wrap:wrap;gap:0.5em 2em;align-items:flex-start">'
            + "".join(cells) + "</div>")


def paper_vs_run_figure(comparison: pd.DataFrame, *, spread: pd.DataFrame | None = None,
                        baselines: Sequence[str] = ()) -> Figure:
    """Paper (open circle) and this run (dot, with its interval as a bar) per metric and row.

    Args:
        comparison: A :func:`paper_vs_run` table; where it has :data:`LOW` and :data:`HIGH` columns, the bars show
            that interval.
        spread: Without intervals: standard deviations over seeds, indexed like ``comparison`` with metric keys as
            columns (``iou``, …), drawn as ± bars; ``None`` or NaN where one seed was run.
        baselines: Values of the first index level that are baselines, drawn in grey.
    """
    metrics = list(dict.fromkeys(comparison.columns.get_level_values("metric")))
    labels = [" · ".join(str(k) for k in key) if isinstance(key, tuple) else str(key) for key in comparison.index]
    first = [key[0] if isinstance(key, tuple) else key for key in comparison.index]
    ncols = 3
    nrows = math.ceil(len(metrics) / ncols)
    height = 0.6 + 0.19 * len(labels)
    figure = plt.figure(figsize=(9.6, height * nrows + 0.5), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False, sharey=True)
    names = {v: k for k, v in PAPER_COLUMNS.items()}
    y = list(range(len(labels)))[::-1]
    for axis, metric in zip(axes.flat, metrics, strict=False):
        part = comparison[metric]
        run_label = _run_label(part.columns)
        errors = None
        key = names.get(metric, metric)
        if LOW in part.columns:
            errors = np.vstack([(part[run_label] - part[LOW]).fillna(0), (part[HIGH] - part[run_label]).fillna(0)])
        elif spread is not None and key in spread.columns:
            errors = spread[key].reindex(comparison.index).fillna(0).to_numpy()
        colours = ["#999999" if f in baselines else "#2b6cb0" for f in first]
        axis.errorbar(part[run_label], y, xerr=errors, fmt="none", ecolor="#2b6cb0", elinewidth=1)
        axis.scatter(part[run_label], y, c=colours, s=22, zorder=3, label=run_label)
        axis.scatter(part[PAPER], y, facecolors="none", edgecolors="black", s=30, zorder=4, label=PAPER)
        axis.set_title(f"{metric} (%)", fontsize=9)
        axis.set_xlim(-3, 103)
        axis.grid(axis="x", color="#dddddd")
        axis.tick_params(labelsize=7)
    for axis in axes.flat[len(metrics):]:
        axis.set_visible(False)
    for row in axes:
        row[0].set_yticks(y, labels)
    handles, legend = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, legend, loc="outside lower center", ncols=2, fontsize=8)
    return figure
