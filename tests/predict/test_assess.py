from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from rasterio import features
from rasterio.transform import from_origin
from rasterio.windows import Window
from shapely.geometry import Point, Polygon, box

from landslide_core.errors import ConfigError, PredictionError
from landslide_core.io.raster import write_raster
from landslide_core.predict.assess import (
    OBJECT_COLUMNS,
    describe,
    object_scores,
    object_table,
    pixel_scores,
    read_polygons,
    reference_mask_reader,
)
from landslide_core.predict.formats import MASK_NODATA, POLYGON_LAYER
from landslide_core.scoring.metrics import scores_from_counts

UTM = "EPSG:32633"
X0, Y0 = 500_000.0, 4_700_000.0
WIDTH, HEIGHT = 301, 253
TRANSFORM = from_origin(X0, Y0, 2.0, 2.0)


def _mask(rng: np.random.Generator) -> np.ndarray:
    """Blocks of landslide, and a band and a corner without data."""
    mask = (rng.random((HEIGHT // 8 + 1, WIDTH // 8 + 1)) < 0.3).repeat(8, 0).repeat(8, 1)[:HEIGHT, :WIDTH]
    mask = mask.astype(np.uint8)
    mask[:, :13] = MASK_NODATA
    mask[200:, 250:] = MASK_NODATA
    return mask


def _inventory(rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Random boxes and discs, some reaching past the scene's edge."""
    shapes = []
    for _ in range(40):
        x, y = X0 + rng.uniform(-40, 2 * WIDTH + 40), Y0 - rng.uniform(-40, 2 * HEIGHT + 40)
        if rng.random() < 0.5:
            shapes.append(box(x, y, x + rng.uniform(5, 80), y + rng.uniform(5, 80)))
        else:
            shapes.append(Point(x, y).buffer(rng.uniform(3, 40)))
    return gpd.GeoDataFrame({"id": range(len(shapes))}, geometry=shapes, crs=UTM)


def _direct(mask: np.ndarray, truth: np.ndarray, excluded: np.ndarray) -> dict[str, int]:
    valid = (mask != MASK_NODATA) & ~excluded
    pred, true = mask == 1, truth == 1
    return {"tp": int((valid & pred & true).sum()), "fp": int((valid & pred & ~true).sum()),
            "fn": int((valid & ~pred & true).sum()), "tn": int((valid & ~pred & ~true).sum()),
            "pixels": mask.size, "nodata_mask": int((mask == MASK_NODATA).sum()),
            "nodata_reference": int((excluded & (mask != MASK_NODATA)).sum())}


@pytest.fixture
def scene(tmp_path: Path) -> dict:
    rng = np.random.default_rng(7)
    mask = _mask(rng)
    mask_path = write_raster(tmp_path / "scene.mask.tif", mask, crs=UTM, transform=TRANSFORM, nodata=MASK_NODATA)
    inventory = _inventory(rng)
    vector = tmp_path / "inventory.gpkg"
    inventory.to_file(vector, layer="slides")
    return {"mask": mask, "mask_path": mask_path, "inventory": inventory, "vector": vector, "rng": rng}


@pytest.mark.parametrize("chunk", [37, 4096])
def test_pixel_scores_vector_equal_a_whole_raster_count(scene: dict, chunk: int) -> None:
    truth = features.rasterize(((g, 1) for g in scene["inventory"].geometry), out_shape=(HEIGHT, WIDTH),
                               transform=TRANSFORM, fill=0, dtype="uint8")
    expected = _direct(scene["mask"], truth, np.zeros_like(truth, bool))
    assert expected["tp"] > 100 and expected["fn"] > 100 and expected["fp"] > 100  # a test that can fail
    scores, counts = pixel_scores(scene["mask_path"], scene["vector"], chunk=chunk, progress=False)
    assert counts == expected
    assert scores == scores_from_counts(expected["tp"], expected["fp"], expected["fn"], expected["tn"])


@pytest.mark.parametrize("chunk", [37, 4096])
def test_pixel_scores_raster_reference_excludes_its_nodata(scene: dict, tmp_path: Path, chunk: int) -> None:
    reference = scene["rng"].integers(0, 3, (HEIGHT, WIDTH)).astype(np.uint8)  # 2 is "anything else": not landslide
    reference[40:90, 100:180] = 9
    path = write_raster(tmp_path / "reference.tif", reference, crs=UTM, transform=TRANSFORM, nodata=9)
    expected = _direct(scene["mask"], reference, reference == 9)
    assert expected["nodata_reference"] == 50 * 80
    scores, counts = pixel_scores(scene["mask_path"], path, chunk=chunk, progress=False)
    assert counts == expected
    assert scores.iou == pytest.approx(expected["tp"] / (expected["tp"] + expected["fp"] + expected["fn"]))


def test_float_reference_with_nan_nodata(scene: dict, tmp_path: Path) -> None:
    reference = (scene["rng"].random((HEIGHT, WIDTH)) < 0.2).astype(np.float32)
    reference[:30] = np.nan
    path = write_raster(tmp_path / "reference-float.tif", reference, crs=UTM, transform=TRANSFORM, nodata=np.nan)
    _, counts = pixel_scores(scene["mask_path"], path, chunk=100, progress=False)
    assert counts == _direct(scene["mask"], np.nan_to_num(reference), np.isnan(reference))
    assert counts["nodata_reference"] > 0


def test_reference_in_another_crs_is_reprojected(scene: dict, tmp_path: Path) -> None:
    geographic = tmp_path / "inventory-4326.geojson"
    scene["inventory"].to_crs("EPSG:4326").to_file(geographic)
    _, utm = pixel_scores(scene["mask_path"], scene["vector"], chunk=64, progress=False)
    _, wgs84 = pixel_scores(scene["mask_path"], geographic, chunk=64, progress=False)
    assert wgs84 == utm


def test_raster_reference_on_another_grid_is_refused(scene: dict, tmp_path: Path) -> None:
    shifted = write_raster(tmp_path / "shifted.tif", scene["mask"], crs=UTM,
                           transform=from_origin(X0 + 2.0, Y0, 2.0, 2.0))
    with pytest.raises(PredictionError, match="shifted.tif.*another grid.*gdalwarp .*-tr 2.0 2.0"):
        pixel_scores(scene["mask_path"], shifted, progress=False)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_vector_without_crs_on_a_georeferenced_mask_is_refused(scene: dict, tmp_path: Path) -> None:
    bare = tmp_path / "bare.gpkg"  # not GeoJSON: its readers take WGS84 when no CRS is written
    scene["inventory"].set_crs(None, allow_override=True).to_file(bare)
    with pytest.raises(PredictionError, match="bare.gpkg: has no CRS"):
        pixel_scores(scene["mask_path"], bare, progress=False)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_mask_without_crs_takes_polygons_in_pixels(tmp_path: Path) -> None:
    mask = np.zeros((60, 80), np.uint8)
    mask[10:30, 10:40] = 1
    mask[:, 70:] = MASK_NODATA
    path = write_raster(tmp_path / "plain.mask.tif", mask, nodata=MASK_NODATA)
    polygons = tmp_path / "pixels.gpkg"
    gpd.GeoDataFrame(geometry=[box(20, 10, 75, 30)]).to_file(polygons)  # x = column, y = row
    _, counts = pixel_scores(path, polygons, chunk=16, progress=False)
    assert (counts["tp"], counts["fp"], counts["fn"]) == (20 * 20, 20 * 10, 20 * 30)
    assert counts["nodata_mask"] == 60 * 10
    with reference_mask_reader(polygons, path) as read:
        assert read(Window(20, 10, 4, 3)).tolist() == [[1] * 4] * 3


def test_bad_inputs_are_named(scene: dict, tmp_path: Path) -> None:
    with pytest.raises(PredictionError, match="missing.gpkg: does not exist"):
        pixel_scores(scene["mask_path"], tmp_path / "missing.gpkg", progress=False)
    probability = write_raster(tmp_path / "scene.probability.tif", np.full((HEIGHT, WIDTH), 42, np.uint8),
                               crs=UTM, transform=TRANSFORM)
    with pytest.raises(PredictionError, match="probability.tif: holds values other than 0, 1 and 255"):
        pixel_scores(probability, scene["vector"], progress=False)
    scene["inventory"].to_file(scene["vector"], layer="other")
    with pytest.raises(PredictionError, match=r"holds 2 layers \(slides, other\)"):
        pixel_scores(scene["mask_path"], scene["vector"], progress=False)
    with pytest.raises(PredictionError, match="has no layer 'nope'"):
        read_polygons(scene["vector"], "nope")
    _, counts = pixel_scores(scene["mask_path"], scene["vector"], layer="slides", progress=False)
    assert counts["tp"] > 0
    points = tmp_path / "points.gpkg"
    gpd.GeoDataFrame(geometry=[Point(X0 + 10, Y0 - 10)], crs=UTM).to_file(points)
    with pytest.raises(PredictionError, match="Point geometries"):
        pixel_scores(scene["mask_path"], points, progress=False)
    with pytest.raises(ConfigError, match="chunk"):
        pixel_scores(scene["mask_path"], scene["vector"], chunk=0, progress=False)


# --- object level -----------------------------------------------------------------------------------------------

def _at(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


@pytest.fixture
def maps() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    reference = gpd.GeoDataFrame(geometry=[
        _at(0, 0, 100, 100),        # R0: matched exactly by P0
        _at(200, 0, 300, 100),      # R1: P1 overlaps 60 % of it, IoU 1/3
        _at(500, 0, 600, 100),      # R2: nothing near
        _at(20, 320, 120, 420),     # R3: under blob P3, IoU 1/8
        _at(200, 320, 260, 380),    # R4: under blob P3, smaller
        _at(600, 300, 760, 500),    # R5: most of blob P4, IoU 0.8
        _at(770, 310, 790, 330),    # R6: a speck under blob P4
    ], index=[f"R{i}" for i in range(7)], crs=UTM)
    predicted = gpd.GeoDataFrame(geometry=[
        _at(0, 0, 100, 100), _at(240, 0, 380, 100), _at(700, 0, 800, 100), _at(0, 300, 400, 500),
        _at(600, 300, 800, 500),
    ], index=[f"P{i}" for i in range(5)], crs=UTM)
    return predicted, reference


def test_iou_rule_counts(maps: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    result = object_scores(*maps, rule="iou", iou_threshold=0.5)
    assert (result.detected, result.missed, result.false) == (2, 5, 3)
    assert (result.precision, result.recall, result.f1) == pytest.approx((2 / 5, 2 / 7, 1 / 3))
    assert sorted(zip(result.matches["predicted"], result.matches["reference"], strict=True)) == [
        ("P0", "R0"), ("P4", "R5")]
    assert sorted(result.matches["iou"]) == pytest.approx([0.8, 1.0])
    lenient = object_scores(*maps, rule="iou", iou_threshold=0.3)  # the partial overlap (IoU 1/3) now counts
    assert (lenient.detected, lenient.missed, lenient.false) == (3, 4, 2)


def test_centroid_rule_counts(maps: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    result = object_scores(*maps, rule="centroid")
    assert (result.detected, result.missed, result.false) == (4, 3, 1)
    assert (result.precision, result.recall, result.f1) == pytest.approx((4 / 5, 4 / 7, 2 / 3))
    pairs = dict(zip(result.matches["reference"], result.matches["predicted"], strict=True))
    assert pairs == {"R0": "P0", "R1": "P1", "R3": "P3", "R5": "P4"}  # each blob detects its largest landslide
    assert "the others are missed" in result.description


def test_matching_is_one_to_one() -> None:
    reference = gpd.GeoDataFrame(geometry=[_at(0, 0, 100, 100)], crs=UTM)
    predicted = gpd.GeoDataFrame(geometry=[_at(0, 0, 100, 80), _at(0, 0, 100, 90)], crs=UTM)
    for rule in ("iou", "centroid"):
        result = object_scores(predicted, reference, rule=rule)
        assert (result.detected, result.missed, result.false) == (1, 0, 1)
        assert result.matches["predicted"].tolist() == [1]  # the better of the two


def test_empty_frames() -> None:
    some = gpd.GeoDataFrame(geometry=[_at(0, 0, 10, 10), _at(50, 0, 60, 10)], crs=UTM)
    none = gpd.GeoDataFrame(geometry=[], crs=UTM)
    for rule in ("iou", "centroid"):
        both = object_scores(none, none, rule=rule)
        assert (both.detected, both.missed, both.false, both.precision, both.recall, both.f1) == (0, 0, 0, 1, 1, 1)
        nothing_found = object_scores(none, some, rule=rule)
        assert (nothing_found.missed, nothing_found.false, nothing_found.precision, nothing_found.recall) == (
            2, 0, 0.0, 0.0)
        nothing_there = object_scores(some, none, rule=rule)
        assert (nothing_there.missed, nothing_there.false, nothing_there.precision, nothing_there.f1) == (
            0, 2, 0.0, 0.0)
        assert nothing_there.matches.empty


def test_reference_in_4326_gives_the_same_counts(maps: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    predicted, reference = maps
    for rule in ("iou", "centroid"):
        utm = object_scores(predicted, reference, rule=rule)
        wgs84 = object_scores(predicted, reference.to_crs("EPSG:4326"), rule=rule)
        assert (wgs84.detected, wgs84.missed, wgs84.false) == (utm.detected, utm.missed, utm.false)
        wgs84_matches, utm_matches = (m.sort_values("reference") for m in (wgs84.matches, utm.matches))
        assert wgs84_matches["predicted"].tolist() == utm_matches["predicted"].tolist()
        assert wgs84_matches["iou"].to_numpy() == pytest.approx(utm_matches["iou"].to_numpy(), rel=1e-6)


def test_files_and_crs_rules(maps: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame], tmp_path: Path) -> None:
    predicted, reference = maps
    predicted.to_file(tmp_path / "scene.landslides.gpkg", layer=POLYGON_LAYER)
    reference.to_crs("EPSG:4326").to_file(tmp_path / "inventory.shp")
    result = object_scores(tmp_path / "scene.landslides.gpkg", tmp_path / "inventory.shp")
    assert (result.detected, result.missed, result.false) == (2, 5, 3)
    with pytest.raises(PredictionError, match="gone.gpkg: does not exist"):
        object_scores(tmp_path / "gone.gpkg", reference)
    with pytest.raises(PredictionError, match="has no CRS"):
        object_scores(predicted, reference.set_crs(None, allow_override=True))
    with pytest.raises(PredictionError, match="has none"):
        object_scores(predicted.set_crs(None, allow_override=True), reference)
    lines = gpd.GeoDataFrame(geometry=[reference.geometry.iloc[0].boundary], crs=UTM)
    with pytest.raises(PredictionError, match="LineString geometries"):
        object_scores(predicted, lines)


def test_invalid_polygons_are_repaired() -> None:
    bow_tie = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    assert not bow_tie.is_valid
    reference = gpd.GeoDataFrame(geometry=[bow_tie], crs=UTM)
    predicted = gpd.GeoDataFrame(geometry=[_at(0, 0, 100, 100)], crs=UTM)
    result = object_scores(predicted, reference, rule="iou", iou_threshold=0.4)
    assert result.detected == 1
    assert result.matches["iou"].iloc[0] == pytest.approx(0.5)


def test_rules_and_table(maps: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    assert "at least 0.5" in describe("iou") and "at least 0.3" in describe("iou", 0.3)
    with pytest.raises(ConfigError, match="unknown object-matching rule 'area'"):
        object_scores(*maps, rule="area")
    with pytest.raises(ConfigError, match="iou_threshold"):
        object_scores(*maps, iou_threshold=0)
    table = object_table([object_scores(*maps, rule=rule) for rule in ("iou", "centroid")])
    assert list(table.columns) == list(OBJECT_COLUMNS)
    assert table[["rule", "detected", "missed", "false"]].values.tolist() == [["iou", 2, 5, 3],
                                                                             ["centroid", 4, 3, 1]]
    assert table["description"].tolist() == [describe("iou"), describe("centroid")]
    assert len(object_table(object_scores(*maps))) == 1
