"""Vectorizing masks chunk by chunk: the same polygons as the whole mask at once, joined across seams."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from rasterio import features
from rasterio.transform import from_origin
from rasterio.windows import Window
from scipy import ndimage
from shapely.geometry import shape

from landslide_core.errors import ConfigError, PredictionError
from landslide_core.io.raster import write_raster
from landslide_core.predict.formats import MASK_NODATA, POLYGON_LAYER
from landslide_core.predict.polygons import area_columns, vectorize, write_landslides, write_polygons
from landslide_core.runtime.memory import PeakMemory

UTM = "EPSG:32654"
TWO_METRES = from_origin(500_000, 4_730_000, 2, 2)
ONE_METRE = from_origin(500_000, 4_730_000, 1, 1)


def blobs(shape_: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A mask of random blobs (with holes, nodata specks and a nodata band) and a probability raster in percent."""
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.random(shape_), 4)
    mask = (noise > np.quantile(noise, 0.6)).astype(np.uint8)
    mask[rng.random(shape_) < 0.02] = MASK_NODATA
    mask[:, 200:203] = MASK_NODATA
    probability = rng.integers(0, 101, shape_).astype(np.uint8)
    probability[mask == MASK_NODATA] = 255
    return mask, probability


def whole(mask: np.ndarray, transform: Affine) -> dict[int, shapely.Geometry]:
    """Reference: the whole mask at once, each polygon keyed by its scipy label (row-major first pixel order)."""
    labels, _ = ndimage.label(mask == 1)
    return {int(v): shape(g) for g, v in features.shapes(labels, mask=labels > 0, transform=transform)}


def write_mask(path: Path, mask: np.ndarray, transform: Affine = ONE_METRE, crs: str | None = UTM) -> Path:
    profile = {"transform": transform, "crs": crs} if crs else {}
    return write_raster(path, mask, nodata=MASK_NODATA, **profile)


