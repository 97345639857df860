"""Scene prediction: tiled blending equals whole-scene prediction, outputs keep the georeferencing, work resumes."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch
from rasterio.crs import CRS
from rasterio.features import rasterize
from rasterio.transform import from_origin
from torch import nn

from landslide_core.errors import ConfigError, PredictionError
from landslide_core.io.raster import no_georeferencing_warnings, write_raster
from landslide_core.predict.blend import TileCache, TileGrid, computed_tiles, ramp
from landslide_core.predict.formats import MASK_NODATA, PROBABILITY_NODATA, chunk_windows, output_paths
from landslide_core.predict.scene import Predictor, blended_chunks, predict_scene
from landslide_core.runtime.device import Runtime
from landslide_core.sources.base import Normalisation

CRS_UTM = CRS.from_epsg(32654)
TRANSFORM = from_origin(500000.0, 4800000.0, 2.0, 2.0)


def pointwise(seed: int = 0) -> Predictor:
    """A model of 1×1 convolutions only: each pixel's output depends on that pixel alone."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, 1, 1)).eval()
    with torch.no_grad():  # logit = 8 (red - green) + a little of the random rest: about half the pixels map
        model[0].weight[:2] = torch.tensor([[8.0, -8.0, 0.0], [-8.0, 8.0, 0.0]])[..., None, None]
        model[0].bias[:2] = 0
        model[2].weight[0, :2] = torch.tensor([1.0, -1.0])[:, None, None]
        model[2].weight[0, 2:] *= 0.1
    return Predictor(model, Normalisation(), Runtime.for_device("cpu"), "pointwise", "pointwise-test")


