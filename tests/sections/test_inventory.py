"""The inventory page's pieces on a small demo scene and an untrained U-Net checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from landslide_core.errors import ConfigError
from landslide_core.scoring.intervals import BootstrapSettings
from landslide_core.sections.inventory import (
    benchmark_checkpoint,
    checkpoint_label,
    cloud_share,
    cost_table,
    map_figure,
    object_frame,
    pixel_interval_record,
    pixel_interval_table,
    pixel_intervals,
    pixel_table,
    scene_inventory,
    summary,
    window_counts,
)
from landslide_core.sources.cas.demo_scenes import DemoScene


@pytest.fixture(scope="module")
def result(small_scene: DemoScene, unet_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    return scene_inventory(small_scene.scene, unet_checkpoint, tmp_path_factory.mktemp("maps"),
                           reference=small_scene.labels, device="cpu", tile=128, overlap=32, batch_size=4,
                           fill=small_scene.fill_value)


def test_the_tables_come_from_the_run(result) -> None:
    pixels = pixel_table(result, "U-Net", None)
    assert list(pixels.columns) == ["Precision", "Recall", "IoU", "F1 score", "mIoU", "OA"]
    assert pixels.loc["U-Net, this scene", "IoU"] == round(result.pixels.iou * 100, 1)
    counts = result.counts
    share = 100 * (counts["tp"] + counts["fn"]) / sum(counts[k] for k in ("tp", "fp", "fn", "tn"))
    assert pixels.loc["all landslide, this scene", "IoU"] == round(share, 1)
    objects = object_frame(result)
    assert list(objects.index) == ["iou", "centroid"]
    iou = result.objects[0]
    assert objects.loc["iou", "detected"] + objects.loc["iou", "missed"] == iou.detected + iou.missed
    assert cost_table(result.report).loc["tiles (predicted this run)", "this run"] == "16 (16)"


def test_the_summary_and_cloud_share_are_computed(result, small_scene: DemoScene) -> None:
    clouded = cloud_share(result, small_scene.truth)
    with rasterio.open(result.outputs["mask"]) as mask, rasterio.open(small_scene.truth) as truth:
        mapped = mask.read(1) == 1
        expected = (mapped & (truth.read(2) == 1)).sum() / max(mapped.sum(), 1)
    assert clouded == pytest.approx(expected)
    text = summary(result, "U-Net", None, clouded=clouded)
    assert f"mapped {result.report.polygons} polygon(s)" in text
    assert f"finds {result.objects[0].detected}, misses {result.objects[0].missed}" in text


def test_the_pixel_scores_get_intervals_over_the_scenes_windows(result) -> None:
    windows = window_counts(result.outputs["mask"], result.reference, size=128)
    assert windows[["tp", "fp", "fn", "tn"]].sum().to_dict() == {k: result.counts[k] for k in ("tp", "fp", "fn", "tn")}
    assert len(windows) > 1 and windows["tile"].is_unique
    judged = pixel_intervals(result, "U-Net", size=128, settings=BootstrapSettings(resamples=2000))
    model = judged.estimate("U-Net, this scene", "iou")
    assert model["value"] == pytest.approx(result.pixels.iou * 100) and model["low"] <= model["value"] <= model["high"]
    table = pixel_interval_table(judged)
    assert list(table.index) == ["Precision", "Recall", "IoU", "F1 score", "mIoU", "OA"]
    assert list(table.columns) == ["U-Net, this scene", "all landslide, this scene"]
    assert table.loc["Recall", "all landslide, this scene"] == "100.0 [100.0, 100.0]"
    record = pixel_interval_record(judged)
    assert list(record.columns) == ["result", "score", "value", "low", "high"] and len(record) == 12
    text = summary(result, "U-Net", None, intervals=judged)
    assert (f"landslide IoU is {result.pixels.iou * 100:.1f} % (95 % interval [{model['low']:.1f}, "
            f"{model['high']:.1f}] over the scene's windows; precision") in text
    versus = judged.difference("U-Net, this scene", "all landslide, this scene", "iou")
    said = "U-Net beats all landslide" if versus["low"] > 0 else (
        "all landslide beats U-Net" if versus["high"] < 0 else "U-Net and all landslide are not distinguishable")
    assert f"on the same windows, {said}" in text


def test_each_error_is_counted_in_the_window_it_lies_in(tmp_path) -> None:
    """A map that misses the landslide pixels of one corner window only."""
    truth = np.zeros((64, 64), np.uint8)
    truth[8:56, 8:56] = 1
    predicted = truth.copy()
    predicted[:16, :16] = 0  # misses one corner window of 16 px
    profile = {"driver": "GTiff", "width": 64, "height": 64, "count": 1, "dtype": "uint8",
               "transform": from_origin(0, 64, 1, 1), "crs": "EPSG:32650", "nodata": None}
    paths = {}
    for name, array in (("mask", predicted), ("truth", truth)):
        paths[name] = tmp_path / f"{name}.tif"
        with rasterio.open(paths[name], "w", **profile) as out:
            out.write(array, 1)
    windows = window_counts(paths["mask"], paths["truth"], size=16)
    assert len(windows) == 16 and windows["fn"].sum() == 64  # the corner window's 8 × 8 landslide pixels
    assert windows.set_index("tile").loc["x0y0", "fn"] == 64


def test_the_map_figure_has_four_panels(result) -> None:
    figure = map_figure(result)
    assert [a.get_title()[:3] for a in figure.axes if a.get_title()] == ["(a)", "(b)", "(c)", "(d)"]
    assert np.isfinite(figure.axes[3].get_xlim()).all()


def test_a_run_the_benchmarks_page_does_not_train_is_named() -> None:
    with pytest.raises(ConfigError, match="trains no fcn on UAV, seed 0; it trains: "):
        benchmark_checkpoint("demo", "fcn", "UAV", 0, None)


@pytest.mark.slow
def test_a_scene_without_an_inventory_is_mapped_but_not_judged(small_scene: DemoScene, unet_checkpoint: Path,
                                                               tmp_path: Path) -> None:
    result = scene_inventory(small_scene.scene, unet_checkpoint, tmp_path, reference=None, device="cpu", tile=128,
                             overlap=32, batch_size=4)
    assert result.pixels is None and result.objects is None and result.outputs["polygons"].is_file()
    assert "No reference inventory was given" in summary(result, checkpoint_label(unet_checkpoint), None)
    assert checkpoint_label(unet_checkpoint) == "U-Net (SAT, seed 0)"
    assert len(map_figure(result).axes) >= 4