@pytest.fixture
def blob_files(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    mask, probability = blobs((300, 500), seed=3)
    m = write_mask(tmp_path / "scene.mask.tif", mask, TWO_METRES)
    p = write_raster(tmp_path / "scene.probability.tif", probability, crs=UTM, transform=TWO_METRES, nodata=255)
    return m, p, mask, probability


@pytest.mark.parametrize("chunk", [64, 100, 1000])
def test_chunks_give_the_whole_mask_polygons(blob_files, chunk):
    mask_path, probability_path, mask, _ = blob_files
    reference = whole(mask, TWO_METRES)
    one_chunk = vectorize(mask_path, probability_path, chunk=1000, progress=False)
    frame = vectorize(mask_path, probability_path, chunk=chunk, progress=False)
    assert len(reference) > 50
    assert len(frame) == len(one_chunk) == len(reference)
    assert frame.crs == UTM
    assert frame["landslide_id"].tolist() == list(range(1, len(reference) + 1))
    for row in frame.itertuples():
        assert row.geometry.geom_type == "Polygon"
        assert row.geometry.symmetric_difference(reference[row.landslide_id]).area == 0
        assert row.geometry.equals(reference[row.landslide_id])
        assert row.geometry.equals(one_chunk.geometry.iloc[row.landslide_id - 1])
        assert row.perimeter_m == pytest.approx(reference[row.landslide_id].length)
    assert any(len(g.interiors) for g in frame.geometry)  # holes survive the seams too
    burnt = features.rasterize(((g, 1) for g in frame.geometry), out_shape=mask.shape, transform=TWO_METRES)
    np.testing.assert_array_equal(burnt, mask == 1)  # nodata (255) never becomes landslide


def test_probability_and_area_per_component(blob_files):
    mask_path, probability_path, mask, probability = blob_files
    frame = vectorize(mask_path, probability_path, chunk=64, progress=False)
    labels, n = ndimage.label(mask == 1)
    ids = np.arange(1, n + 1)
    expected = ndimage.mean(probability.astype(float), labels, ids) / 100
    np.testing.assert_allclose(frame["mean_probability"], expected, rtol=1e-12)
    np.testing.assert_array_equal(frame["pixels"], np.bincount(labels.ravel())[1:])
    np.testing.assert_allclose(frame["area_m2"], frame["pixels"] * 4.0)
    assert frame["mean_probability"].between(0, 1).all()
    assert "mean_probability" not in vectorize(mask_path, chunk=64, progress=False).columns


def seam_mask() -> np.ndarray:
    """30×30, chunk 10: diagonal touches across each seam and a corner, a U, a ring around a chunk corner."""
    mask = np.zeros((30, 30), np.uint8)
    mask[9, 9] = mask[10, 10] = 1  # diagonal across the corner of four chunks
    mask[4, 9] = mask[5, 10] = 1  # diagonal across the vertical seam
    mask[9, 2] = mask[10, 3] = 1  # diagonal across the horizontal seam
    mask[3:13, 22] = mask[3:13, 26] = 1  # U: its arms leave chunk (0, 2) and meet again below, in chunk (1, 2)
    mask[12, 22:27] = 1
    mask[15:26, 15] = mask[15:26, 25] = 1  # ring around the corner (20, 20) of four chunks: its hole crosses seams
    mask[15, 15:26] = mask[25, 15:26] = 1
    return mask


def test_diagonal_touches_stay_apart_and_a_u_is_one(tmp_path):
    mask = seam_mask()
    path = write_mask(tmp_path / "seams.mask.tif", mask)
    reference = whole(mask, ONE_METRE)
    frame = vectorize(path, chunk=10, progress=False)
    assert len(frame) == len(reference) == 8  # six single pixels, the U, the ring
    for row in frame.itertuples():
        assert row.geometry.equals(reference[row.landslide_id])
    by_size = frame.sort_values("pixels")
    assert by_size["pixels"].tolist() == [1] * 6 + [23, 40]
    u, ring = by_size.geometry.iloc[-2], by_size.geometry.iloc[-1]
    assert u.geom_type == "Polygon" and not u.interiors
    assert ring.geom_type == "Polygon" and len(ring.interiors) == 1
    # what joining by geometry alone would risk: a union of the diagonal pair is two parts sharing a point
    corner = frame.geometry[frame.geometry.intersects(shapely.Point(500_010, 4_729_990))]
    assert len(corner) == 2 and shapely.unary_union(corner.to_list()).geom_type == "MultiPolygon"


def test_min_area_drops_small_ones_after_joining(tmp_path):
    mask = seam_mask()
    path = write_mask(tmp_path / "seams.mask.tif", mask)
    frame = vectorize(path, chunk=10, min_area=20, progress=False)
    # every piece of the U (7, 7 and 9 pixels) is below 20 m², the U (23 m²) is not
    assert frame["pixels"].tolist() == [23, 40]
    assert frame["landslide_id"].tolist() == [1, 2]
    kept = vectorize(path, chunk=10, min_area=23, progress=False)
    assert sorted(kept["area_m2"]) == [23, 40]
    assert len(vectorize(path, chunk=10, min_area=41, progress=False)) == 0


def test_nodata_only_mask_gives_an_empty_frame(tmp_path):
    mask = np.full((40, 40), MASK_NODATA, np.uint8)
    mask[10:20, 10:20] = 0
    frame = vectorize(write_mask(tmp_path / "empty.mask.tif", mask), chunk=16, progress=False)
    assert len(frame) == 0
    assert frame.columns.tolist() == ["landslide_id", "pixels", "area_m2", "perimeter_m", "geometry"]
    assert frame.crs == UTM


def test_no_crs_gives_pixels_and_a_warning(tmp_path):
    mask = seam_mask()
    path = write_mask(tmp_path / "plain.mask.tif", mask, crs=None)
    with pytest.warns(UserWarning, match="in pixels"):
        frame = vectorize(path, chunk=10, progress=False)
    assert area_columns(None) == ("area_px", "perimeter_px")
    assert {"area_px", "perimeter_px"} <= set(frame.columns) and "area_m2" not in frame.columns
    np.testing.assert_array_equal(frame["area_px"], frame["pixels"])
    assert frame.crs is None
    reference = whole(mask, Affine.identity())
    assert all(g.equals(reference[i]) for i, g in zip(frame["landslide_id"], frame.geometry, strict=True))


def test_geographic_crs_measures_in_metres(tmp_path):
    mask, _ = blobs((300, 500), seed=5)
    lat = 42.7
    degrees = from_origin(141.9, lat, 2 / (111_320 * np.cos(np.radians(lat))), 2 / 111_140)
    geographic = vectorize(write_mask(tmp_path / "deg.mask.tif", mask, degrees, "EPSG:4326"), chunk=128,
                           progress=False)
    projected = vectorize(write_mask(tmp_path / "utm.mask.tif", mask, TWO_METRES), chunk=128, progress=False)
    assert area_columns(rasterio.crs.CRS.from_epsg(4326)) == ("area_m2", "perimeter_m")
    assert geographic.crs == "EPSG:4326" and geographic.total_bounds[0] == pytest.approx(141.9, abs=0.01)
    np.testing.assert_allclose(geographic["area_m2"], projected["area_m2"], rtol=0.01)
    np.testing.assert_allclose(geographic["perimeter_m"], projected["perimeter_m"], rtol=0.01)


def test_feet_are_converted_to_metres(tmp_path):
    mask = seam_mask()
    feet = vectorize(write_mask(tmp_path / "ft.mask.tif", mask, from_origin(2_000_000, 500_000, 1, 1),
                                "EPSG:2272"), chunk=10, progress=False)  # US survey feet
    foot = 1200 / 3937
    np.testing.assert_allclose(feet["area_m2"], feet["pixels"] * foot**2)


def test_written_layer_reads_back(tmp_path, blob_files):
    mask_path, probability_path, _, _ = blob_files
    frame = vectorize(mask_path, probability_path, chunk=100, progress=False)
    out = tmp_path / "out" / "scene.landslides.gpkg"
    assert write_polygons(frame, out) == out
    back = gpd.read_file(out, layer=POLYGON_LAYER)
    assert back.columns.tolist() == frame.columns.tolist() and back.crs == UTM
    assert back["landslide_id"].tolist() == frame["landslide_id"].tolist()
    assert all(a.equals(b) for a, b in zip(back.geometry, frame.geometry, strict=True))
    write_polygons(frame.iloc[:0], out)  # replaces the earlier file: still a valid layer, with columns and CRS
    empty = gpd.read_file(out, layer=POLYGON_LAYER)
    assert len(empty) == 0 and empty.columns.tolist() == frame.columns.tolist() and empty.crs == UTM
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temporary file left behind


def test_bad_inputs_name_the_file(tmp_path, blob_files):
    mask_path, probability_path, mask, probability = blob_files
    with pytest.raises(PredictionError, match="does not exist"):
        vectorize(tmp_path / "missing.mask.tif", progress=False)
    with pytest.raises(PredictionError, match="does not exist"):
        vectorize(mask_path, tmp_path / "missing.probability.tif", progress=False)
    garbage = tmp_path / "garbage.mask.tif"
    garbage.write_bytes(b"not a tiff at all" * 10)
    with pytest.raises(PredictionError, match="garbage.mask.tif"):
        vectorize(garbage, progress=False)
    three = write_raster(tmp_path / "rgb.mask.tif", np.zeros((3, 8, 8), np.uint8), crs=UTM, transform=ONE_METRE)
    with pytest.raises(PredictionError, match="3 band.*not one band of uint8"):
        vectorize(three, progress=False)
    floats = write_raster(tmp_path / "f.mask.tif", np.zeros((8, 8), np.float32), crs=UTM, transform=ONE_METRE)
    with pytest.raises(PredictionError, match="float32"):
        vectorize(floats, progress=False)
    small = write_raster(tmp_path / "small.probability.tif", probability[:100], crs=UTM, transform=TWO_METRES)
    with pytest.raises(PredictionError, match="not on the grid"):
        vectorize(mask_path, small, progress=False)
    shifted = write_raster(tmp_path / "shifted.probability.tif", probability, crs=UTM,
                           transform=TWO_METRES @ Affine.translation(1, 0))
    with pytest.raises(PredictionError, match="not on the grid"):
        vectorize(mask_path, shifted, progress=False)
    over = np.where(mask == 1, 255, 0).astype(np.uint8)
    loud = write_raster(tmp_path / "over.probability.tif", over, crs=UTM, transform=TWO_METRES)
    with pytest.raises(PredictionError, match="above 100"):
        vectorize(mask_path, loud, progress=False)
    with pytest.raises(ConfigError, match="chunk 0"):
        vectorize(mask_path, chunk=0, progress=False)


def test_memory_is_bounded_by_the_chunk(tmp_path):
    size, chunk, radius = 6000, 1024, 30
    path = tmp_path / "big.mask.tif"
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    disc = (xx**2 + yy**2 <= radius**2).astype(np.uint8)
    centres = [(r, c) for r in range(chunk, size, chunk) for c in range(chunk, size, chunk)]  # on chunk corners
    centres += [(500, 500), (3000, 4100), (5900, 5900)]
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="uint8", crs=UTM,
                       transform=ONE_METRE, nodata=MASK_NODATA, tiled=True, blockxsize=512, blockysize=512,
                       compress="deflate") as dst:
        for row in range(0, size, 500):  # written band by band: the whole mask is never in memory
            band = np.zeros((500, size), np.uint8)
            for r, c in centres:
                top, bottom = max(r - radius, row), min(r + radius + 1, row + 500)
                if top < bottom:
                    band[top - row:bottom - row, c - radius:c + radius + 1] |= disc[top - r + radius:
                                                                                    bottom - r + radius]
            dst.write(band, 1, window=Window(0, row, size, 500))
    tracemalloc.start()
    try:
        frame = vectorize(path, chunk=chunk, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"tracemalloc peak vectorizing {size}×{size} with chunk {chunk}: {peak / 1e6:.1f} MB")
    assert len(frame) == len(centres)  # discs on chunk corners (cut in four pieces) come out whole
    assert (frame["pixels"] == disc.sum()).all()
    assert peak < size * size / 2


