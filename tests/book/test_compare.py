"""The paper-versus-run layouts a reader takes in on a laptop: one small table per metric, and the same as dots."""

from __future__ import annotations

import numpy as np
import pandas as pd

from landslide_core.book.compare import (
    by_metric,
    metric_tables_html,
    paper_vs_run,
    paper_vs_run_figure,
    side_by_side,
)
from landslide_core.eval.paper import paper_values
from landslide_core.scoring import PAPER_COLUMNS

RUN = "this run (demo data, synthetic)"


def _run_table() -> pd.DataFrame:
    rows = [{"model": "FCN", "group": "UAV", "precision": 10.0, "recall": 75.5, "iou": 10.04, "f1": 22.4, "miou": 12.6,
             "oa": 22.6},
            {"model": "all landslide", "group": "UAV", "precision": 11.4, "recall": 100.0, "iou": 11.4, "f1": 10.2,
             "miou": 5.7, "oa": 11.4}]
    return pd.DataFrame(rows)


def test_each_metric_gets_a_small_table_of_paper_run_and_difference_cells():
    comparison = paper_vs_run(_run_table(), 5, run_label=RUN)
    tables = by_metric(comparison, rows="Model", columns="Group")
    assert list(tables) == list(PAPER_COLUMNS.values())
    iou = tables["IoU"]
    paper = paper_values(5).set_index(["model", "group"]).loc[("FCN", "UAV"), "iou"]
    assert iou.loc["FCN", "UAV"] == f"{paper:.1f} / 10.0 / {10.04 - paper:+.1f}".replace("-", "−")
    assert iou.loc["all landslide", "UAV"] == "11.4"  # a baseline: no paper value, this run's alone
    assert iou.loc["U-Net", "UAV"].endswith(" / — / —")  # the paper's row this run did not train
    assert list(iou.columns) == ["UAV", "SAT", "UAV&SAT"] and iou.index[-1] == "all landslide"
    both = pd.concat([_run_table(), _run_table().iloc[[1]].assign(model="all background", iou=0.0)])
    order = by_metric(paper_vs_run(both, 5, run_label=RUN), rows="Model", columns="Group")["IoU"].index
    assert list(order[-2:]) == ["all landslide", "all background"]  # rows only the run has keep the run's order


def test_the_tables_wrap_side_by_side_and_name_what_a_cell_holds():
    comparison = paper_vs_run(_run_table(), 5, run_label=RUN)
    page = metric_tables_html(comparison, rows="Model", columns="Group", caption="Paper Table 5 and this run (%)")
    assert "flex-wrap:wrap" in page and page.count("<table") == 6
    assert f"Each cell: paper / {RUN} / difference (points)" in page


def test_the_figure_has_a_panel_per_metric_with_paper_and_run_points_and_the_seed_spread():
    comparison = paper_vs_run(_run_table(), 5, run_label=RUN)
    spread = pd.DataFrame({"iou": [2.0] + [np.nan] * (len(comparison) - 1)}, index=comparison.index)
    figure = paper_vs_run_figure(comparison, spread=spread, baselines=["all landslide"])
    panels = [a for a in figure.axes if a.get_visible()]
    assert [a.get_title() for a in panels] == [f"{m} (%)" for m in PAPER_COLUMNS.values()]
    iou = panels[2]
    run_points, paper_points = iou.collections[1], iou.collections[2]
    y = {label.get_text(): label.get_position()[1] for label in panels[0].get_yticklabels()}
    row = list(comparison.index).index(("FCN", "UAV"))
    assert tuple(run_points.get_offsets()[row]) == (10.04, y["FCN · UAV"])
    baseline = list(comparison.index).index(("all landslide", "UAV"))
    assert np.ma.is_masked(paper_points.get_offsets()[baseline][0])  # no paper value: no circle
    bars = iou.collections[0].get_segments()  # the ± spread, drawn only where it is given
    assert np.allclose(bars[row][:, 0], [8.04, 12.04])


def test_with_intervals_cells_tables_and_bars_show_this_runs_interval():
    intervals = pd.DataFrame({"model": "FCN", "group": "UAV", "metric": ["iou", "miou"], "low": [7.5, 10.0],
                              "high": [13.25, 15.0]})
    comparison = paper_vs_run(_run_table(), 5, run_label=RUN, intervals=intervals)
    assert comparison.loc[("FCN", "UAV"), ("IoU", "low")] == 7.5
    assert np.isnan(comparison.loc[("all landslide", "UAV"), ("IoU", "high")])  # no interval given: none shown
    iou = by_metric(comparison, rows="Model", columns="Group")["IoU"]
    paper = paper_values(5).set_index(["model", "group"]).loc[("FCN", "UAV"), "iou"]
    assert iou.loc["FCN", "UAV"] == f"{paper:.1f} / 10.0 / {10.04 - paper:+.1f}<br>[7.5, 13.2]".replace("-", "−")
    assert iou.loc["all landslide", "UAV"] == "11.4"
    page = metric_tables_html(comparison, rows="Model", columns="Group", caption="Table 5", flagged=[("FCN", "UAV")])
    assert f"Each cell: paper / {RUN} / difference (points), and under it this run's 95 % interval" in page
    assert "<br>[7.5, 13.2]" in page  # a line break in the rendered cell, not the text "<br>"
    assert "† marks a model that is no result: the 95 % interval of its mIoU difference" in page
    figure = paper_vs_run_figure(comparison)
    bars = [a for a in figure.axes if a.get_title() == "IoU (%)"][0].collections[0].get_segments()
    row = list(comparison.index).index(("FCN", "UAV"))
    assert np.allclose(bars[row][:, 0], [7.5, 13.25])  # from low to high, around the run's 10.04


def test_small_tables_sit_side_by_side_under_their_names_with_one_decimal():
    tables = {"Trained on UAV": pd.DataFrame({"U-Net": [60.95, np.nan]}, index=["longxi-uav", "jiuzhai-0.2m"])}
    page = side_by_side(tables)
    assert "flex-wrap:wrap" in page and "Trained on UAV" in page
    assert ">61.0<" in page and ">—<" in page and "60.95" not in page
