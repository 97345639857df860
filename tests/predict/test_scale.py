"""The scale benchmark's parts: a large scene written window by window, a measured process, the summary's numbers."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.crs import CRS

from landslide_core.errors import ConfigError, PredictionError
from landslide_core.predict.formats import output_paths
from landslide_core.predict.scale import (
    POINTWISE,
    SCENE_CRS,
    TEXTURE,
    marker_path,
    measure_scene,
    scene_scale_frame,
    scene_texture,
    summary,
    write_large_scene,
)
from landslide_core.provenance import collect_provenance, read_record, write_record


def expected_scene(side: int) -> np.ndarray:
    """The scene built in memory the simple way: the texture mirrored in odd texture rows and columns."""
    texture = scene_texture(0)
    copies = -(-side // TEXTURE)
    rows = [np.concatenate([texture[:, ::-1 if r % 2 else 1, ::-1 if c % 2 else 1] for c in range(copies)], axis=2)
            for r in range(copies)]
    return np.concatenate(rows, axis=1)[:, :side, :side]


@pytest.mark.slow
@pytest.mark.parametrize("side", [3072, 1300])
def test_a_large_scene_is_written_window_by_window_without_a_scene_sized_array(tmp_path: Path, side: int) -> None:
    scene_texture(0)  # rendered once per process; what is measured below is the writer alone
    path = tmp_path / "scene.tif"
    tracemalloc.start()
    try:
        write_large_scene(path, side, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * side * side / 2, f"the writer held {peak / 2**20:.1f} MiB"
    assert peak < 2 * 3 * TEXTURE**2  # a window or two of the texture at a time
    with rasterio.open(path) as src:
        assert (src.width, src.height, src.count, src.dtypes) == (side, side, 3, ("uint8",) * 3)
        assert src.crs == CRS.from_string(SCENE_CRS) and src.res == (3.0, 3.0)
        assert src.block_shapes == [(512, 512)] * 3 and src.compression.name == "deflate"
        image = src.read()
    np.testing.assert_array_equal(image, expected_scene(side))
    # mirrored copies meet without a seam: the columns either side of a texture boundary are the same pixels
    np.testing.assert_array_equal(image[:, :, TEXTURE - 1], image[:, :, TEXTURE])
    np.testing.assert_array_equal(image[:, TEXTURE - 1], image[:, TEXTURE])
    assert 0.5 < image[1].mean() / 255 * 2 < 1.5 and image.std() > 10, "ground, not a blank or white scene"


def test_a_scene_written_before_is_kept_and_a_different_one_rewritten(tmp_path: Path) -> None:
    path = write_large_scene(tmp_path / "scene.tif", 600, progress=False)
    written = path.stat().st_mtime_ns
    assert write_large_scene(path, 600, progress=False).stat().st_mtime_ns == written
    write_large_scene(path, 700, progress=False)
    with rasterio.open(path) as src:
        assert src.width == 700
    marker_path(path).unlink()  # no marker: not known to be ours, so written again
    write_large_scene(path, 700, progress=False)
    assert marker_path(path).is_file()
    with pytest.raises(ConfigError, match="at least 1 pixel"):
        write_large_scene(tmp_path / "empty.tif", 0, progress=False)


@pytest.mark.slow
def test_a_measured_prediction_runs_in_its_own_process_and_reports_its_peak_memory(tmp_path: Path) -> None:
    scene = write_large_scene(tmp_path / "scene.tif", 1024, progress=False)
    paths = output_paths(scene, tmp_path / "out")
    paths["report"].parent.mkdir()
    paths["report"].write_text("{}")  # a stale report is removed, not trusted
    row = measure_scene(scene, POINTWISE, out=tmp_path / "out", progress=False)
    assert row["model"] == POINTWISE and (row["width"], row["height"]) == (1024, 1024)
    assert row["tiles"] == row["tiles_computed"] == 9 and row["chunks_resumed"] == 0
    assert 100 < row["baseline_rss_mib"] < row["process_peak_rss_mib"]  # torch imported, then more held
    assert row["process_s"] > sum(row["seconds"].values()) > 0 and row["torch_threads"] >= 1
    assert row["gpu_peak_mib"] is None and row["device"] == "cpu"
    for key in ("probability", "mask", "polygons", "report"):
        assert paths[key].is_file() and paths[key].stat().st_size > 100
    # the pointwise model maps the texture's scars as whole landslides, not speckle
    assert 0.01 < row["landslide_pixels"] / row["valid_pixels"] < 0.15
    assert row["landslide_pixels"] / row["polygons"] > 50
    with pytest.raises(PredictionError, match=r"failed \(exit 1\): .*missing.tif: scene not found") as error:
        measure_scene(tmp_path / "missing.tif", POINTWISE, out=tmp_path / "out", progress=False)
    assert "Traceback" not in str(error.value)


def hand_made(model: str, side: int, seconds: float, baseline: float, peak: float) -> dict[str, object]:
    return {"model": model, "width": side, "height": side, "tiles_computed": 1,
            "seconds": {"predict": seconds / 2, "write": seconds / 4, "vectorize": seconds / 4}, "polygons": 3,
            "baseline_rss_mib": baseline, "process_peak_rss_mib": peak, "device": "cpu", "torch_threads": 2}


def test_the_summary_says_the_numbers_of_the_frame(tmp_path: Path) -> None:
    frame = scene_scale_frame([
        hand_made("pointwise", 1024, 1.0, 700.0, 800.0), hand_made("pointwise", 2048, 2.0, 700.0, 900.0),
        hand_made("unet", 1024, 4.0, 900.0, 1500.0), hand_made("unet", 2048, 16.0, 900.0, 1600.0),
    ])
    assert list(frame["run"]) == ["pointwise 1024²", "pointwise 2048²", "unet 1024²", "unet 2048²"]
    assert list(frame["seconds"]) == [1.0, 2.0, 4.0, 16.0]
    assert list(frame["mpx_per_s"]) == [1.049, 2.097, 0.262, 0.262]
    assert list(frame["growth_mib"]) == [100.0, 200.0, 600.0, 700.0]
    assert list(frame["scene_array_mib"]) == [3.0, 12.0, 3.0, 12.0]
    text = summary(frame)
    assert text.startswith("pointwise: 1.05 Mpx/s at 1024², 2.1 Mpx/s at 2048² end to end; seconds per megapixel "
                           "at 2048² are 0.50× those at 1024² (1 is linear time); peak resident memory 800 MiB to "
                           "900 MiB; at 2048² the process held 900 MiB at most (200 MiB above its size before "
                           "predicting) while the scene as one uint8 RGB array is 12 MiB.")
    assert " unet: 0.262 Mpx/s at 1024², 0.262 Mpx/s at 2048² end to end" in text
    assert "are 1.00× those at 1024²" in text and "held 1,600 MiB at most (700 MiB above" in text
    # the record read back says the same
    write_record(frame, tmp_path / "scene-scale-test", collect_provenance(parameters={}, data_root=tmp_path))
    rows, _ = read_record(tmp_path / "scene-scale-test")
    assert summary(pd.DataFrame(rows)) == text