@pytest.mark.parametrize("chunk", [64, 1000])
def test_streamed_polygons_are_the_vectorized_ones(blob_files, tmp_path, chunk):
    mask_path, probability_path, _, _ = blob_files
    expected = vectorize(mask_path, probability_path, min_area=40, chunk=1000, progress=False)
    count = write_landslides(mask_path, tmp_path / "out.gpkg", probability_path, min_area=40, chunk=chunk,
                             progress=False)
    streamed = gpd.read_file(tmp_path / "out.gpkg", layer=POLYGON_LAYER)
    assert count == len(streamed) == len(expected) > 10
    assert streamed["landslide_id"].tolist() == list(range(1, count + 1))
    assert list(streamed.columns) == list(expected.columns) and streamed.crs == expected.crs
    twins = set()
    for row in streamed.itertuples():
        same = np.flatnonzero(expected.geometry.geom_equals(row.geometry))
        assert len(same) == 1, f"landslide {row.landslide_id} has no twin among the vectorized ones"
        twin = expected.iloc[same[0]]
        assert (twin.pixels, twin.mean_probability) == pytest.approx((row.pixels, row.mean_probability))
        twins.add(int(same[0]))
    assert len(twins) == count


def test_an_empty_mask_streams_to_an_empty_layer(tmp_path):
    mask_path = write_mask(tmp_path / "none.mask.tif", np.zeros((50, 60), np.uint8))
    assert write_landslides(mask_path, tmp_path / "none.gpkg", chunk=16, progress=False) == 0
    back = gpd.read_file(tmp_path / "none.gpkg", layer=POLYGON_LAYER)
    assert len(back) == 0 and back.crs == UTM and "area_m2" in back.columns


def squares_mask(path: Path, side: int) -> Path:
    """Landslides of 4×4 px every 16 px (side²/256 of them), written in bands, never held whole."""
    with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=1, dtype="uint8", crs=UTM,
                       transform=ONE_METRE, nodata=MASK_NODATA, tiled=True, blockxsize=256, blockysize=256) as dst:
        band = np.zeros((512, side), np.uint8)
        band[(np.arange(512) % 16) < 4] = 1
        band[:, (np.arange(side) % 16) >= 4] = 0
        for top in range(0, side, 512):
            dst.write(band[:min(512, side - top)], 1, window=Window(0, top, side, min(512, side - top)))
    return path


@pytest.mark.slow
def test_streaming_memory_does_not_grow_with_the_number_of_landslides(tmp_path):
    """9,216 and then 147,456 landslides: memory held while writing them stays about the same."""
    added = {}
    for side in (1536, 6144):
        mask_path = squares_mask(tmp_path / f"squares{side}.mask.tif", side)
        with PeakMemory() as memory:
            count = write_landslides(mask_path, tmp_path / f"squares{side}.gpkg", chunk=512, progress=False)
        assert count == (side // 16) ** 2
        added[side] = memory.added_mib
    assert added[6144] < added[1536] + 40, added
