"""The "From tiles to an inventory" page: a benchmarks model over a whole scene, into a map, polygons and scores.

The paper's tables stop at tile metrics; an inventory map is judged differently: over a
whole scene, pixel by pixel, and landslide by landslide. This page takes a model
the benchmarks page trained, predicts a demo scene from the building page (or any
scene given) with :func:`landslide_core.predict.scene.predict_scene`, and judges the
map against the scene's inventory with :mod:`landslide_core.predict.assess`. The pixel scores get block-bootstrap
intervals over the scene's windows (:func:`pixel_intervals`): neighbouring pixels err together, so the windows, not
the pixels, are resampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from rasterio.enums import Resampling

from ..book.page import results_folder
from ..errors import ConfigError
from ..experiments.runs import SCORES_FILE
from ..experiments.table5 import paper_name
from ..io.raster import open_raster
from ..predict.assess import (
    RULES,
    ObjectScores,
    object_scores,
    object_table,
    pixel_scores,
    read_polygons,
    reference_mask_reader,
)
from ..predict.formats import MASK_NODATA, PERCENT, PROBABILITY_NODATA, chunk_windows, output_paths
from ..predict.scene import Predictor, SceneReport, predict_scene
from ..scoring.confusion import COUNT_COLUMNS
from ..scoring.intervals import BootstrapSettings, Judged, compare, interval_table, judge
from ..scoring.metrics import PAPER_COLUMNS, Scores, scores_from_counts
from ..sources.cas.demo_scenes import DemoScene, write_demo_scenes
from ..train.checkpoints import BEST, LAST, checkpoint_config, load_checkpoint
from .grid import plan_grid

__all__ = [
    "InventoryResult", "benchmark_checkpoint", "checkpoint_label", "cloud_share", "cost_table", "demo_scene", "map_figure", "object_frame",
    "model_label", "pixel_interval_record", "pixel_interval_table", "pixel_intervals", "pixel_table", "scene_inventory",
    "summary", "tile_scores", "window_counts",
]

CHUNK = 2048
PREVIEW_PX = 900
"""Longest side of the rasters the figure reads (decimated on read, so a scene of any size fits)."""


def benchmark_checkpoint(profile: str, model: str, group: str, seed: int,
                         data_root: str | Path | None) -> tuple[Path | None, Path]:
    """(The checkpoint of the benchmarks page's ``model`` on ``group``, seed ``seed``, or None; its run folder).

    None when the run kept no checkpoint here (results unpacked from an archive, or not trained yet).

    Raises:
        ConfigError: The benchmarks grid of this profile has no such run.
    """
    plan = plan_grid(profile, {} if data_root is None else {"data_root": str(data_root)})
    cells = [c for c in plan.cells if (c.config.model, c.config.group, c.config.seed) == (model, group, seed)]
    if not cells:
        have = ", ".join(sorted({f"{c.config.model} on {c.config.group} seed {c.config.seed}" for c in plan.cells}))
        raise ConfigError(f"the benchmarks page of profile {profile!r} trains no {model} on {group}, seed {seed}; "
                          f"it trains: {have}")
    folder = cells[0].folder
    found = [folder / name for name in (BEST, LAST) if (folder / name).is_file()]
    return (found[0] if found else None), folder


def tile_scores(folder: Path, subdataset: str) -> pd.Series | None:
    """The run's validation scores (percent) on ``subdataset``'s tiles, or on all its tiles if it has none there."""
    path = folder / SCORES_FILE
    if not path.is_file():
        return None
    scores = pd.read_csv(path, keep_default_na=False)
    rows = scores[scores["subdataset"] == subdataset]
    return (rows if len(rows) else scores[scores["subdataset"] == ""]).iloc[0]


def demo_scene(profile: str, subdataset: str, *, seed: int = 0) -> DemoScene:
    """The building page's synthetic scene of ``subdataset`` (written there on first use, read back after).

    Raises:
        ConfigError: No demo scene is drawn for that sub-dataset.
    """
    scenes = write_demo_scenes(results_folder(profile, "building") / "work" / "scenes", seed=seed, progress=False)
    chosen = [s for s in scenes if s.subdataset == subdataset]
    if not chosen:
        raise ConfigError(f"no demo scene of {subdataset!r}; the building page draws: "
                          + ", ".join(s.subdataset for s in scenes))
    return chosen[0]


@dataclass(frozen=True)
class InventoryResult:
    """A scene's prediction and how it compares with the reference inventory."""

    scene: Path
    reference: Path | None
    """The inventory the map was judged against; None: the map was not judged (the scores below are None)."""
    report: SceneReport
    outputs: dict[str, Path]
    pixels: Scores | None
    counts: dict[str, int] | None
    objects: list[ObjectScores] | None


def scene_inventory(scene: str | Path, checkpoint: str | Path, out: str | Path, *, reference: str | Path | None,
                    device: str = "auto", iou_threshold: float = 0.5, **options: Any) -> InventoryResult:
    """Predict ``scene`` with ``checkpoint`` into ``out`` and judge the map against ``reference`` (polygons).

    ``options`` go to :func:`~landslide_core.predict.scene.predict_scene` (tile, overlap, threshold, fill, ...).
    Without a reference the map is only drawn, not judged.
    """
    predictor = Predictor.from_checkpoint(checkpoint, device=device)
    report = predict_scene(scene, predictor, out, progress=False, **options)
    outputs = output_paths(scene, out)
    if reference is None:
        return InventoryResult(Path(scene), None, report, outputs, None, None, None)
    pixels, counts = pixel_scores(outputs["mask"], reference, progress=False)
    objects = [object_scores(outputs["polygons"], reference, rule=rule, iou_threshold=iou_threshold)
               for rule in RULES]
    return InventoryResult(Path(scene), Path(reference), report, outputs, pixels, counts, objects)


def _all_landslide(counts: dict[str, int]) -> Scores:
    """What calling every pixel with data a landslide would score on the same pixels."""
    positives = counts["tp"] + counts["fn"]
    return scores_from_counts(positives, counts["fp"] + counts["tn"], 0, 0)


def pixel_table(result: InventoryResult, model: str, tiles: pd.Series | None) -> pd.DataFrame:
    """The six pixel metrics of the paper's tables (%) over the whole scene, beside all landslide's and the model's on tiles."""
    rows = {f"{model}, this scene": result.pixels.as_percent(),
            "all landslide, this scene": _all_landslide(result.counts).as_percent()}
    if tiles is not None:
        where = tiles["subdataset"] or "all"
        rows[f"{model}, validation tiles ({where})"] = {k: float(tiles[k]) for k in PAPER_COLUMNS}
    frame = pd.DataFrame(rows).T[list(PAPER_COLUMNS)].rename(columns=PAPER_COLUMNS)
    return frame.astype(float).round(1).rename_axis("result")


def window_counts(mask: str | Path, reference: str | Path, *, size: int) -> pd.DataFrame:
    """The counts of :func:`~landslide_core.predict.assess.pixel_scores` per ``size``-px window of the scene.

    Rows ``tile`` (the window's ``x<col>y<row>`` offset in pixels), ``tp``, ``fp``, ``fn``, ``tn``; windows without a
    pixel that has data in both the mask and the reference are left out. Summed, they are the scene's counts.
    """
    rows = []
    with reference_mask_reader(reference, mask) as read_reference, open_raster(mask) as src:
        for window in chunk_windows(src.width, src.height, size):
            predicted, truth = src.read(1, window=window), read_reference(window)
            valid = (predicted != MASK_NODATA) & (truth != MASK_NODATA)
            claimed, true = valid & (predicted == 1), valid & (truth == 1)
            hits, counted = np.count_nonzero(claimed & true), np.count_nonzero(valid)
            if counted:
                rows.append({"tile": f"x{window.col_off}y{window.row_off}", "tp": hits,
                             "fp": np.count_nonzero(claimed) - hits, "fn": np.count_nonzero(true) - hits,
                             "tn": counted - np.count_nonzero(claimed | true)})
    return pd.DataFrame(rows, columns=["tile", *COUNT_COLUMNS])


def pixel_intervals(result: InventoryResult, model: str, *, size: int,
                    settings: BootstrapSettings | None = None) -> Judged:
    """The scene's pixel scores of the model and of all landslide, with intervals over its ``size``-px windows.

    Each window (:func:`window_counts`) is one block; both rows are resampled with the same draws, so their
    difference is paired. Rows are named as :func:`pixel_table` names them.

    Raises:
        ConfigError: The map was not judged (no reference inventory).
    """
    if result.reference is None:
        raise ConfigError("the map was not judged against an inventory: pass `reference` to scene_inventory")
    windows = window_counts(result.outputs["mask"], result.reference, size=size)
    everywhere = windows.assign(tp=windows["tp"] + windows["fn"], fp=windows["fp"] + windows["tn"], fn=0, tn=0)
    counts = pd.concat([windows.assign(result=f"{model}, this scene"),
                        everywhere.assign(result="all landslide, this scene")], ignore_index=True)
    return judge(counts, configuration="result", settings=settings)


def pixel_interval_table(judged: Judged) -> pd.DataFrame:
    """:func:`pixel_intervals` to show: one row per score (named as the paper's tables), ``value [low, high]`` cells.

    Rows are scores and columns results, so the table stays narrow however long the model's name.
    """
    table = interval_table(judged, list(PAPER_COLUMNS)).T.rename(index=PAPER_COLUMNS)
    return table.rename_axis(index="score", columns="result")


def pixel_interval_record(judged: Judged) -> pd.DataFrame:
    """:func:`pixel_intervals` as numbers, for the record: ``result``, ``score``, ``value``, ``low``, ``high`` (%)."""
    frame = judged.estimates.rename(columns={"configuration": "result"})
    frame = frame.assign(score=frame["metric"].map(PAPER_COLUMNS))
    return frame[frame["score"].notna()][["result", "score", "value", "low", "high"]].reset_index(drop=True)


def object_frame(result: InventoryResult) -> pd.DataFrame:
    """Landslides detected, missed and false under each rule, with precision, recall and F1 in percent."""
    table = object_table(result.objects).set_index("rule")
    for column in ("precision", "recall", "f1"):
        table[column] = (100 * table[column]).round(1)
    return table.drop(columns="description")


def cost_table(report: SceneReport) -> pd.DataFrame:
    """Time and memory the prediction took, from its report."""
    s = report.seconds
    rows = [
        ("scene", f"{report.width:,} × {report.height:,} px ({report.width * report.height / 1e6:.2f} Mpx)"),
        ("tiles (predicted this run)", f"{report.tiles} ({report.tiles_computed})"),
        ("tile, overlap, chunk", f"{report.settings['tile']}, {report.settings['overlap']}, "
                                 f"{report.settings['chunk']} px"),
        ("predict and blend", f"{s.get('predict', 0):.1f} s ({report.megapixels_per_second:.2f} Mpx/s)"),
        ("write COGs", f"{s.get('write', 0):.1f} s"),
        ("vectorize", f"{s.get('vectorize', 0):.1f} s"),
        ("peak resident memory", f"{report.peak_rss_mib:,.0f} MiB ({report.added_rss_mib:,.0f} MiB above the "
                                 "start)"),
        ("device", report.device),
    ]
    return pd.DataFrame(rows, columns=["step", "this run"]).set_index("step")


def _preview(path: Path, bands: list[int]) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A raster's bands decimated to at most :data:`PREVIEW_PX` a side, and its extent for ``imshow``."""
    with open_raster(path) as src:
        factor = max(1, -(-max(src.width, src.height) // PREVIEW_PX))
        shape = (len(bands), max(1, src.height // factor), max(1, src.width // factor))
        values = src.read(bands, out_shape=shape, resampling=Resampling.nearest)
        left, bottom, right, top = src.bounds
    return values, (left, right, bottom, top)


def _outline(axis: plt.Axes, frame: gpd.GeoDataFrame, colour: str) -> None:
    if len(frame):
        frame.boundary.plot(ax=axis, color=colour, linewidth=0.7)


def _zoom(reference: gpd.GeoDataFrame, extent: tuple[float, float, float, float]) -> tuple[float, ...]:
    """A square around the reference's largest landslide, a fifth of the scene wide: where outlines can be compared."""
    left, right, bottom, top = extent
    side = max(right - left, top - bottom) / 5
    if len(reference):
        centre = reference.geometry.iloc[int(reference.geometry.area.argmax())].centroid
        x, y = centre.x, centre.y
    else:
        x, y = (left + right) / 2, (bottom + top) / 2
    x = min(max(x, left + side / 2), right - side / 2)
    y = min(max(y, bottom + side / 2), top - side / 2)
    return x - side / 2, x + side / 2, y - side / 2, y + side / 2


def map_figure(result: InventoryResult, *, bands: tuple[int, int, int] = (1, 2, 3)) -> Figure:
    """The scene with its inventory, the probability map, the predicted polygons, and a close-up of them."""
    image, extent = _preview(result.scene, list(bands))
    probability, _ = _preview(result.outputs["probability"], [1])
    rgb = np.moveaxis(image, 0, -1)
    shown = np.ma.masked_equal(probability[0], PROBABILITY_NODATA)
    predicted = gpd.read_file(result.outputs["polygons"])
    reference = predicted.iloc[:0] if result.reference is None else read_polygons(result.reference)
    if reference.crs is not None and predicted.crs is not None:
        reference = reference.to_crs(predicted.crs)
    figure, axes = plt.subplots(2, 2, figsize=(9, 9), layout="constrained")
    (scene, prob), (polygons, close) = axes
    scene.imshow(rgb, extent=extent)
    _outline(scene, reference, "cyan")
    scene.set_title("(a) scene and reference inventory")
    painted = prob.imshow(shown, extent=extent, cmap="magma", vmin=0, vmax=PERCENT)
    figure.colorbar(painted, ax=prob, shrink=0.8, label="landslide probability (%)")
    prob.set_title("(b) probability map (blended tiles)")
    for axis in (polygons, close):
        axis.imshow(rgb, extent=extent)
        _outline(axis, reference, "cyan")
        _outline(axis, predicted, "yellow")
    polygons.set_title("(c) predicted polygons over the scene")
    x0, x1, y0, y1 = _zoom(reference if len(reference) else predicted, extent)
    close.set_xlim(x0, x1)
    close.set_ylim(y0, y1)
    close.set_title("(d) close-up of (c)")
    polygons.indicate_inset_zoom(close, edgecolor="white")
    close.legend(handles=[Line2D([], [], color="cyan", label="reference"),
                          Line2D([], [], color="yellow", label="predicted")], loc="lower right", fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_xlabel("")
        axis.set_ylabel("")
    return figure


def cloud_share(result: InventoryResult, truth: str | Path) -> float:
    """Share of the predicted landslide pixels that lie under cloud, by a demo scene's truth raster (band 2)."""
    landslide = clouded = 0
    with open_raster(result.outputs["mask"]) as mask, open_raster(truth) as planted:
        for window in chunk_windows(mask.width, mask.height, CHUNK):
            predicted = mask.read(1, window=window) == 1
            landslide += int(predicted.sum())
            clouded += int((predicted & (planted.read(2, window=window) == 1)).sum())
    return clouded / landslide if landslide else 0.0


def summary(result: InventoryResult, model: str, tiles: pd.Series | None, *, clouded: float | None = None,
            intervals: Judged | None = None) -> str:
    """What the page shows, in Markdown, computed from the result.

    Args:
        result: The scene's prediction and scores.
        model: How the page names the model (:func:`model_label`).
        tiles: The model's scores on its validation tiles (:func:`tile_scores`), or None.
        clouded: :func:`cloud_share`, or None.
        intervals: :func:`pixel_intervals` of ``model``: the landslide IoU's interval and the comparison with all
            landslide are then given, judged by the paired interval.
    """
    if result.pixels is None or result.counts is None or result.objects is None:
        return (f"{model} mapped {result.report.polygons} polygon(s) over the scene. No reference inventory was "
                "given, so the map is not judged: pass `reference` (polygons) to score it.")
    scene_share = _all_landslide(result.counts).iou * 100
    by_rule = {o.rule: o for o in result.objects}
    iou_rule, centroid = by_rule["iou"], by_rule["centroid"]
    interval, judged = "", ""
    if intervals is not None:
        ours, level = f"{model}, this scene", intervals.settings.level
        row = intervals.estimate(ours, "iou")
        interval = f"{100 * level:g} % interval [{row['low']:.1f}, {row['high']:.1f}] over the scene's windows; "
        versus = intervals.difference(ours, "all landslide, this scene", "iou")
        judged = f"; on the same windows, {compare({**versus, 'a': model, 'b': 'all landslide'}, 'landslide IoU', level)}"
    text = (f"{model} mapped {result.report.polygons} polygon(s) over the scene, against "
            f"{iou_rule.detected + iou_rule.missed} landslide(s) in the reference inventory. Pixel by pixel its "
            f"landslide IoU is {result.pixels.iou * 100:.1f} % ({interval}precision {result.pixels.precision * 100:.1f} "
            f"%, recall {result.pixels.recall * 100:.1f} %); calling every pixel a landslide scores {scene_share:.1f} "
            f"%, the landslide share of the scene's pixels with data{judged}")
    if tiles is not None:
        tile_share = 100 * (float(tiles["tp"]) + float(tiles["fn"])) / float(tiles["pixels"])
        text += (f". On its validation tiles the same model scored {float(tiles['iou']):.1f} %, where landslides "
                 f"cover {tile_share:.1f} % of the pixels")
    text += (f". Landslide by landslide, the IoU rule finds {iou_rule.detected}, misses {iou_rule.missed} and "
             f"counts {iou_rule.false} false polygon(s); the centroid rule finds {centroid.detected}, misses "
             f"{centroid.missed} and counts {centroid.false} false.")
    if clouded is not None and clouded > 0:
        text += (f" {clouded * 100:.0f} % of the pixels mapped as landslide lie under the scene's cloud bank. "
                 "Quality control's cloud rule keeps tiles under such a bank out of the dataset, but a whole scene "
                 "keeps its clouds: mask them as no data before mapping.")
    return text


def model_label(model: str, group: str, seed: int) -> str:
    """``U-Net (SAT, seed 0)``: how the page names the model."""
    return f"{paper_name(model)} ({group}, seed {seed})"


def checkpoint_label(checkpoint: str | Path) -> str:
    """:func:`model_label` of the run a checkpoint was trained in, from its own settings."""
    config = checkpoint_config(load_checkpoint(checkpoint))
    return model_label(config.model, config.group, config.seed)
