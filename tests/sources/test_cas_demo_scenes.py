"""The synthetic demo scenes: georeferenced at their study regions, with defects whose truth is written beside them."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Transformer
from rasterio.features import rasterize

from landslide_core.io.raster import open_raster, read_raster
from landslide_core.sources.cas.demo_scenes import FILL_VALUES, read_demo_scenes, utm_crs, write_demo_scenes
from landslide_core.sources.cas.registry import get_subdataset, region
from landslide_core.sources.cas.synthetic import is_synthetic

SIZE = 1024


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> list:
    return write_demo_scenes(tmp_path_factory.mktemp("scenes"), subdatasets=("hokkaido", "palu", "moxitaidi-sat"),
                             size=SIZE, progress=False)


def test_utm_zone_north_and_south() -> None:
    assert utm_crs(42.75, 141.98).to_epsg() == 32654
    assert utm_crs(-0.95, 119.88).to_epsg() == 32750


def test_each_scene_lies_at_its_study_region_at_the_subdatasets_resolution(scenes: list) -> None:
    for scene in scenes:
        sd = get_subdataset(scene.subdataset)
        place = region(sd.region)
        with open_raster(scene.scene) as src:
            assert src.crs.to_string() == scene.crs
            assert src.res == (sd.resolution_m, sd.resolution_m)
            assert (src.width, src.height, src.count, src.dtypes[0]) == (SIZE, SIZE, 3, "uint8")
            centre_x, centre_y = src.xy(SIZE // 2, SIZE // 2)
        lon, lat = Transformer.from_crs(scene.crs, 4326, always_xy=True).transform(centre_x, centre_y)
        assert abs(lon - place.approx_lon) < 0.01 and abs(lat - place.approx_lat) < 0.01


def test_fill_truth_marks_exactly_the_pixels_holding_the_fill_value(scenes: list) -> None:
    for scene in scenes:
        image = read_raster(scene.scene)
        fill, cloud = read_raster(scene.truth).astype(bool)
        assert fill.any() and cloud.any()
        assert (image[:, fill] == FILL_VALUES[scene.fill_style]).all()
        # outside the footprint, no pixel is the fill colour in all three bands
        assert not (image[:, ~fill] == scene.fill_value).all(axis=0).any() or scene.fill_style == "grey"
    with open_raster(scenes[1].scene) as src:  # the second scene's fill is nodata
        assert scenes[1].fill_style == "nodata" and src.nodata == 0


def test_the_inventory_rasterizes_back_to_landslides_only_in_the_event_zone_and_the_tiny_scar(scenes: list) -> None:
    for scene in scenes:
        inventory = gpd.read_file(scene.labels)
        assert str(inventory.crs) == scene.crs and len(inventory) > 1
        with open_raster(scene.scene) as src:
            mask = rasterize(inventory.geometry, out_shape=(SIZE, SIZE), transform=src.transform)
        r, c, h, w = scene.event_zone
        outside = mask.copy()
        outside[r:r + h, c:c + w] = 0
        assert mask[r:r + h, c:c + w].sum() > 0.002 * h * w
        assert 0 < outside.sum() == scene.tiny_scar_pixels < 0.001 * 512 * 512


def test_the_seam_is_a_straight_jump_in_brightness(scenes: list) -> None:
    for scene in scenes:
        grey = read_raster(scene.scene).astype(float).mean(axis=0)
        fill = read_raster(scene.truth)[0].astype(bool)
        grey[fill] = np.nan
        profile = np.nanmean(grey, axis=0 if scene.seam_axis == "vertical" else 1)
        jumps = np.abs(np.diff(profile))
        assert np.nanargmax(jumps) + 1 == scene.seam_position


def test_scenes_are_marked_synthetic_read_back_and_repeat_for_a_seed(scenes: list, tmp_path: Path) -> None:
    folder = scenes[0].scene.parent
    assert is_synthetic(folder)
    assert read_demo_scenes(folder) == scenes
    again = write_demo_scenes(tmp_path, subdatasets=("hokkaido",), size=SIZE, progress=False)
    assert (read_raster(again[0].scene) == read_raster(scenes[0].scene)).all()