def write_scene(path: Path, width: int, height: int, *, seed: int = 0, georeferenced: bool = True, block: int = 1,
                **profile: object) -> np.ndarray:
    """Random colours in ``block``-px squares (blocks keep the landslide polygons few and the test fast)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(1, 255, (3, -(-height // block), -(-width // block)), dtype=np.uint8)
    image = np.ascontiguousarray(coarse.repeat(block, 1).repeat(block, 2)[:, :height, :width])
    geo = {"crs": CRS_UTM, "transform": TRANSFORM} if georeferenced else {}
    write_raster(path, image, tiled=True, blockxsize=256, blockysize=256, **geo, **profile)
    return image


def whole_scene(predictor: Predictor, image: np.ndarray) -> np.ndarray:
    return predictor(image[None])[0]


@pytest.mark.parametrize(("tile", "overlap", "chunk"), [(64, 0, 100), (64, 16, 64), (96, 40, 150), (128, 127, 999),
                                                        (512, 128, 512)])
@pytest.mark.slow
def test_blending_tiles_equals_the_whole_scene_for_a_pointwise_model(tmp_path: Path, tile: int, overlap: int,
                                                                    chunk: int) -> None:
    image = write_scene(tmp_path / "scene.tif", 301, 203)
    predictor = pointwise()
    grid = TileGrid.build(301, 203, tile, overlap)
    blended = np.full((203, 301), np.nan, np.float32)
    with rasterio.open(tmp_path / "scene.tif") as src:
        windows = list(chunk_windows(301, 203, chunk))
        for window, probability in blended_chunks(src, predictor, grid, windows, bands=(1, 2, 3), batch_size=3,
                                                  cache=TileCache(4)):
            blended[window.toslices()] = probability
    np.testing.assert_allclose(blended, whole_scene(predictor, image), rtol=0, atol=2e-6)


def test_weights_cross_fade_to_one_where_neighbours_overlap_by_the_overlap() -> None:
    weights = ramp(64, 16)
    assert weights[16:48].min() == 1.0 and weights[0] > 0
    np.testing.assert_allclose(weights[48:] + weights[:16], 1.0, atol=1e-12)
    grid = TileGrid.build(64 + 48 * 3, 64, 64, 16)
    np.testing.assert_allclose(grid.col_sum[16:-16], 1.0, atol=1e-12)


def test_a_cache_smaller_than_a_chunk_row_recomputes_and_the_dry_run_counts_it() -> None:
    grid = TileGrid.build(1000, 1000, 128, 32)
    windows = list(chunk_windows(1000, 1000, 256))
    calls = []
    cache = TileCache(3)
    for window in windows:
        for key in cache.split(grid.tiles_in(window))[1]:
            cache.put(key, np.zeros((1, 1)))
            calls.append(key)
    assert len(calls) == computed_tiles(grid, windows, 3) > grid.count
    assert computed_tiles(grid, windows, 10_000) == grid.count


@pytest.mark.parametrize(("tile", "overlap"), [(100, 10), (64, 64), (0, 0)])
def test_tile_settings_that_cannot_work_are_refused(tile: int, overlap: int) -> None:
    with pytest.raises(ConfigError, match="multiple of 32"):
        TileGrid.build(500, 500, tile, overlap)


def fill_corner(path: Path, width: int, height: int, fill: int) -> np.ndarray:
    image = write_scene(path, width, height, seed=3, block=9)
    image[:, :60, :80] = fill
    write_raster(path, image, tiled=True, blockxsize=256, blockysize=256, crs=CRS_UTM, transform=TRANSFORM,
                 **({"nodata": 0} if fill == 0 else {}))
    return image


@pytest.mark.parametrize("fill", [255, 0])
def test_outputs_keep_the_georeferencing_mask_the_fill_and_polygons_match_the_mask(tmp_path: Path,
                                                                                  fill: int) -> None:
    image = fill_corner(tmp_path / "scene.tif", 1100, 700, fill)
    predictor = pointwise()
    report = predict_scene(tmp_path / "scene.tif", predictor, tmp_path / "out", tile=128, overlap=32, chunk=512,
                           fill=255 if fill == 255 else None, progress=False)
    paths = output_paths(tmp_path / "scene.tif", tmp_path / "out")
    expected = whole_scene(predictor, image)
    with rasterio.open(paths["probability"]) as prob, rasterio.open(paths["mask"]) as mask:
        for src in (prob, mask):
            assert src.crs == CRS_UTM and src.transform == TRANSFORM and (src.width, src.height) == (1100, 700)
            assert src.profile["tiled"] and src.compression.name == "deflate" and src.overviews(1)
        assert prob.nodata == PROBABILITY_NODATA and mask.nodata == MASK_NODATA
        percent, binary = prob.read(1), mask.read(1)
    assert (percent[:60, :80] == PROBABILITY_NODATA).all() and (binary[:60, :80] == MASK_NODATA).all()
    rest = np.ones_like(binary, bool)
    rest[:60, :80] = False
    np.testing.assert_array_equal(percent[rest], np.rint(expected[rest] * 100))
    np.testing.assert_array_equal(binary[rest], expected[rest] >= 0.5)
    assert 0.1 < binary[rest].mean() < 0.9, "the test model must map some pixels and not others"
    polygons = gpd.read_file(paths["polygons"], layer="landslides")
    assert len(polygons) == report.polygons > 0 and polygons.crs == CRS_UTM
    burnt = rasterize(polygons.geometry, out_shape=(700, 1100), transform=TRANSFORM, dtype=np.uint8)
    np.testing.assert_array_equal(burnt, binary == 1)
    saved = json.loads(paths["report"].read_text())
    assert saved["tiles"] == report.tiles == 12 * 7 and saved["landslide_pixels"] == int((binary == 1).sum())
    assert not paths["work"].exists()


class Interrupted(RuntimeError):
    pass


class Counting:
    """A predictor that counts tiles and can fail after some batches, as a killed job would stop."""

    def __init__(self, inner: Predictor, fail_after: int | None = None) -> None:
        self.inner, self.fail_after, self.tiles, self.batches = inner, fail_after, 0, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if self.fail_after is not None and self.batches >= self.fail_after:
            raise Interrupted("stopped")
        self.batches += 1
        self.tiles += len(images)
        return self.inner(images)


def test_an_interrupted_scene_resumes_without_recomputing_finished_chunks(tmp_path: Path) -> None:
    write_scene(tmp_path / "scene.tif", 1500, 1100, block=9)
    options = {"tile": 128, "overlap": 32, "chunk": 512, "batch_size": 4, "progress": False}
    whole = Counting(pointwise())
    predict_scene(tmp_path / "scene.tif", whole, tmp_path / "whole", **options)
    first = Counting(pointwise(), fail_after=40)
    with pytest.raises(Interrupted):
        predict_scene(tmp_path / "scene.tif", first, tmp_path / "out", **options)
    progress = json.loads((output_paths(tmp_path / "scene.tif", tmp_path / "out")["work"] / "progress.json").read_text())
    assert 0 < len(progress["done"]) < 6
    second = Counting(pointwise())
    report = predict_scene(tmp_path / "scene.tif", second, tmp_path / "out", **options)
    assert report.chunks_resumed == len(progress["done"]) and second.tiles == report.tiles_computed < whole.tiles
    for kind in ("probability", "mask"):
        with rasterio.open(tmp_path / "whole" / f"scene.{kind}.tif") as a, rasterio.open(
                tmp_path / "out" / f"scene.{kind}.tif") as b:
            np.testing.assert_array_equal(a.read(), b.read())
    again = Counting(pointwise())
    predict_scene(tmp_path / "scene.tif", again, tmp_path / "out", **options)
    assert again.tiles == 0, "a finished scene is not predicted again"


def test_a_scene_without_georeferencing_is_predicted_in_pixels_with_a_warning(tmp_path: Path) -> None:
    image = np.random.default_rng(1).integers(0, 256, (3, 90, 130), dtype=np.uint8)
    with no_georeferencing_warnings(), rasterio.open(tmp_path / "photo.png", "w", driver="PNG", width=130,
                                                     height=90, count=3, dtype="uint8") as dst:
        dst.write(image)
    with pytest.warns(UserWarning, match="no georeferencing"):
        report = predict_scene(tmp_path / "photo.png", pointwise(), tmp_path / "out", tile=64, overlap=16,
                               progress=False)
    assert not report.georeferenced and report.crs is None
    with no_georeferencing_warnings(), rasterio.open(tmp_path / "out" / "photo.mask.tif") as mask:
        assert mask.crs is None and (mask.width, mask.height) == (130, 90)
    polygons = gpd.read_file(tmp_path / "out" / "photo.landslides.gpkg")
    assert "area_px" in polygons.columns


def test_bad_scenes_are_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(PredictionError, match="scene not found"):
        predict_scene(tmp_path / "missing.tif", pointwise(), tmp_path / "out", progress=False)
    write_raster(tmp_path / "grey.tif", np.zeros((1, 64, 64), np.uint8))
    with pytest.raises(PredictionError, match=r"grey\.tif.*1 band"):
        predict_scene(tmp_path / "grey.tif", pointwise(), tmp_path / "out", progress=False)
    write_raster(tmp_path / "deep.tif", np.zeros((3, 64, 64), np.uint16))
    with pytest.raises(PredictionError, match="gdal_translate"):
        predict_scene(tmp_path / "deep.tif", pointwise(), tmp_path / "out", progress=False)


@pytest.mark.slow
def test_memory_stays_flat_for_a_scene_larger_than_the_tile_cache(tmp_path: Path) -> None:
    """Peak memory added while predicting a 3072² and a 6144² scene (cache of 8 tiles, chunks of 512 px): four times
    the pixels add less than a quarter of what the scene grew by, and never the scene itself.

    A 1024² scene goes first, so that what a process's first prediction allocates once (and what other tests in the
    process did not yet) is not counted for either. Both measured scenes fill GDAL's block cache (``GDAL_CACHE_MB``,
    about the 3072² scene's size), so what is left to differ is what would grow with the scene.
    """
    added = {}
    for side in (1024, 3072, 6144):
        path = tmp_path / f"scene{side}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=3, dtype="uint8", crs=CRS_UTM,
                           transform=TRANSFORM, tiled=True, blockxsize=512, blockysize=512) as dst:
            rng = np.random.default_rng(side)
            for window in chunk_windows(side, side, 1024):
                coarse = rng.integers(1, 255, (3, window.height // 16, window.width // 16), dtype=np.uint8)
                dst.write(coarse.repeat(16, 1).repeat(16, 2), window=window)
        report = predict_scene(path, pointwise(), tmp_path / "out", tile=256, overlap=32, chunk=512, cache_tiles=8,
                               batch_size=4, progress=False)
        assert report.tiles_computed > report.tiles or side == 1024
        added[side] = report.added_rss_mib
    whole_scene_mib = {side: side * side * 3 / 2**20 for side in added}  # a scene as one uint8 array: 27, 108 MiB
    assert added[6144] < whole_scene_mib[6144], added
    assert added[6144] - added[3072] < (whole_scene_mib[6144] - whole_scene_mib[3072]) / 4, added
