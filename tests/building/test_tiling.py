"""Scene tiling: window geometry, georeferencing, labels, resume, the tile index, the CLI and bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio import features
from rasterio.transform import from_origin
from rasterio.windows import Window
from shapely.geometry import Point, box

from landslide_core.building import tiling
from landslide_core.building.qc import score_tile
from landslide_core.building.tiling import INDEX_COLUMNS, TilingOptions, tile_scene, tile_windows
from landslide_core.cli import main
from landslide_core.errors import ConfigError, SceneError
from landslide_core.io.raster import read_raster, write_raster

from ..conftest import HOKKAIDO, ORIGINALS, requires_originals

CRS = "EPSG:32650"
TRANSFORM = from_origin(500_000, 3_000_000, 2.0, 2.0)


def write_scene(path: Path, width: int = 1100, height: int = 1000, *, seed: int = 0, bands: int = 3,
                dtype: str = "uint8", crs: str | None = CRS, nodata: int | None = None) -> np.ndarray:
    """A random scene (EPSG:32650, 2 m pixels) and its pixels."""
    pixels = np.random.default_rng(seed).integers(1, 255, (bands, height, width)).astype(dtype)
    profile = {"transform": TRANSFORM} if crs else {}
    write_raster(path, pixels, crs=crs, nodata=nodata, **profile)
    return pixels


def write_polygons(path: Path, n: int = 40, *, seed: int = 1, crs: str = "EPSG:4326",
                   width: int = 1100, height: int = 1000) -> gpd.GeoDataFrame:
    """Seeded landslide-sized discs over (and a little past) a scene, saved in ``crs``; returned in the scene's."""
    rng = np.random.default_rng(seed)
    discs = [Point(500_000 + rng.uniform(-40, 2 * width + 40), 3_000_000 - rng.uniform(-40, 2 * height + 40))
             .buffer(rng.uniform(15, 90)) for _ in range(n)]
    frame = gpd.GeoDataFrame({"id": range(n)}, geometry=discs, crs=CRS)
    frame.to_crs(crs).to_file(path)
    return frame


def whole_scene_mask(polygons: gpd.GeoSeries, width: int = 1100, height: int = 1000) -> np.ndarray:
    return features.rasterize(((g, 1) for g in polygons), out_shape=(height, width), transform=TRANSFORM,
                              fill=0, dtype="uint8")


# --------------------------------------------------------------------------- window geometry


def origins(windows: list[tuple[int, int, Window]]) -> tuple[list[int], list[int]]:
    rows = sorted({int(w.row_off) for _, _, w in windows})
    cols = sorted({int(w.col_off) for _, _, w in windows})
    return rows, cols


def test_shift_puts_the_last_row_and_column_flush_with_the_edge():
    windows = tile_windows(1000, 1300, TilingOptions())
    rows, cols = origins(windows)
    assert cols == [0, 256, 488]
    assert rows == [0, 256, 512, 768, 788]
    assert [(r, c) for r, c, _ in windows] == [(r, c) for r in range(5) for c in range(3)]  # row-major
    assert all((w.width, w.height) == (512, 512) for _, _, w in windows)
    assert windows[4][2] == Window(256, 256, 512, 512)


def test_pad_keeps_the_stride_and_stops_at_the_first_tile_reaching_the_edge():
    assert origins(tile_windows(1000, 1000, TilingOptions(edge="pad")))[1] == [0, 256, 512]
    assert origins(tile_windows(300, 200, TilingOptions(edge="pad"))) == ([0], [0])
    assert origins(tile_windows(769, 512, TilingOptions(edge="pad")))[1] == [0, 256, 512]


@pytest.mark.parametrize("edge", ["shift", "pad"])
def test_a_multiple_of_the_stride_gives_the_same_tiles_in_both_modes(edge):
    rows, cols = origins(tile_windows(1024, 768, TilingOptions(edge=edge)))
    assert cols == [0, 256, 512]
    assert rows == [0, 256]


@pytest.mark.parametrize("edge", ["shift", "pad"])
@pytest.mark.parametrize(("size", "stride"), [(8, 3), (8, 4), (8, 8), (5, 1)])
def test_every_pixel_lands_in_a_tile_and_no_tile_is_all_padding(edge, size, stride):
    options = TilingOptions(size=size, stride=stride, edge=edge)
    for length in range(size if edge == "shift" else 1, 41):
        starts = origins(tile_windows(length, size, options))[1]
        covered = np.zeros(length, bool)
        for x in starts:
            covered[x:x + size] = True
            assert x < length  # at least one scene pixel
            if edge == "shift":
                assert x + size <= length  # never past the edge
        assert covered.all(), (length, starts)
        assert starts == sorted(set(starts))


def test_shift_refuses_a_side_smaller_than_a_tile_and_options_are_checked():
    with pytest.raises(ConfigError, match="edge 'pad'"):
        tile_windows(500, 600, TilingOptions())
    with pytest.raises(ConfigError, match="stride 600 is larger"):
        TilingOptions(stride=600)
    with pytest.raises(ConfigError, match="unknown edge mode 'wrap'"):
        TilingOptions(edge="wrap")
    with pytest.raises(ConfigError, match="uint8"):
        TilingOptions(fill=300)
    with pytest.raises(ConfigError, match="at least 1"):
        TilingOptions(size=0)


# --------------------------------------------------------------------------- georeferencing and pixels


def test_tiles_keep_crs_transform_nodata_and_the_scene_pixels(tmp_path):
    pixels = write_scene(tmp_path / "scene.tif", nodata=0)
    result = tile_scene(tmp_path / "scene.tif", tmp_path / "out", progress=False)
    index = gpd.read_file(result.index)
    assert result.folder == tmp_path / "out" / "scene"
    assert result.tiles == result.written == len(index) == 12  # origins 0, 256, 488 × 0, 256, 512, 588
    assert list(index["name"]) == [f"scene{i:04d}" for i in range(1, 13)]
    assert not (result.folder / "mask").exists() and not index["has_mask"].any()
    for tile in index.itertuples():
        with rasterio.open(result.folder / "img" / f"{tile.name}.tif") as src:
            assert src.crs == rasterio.crs.CRS.from_string(CRS)
            assert src.nodata == 0
            assert src.transform @ (0, 0) == TRANSFORM @ (tile.x_off, tile.y_off)
            assert src.transform.a == TRANSFORM.a and src.transform.e == TRANSFORM.e
            assert np.array_equal(src.read(), pixels[:, tile.y_off:tile.y_off + 512, tile.x_off:tile.x_off + 512])


def test_pad_fills_past_the_edge_and_marks_it_invalid(tmp_path):
    pixels = write_scene(tmp_path / "scene.tif", 600, 520, nodata=7)
    pixels[:, :10, :10] = 7  # nodata in every band: invalid for the scorer too
    write_raster(tmp_path / "scene.tif", pixels, crs=CRS, transform=TRANSFORM, nodata=7)
    seen = []

    def scorer(image, mask, valid):
        seen.append(valid)
        return {"valid_pixels": valid.sum()}

    result = tile_scene(tmp_path / "scene.tif", tmp_path / "out", options=TilingOptions(edge="pad"), scorer=scorer,
                        progress=False)
    index = gpd.read_file(result.index)
    assert list(zip(index["x_off"], index["y_off"], strict=True)) == [(0, 0), (256, 0), (0, 256), (256, 256)]
    assert list(index["padded"]) == [False, True, True, True]
    last = read_raster(result.folder / "img" / "scene0004.tif")
    assert np.array_equal(last[:, :264, :344], pixels[:, 256:, 256:])
    assert (last[:, 264:, :] == 7).all() and (last[:, :, 344:] == 7).all()  # fill: the scene's nodata
    assert seen[3][:264, :344].all() and not seen[3][264:].any() and not seen[3][:, 344:].any()
    assert not seen[0][:10, :10].any() and seen[0].sum() == 512 * 512 - 100
    assert index["valid_fraction"].tolist() == pytest.approx([v.mean() for v in seen])
    assert index["valid_pixels"].tolist() == [v.sum() for v in seen]


def test_pad_with_an_explicit_fill_and_a_scene_smaller_than_a_tile(tmp_path):
    pixels = write_scene(tmp_path / "small.tif", 300, 200)
    result = tile_scene(tmp_path / "small.tif", tmp_path / "out", options=TilingOptions(edge="pad", fill=9),
                        progress=False)
    assert result.tiles == 1
    tile = read_raster(result.folder / "img" / "small0001.tif")
    assert np.array_equal(tile[:, :200, :300], pixels) and (tile[:, 200:] == 9).all()
    with pytest.raises(SceneError, match="small.tif.*300×200 px, smaller than one 512-px tile.*--edge pad"):
        tile_scene(tmp_path / "small.tif", tmp_path / "out2", progress=False)


# --------------------------------------------------------------------------- labels


def test_vector_labels_in_another_crs_rasterize_as_the_whole_scene_at_once(tmp_path, monkeypatch):
    write_scene(tmp_path / "scene.tif")
    polygons = write_polygons(tmp_path / "inventory.gpkg", crs="EPSG:4326")
    expected = whole_scene_mask(gpd.read_file(tmp_path / "inventory.gpkg").to_crs(CRS).geometry)
    assert 0.02 < expected.mean() < 0.5
    calls = []
    rasterize = features.rasterize

    def recording(shapes, **kwargs):
        shapes = list(shapes)
        calls.append((len(shapes), kwargs["out_shape"]))
        return rasterize(shapes, **kwargs)

    monkeypatch.setattr(tiling.features, "rasterize", recording)
    result = tile_scene(tmp_path / "scene.tif", tmp_path / "out", labels=tmp_path / "inventory.gpkg",
                        progress=False)
    index = gpd.read_file(result.index)
    assert index["has_mask"].all()
    for tile in index.itertuples():
        window = np.s_[tile.y_off:tile.y_off + 512, tile.x_off:tile.x_off + 512]
        mask = read_raster(result.folder / "mask" / f"{tile.name}.tif")[0]
        assert np.array_equal(mask, expected[window])
        label = read_raster(result.folder / "label" / f"{tile.name}.tif")
        assert np.array_equal(label, np.repeat(np.where(mask == 1, 0, 255)[None], 3, 0).astype(np.uint8))
    assert {shape for _, shape in calls} == {(512, 512)}  # per window, never the whole scene
    assert max(n for n, _ in calls) < len(polygons)  # only the polygons near the window
    # the same polygons in the scene's own CRS give the same masks
    polygons.to_file(tmp_path / "same-crs.gpkg")
    again = tile_scene(tmp_path / "scene.tif", tmp_path / "out2", labels=tmp_path / "same-crs.gpkg", progress=False)
    for tile in index.itertuples():
        assert np.array_equal(read_raster(again.folder / "mask" / f"{tile.name}.tif")[0],
                              read_raster(result.folder / "mask" / f"{tile.name}.tif")[0])


def test_vector_labels_past_the_edge_leave_the_padding_background(tmp_path):
    write_scene(tmp_path / "scene.tif", 600, 520)
    edge_disc = gpd.GeoDataFrame(geometry=[Point(500_000 + 2 * 600, 3_000_000 - 2 * 400).buffer(100)], crs=CRS)
    edge_disc.to_file(tmp_path / "edge.gpkg")
    result = tile_scene(tmp_path / "scene.tif", tmp_path / "out", labels=tmp_path / "edge.gpkg",
                        options=TilingOptions(edge="pad"), progress=False)
    mask = read_raster(result.folder / "mask" / "scene0004.tif")[0]  # origin (256, 256); the scene ends at 344
    expected = whole_scene_mask(edge_disc.geometry, 600, 520)[256:, 256:]
    assert expected.any()
    assert np.array_equal(mask[:264, :344], expected) and not mask[:, 344:].any() and not mask[264:].any()


def test_raster_labels_on_the_scene_grid_give_nonzero_as_landslide(tmp_path):
    write_scene(tmp_path / "scene.tif")
    labels = np.zeros((1000, 1100), np.uint8)
    labels[100:300, 200:500] = 3
    labels[900:, 1000:] = 255
    write_raster(tmp_path / "labels.tif", labels, crs=CRS, transform=TRANSFORM)
    result = tile_scene(tmp_path / "scene.tif", tmp_path / "out", labels=tmp_path / "labels.tif", progress=False)
    for tile in gpd.read_file(result.index).itertuples():
        mask = read_raster(result.folder / "mask" / f"{tile.name}.tif")[0]
        assert np.array_equal(mask, labels[tile.y_off:tile.y_off + 512, tile.x_off:tile.x_off + 512] != 0)


def test_raster_labels_off_the_grid_are_refused_with_the_gdalwarp_fix(tmp_path):
    write_scene(tmp_path / "scene.tif")
    write_raster(tmp_path / "shifted.tif", np.zeros((1000, 1100), np.uint8), crs=CRS,
                 transform=from_origin(500_010, 3_000_000, 2.0, 2.0))
    with pytest.raises(SceneError, match=r"shifted\.tif: is not on the grid of scene 'scene\.tif'.*gdalwarp .*-te "
                                         r"500000\.0 2998000\.0 502200\.0 3000000\.0 -tr 2\.0 2\.0"):
        tile_scene(tmp_path / "scene.tif", tmp_path / "out", labels=tmp_path / "shifted.tif", progress=False)
    write_raster(tmp_path / "small.tif", np.zeros((500, 1100), np.uint8), crs=CRS, transform=TRANSFORM)
    with pytest.raises(SceneError, match=r"small\.tif: .*1100×500 vs 1100×1000 px"):
        tile_scene(tmp_path / "scene.tif", tmp_path / "out", labels=tmp_path / "small.tif", progress=False)


def test_unusable_scenes_and_inventories_raise_scene_errors_naming_the_file(tmp_path):
    write_scene(tmp_path / "nocrs.tif", 600, 600, crs=None)
    with pytest.raises(SceneError, match=r"nocrs\.tif: has no CRS.*gdal_edit\.py -a_srs"):
        tile_scene(tmp_path / "nocrs.tif", tmp_path / "out", progress=False)
    write_scene(tmp_path / "gray.tif", 600, 600, bands=1)
    with pytest.raises(SceneError, match=r"gray\.tif: has 1 band\(s\) of type uint8.*gdal_translate"):
        tile_scene(tmp_path / "gray.tif", tmp_path / "out", progress=False)
    write_scene(tmp_path / "deep.tif", 600, 600, dtype="uint16")
    with pytest.raises(SceneError, match=r"deep\.tif: has 3 band\(s\) of type uint16"):
        tile_scene(tmp_path / "deep.tif", tmp_path / "out", progress=False)
    with pytest.raises(SceneError, match=r"missing\.tif: does not exist"):
        tile_scene(tmp_path / "missing.tif", tmp_path / "out", progress=False)
    (tmp_path / "broken.tif").write_bytes(b"II*\x00 not really a tiff")
    with pytest.raises(SceneError, match=r"broken\.tif: GDAL cannot read this raster.*gdalinfo"):
        tile_scene(tmp_path / "broken.tif", tmp_path / "out", progress=False)
    write_scene(tmp_path / "scene.tif", 600, 600)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]).to_file(tmp_path / "nocrs.gpkg")
    with pytest.raises(SceneError, match=r"nocrs\.gpkg: has no CRS.*ogr2ogr -a_srs"):
        tile_scene(tmp_path / "scene.tif", tmp_path / "out", labels=tmp_path / "nocrs.gpkg", progress=False)
    (tmp_path / "notes.txt").write_text("not a vector file")
    with pytest.raises(SceneError, match=r"notes\.txt: cannot be read as a vector inventory"):
        tile_scene(tmp_path / "scene.tif", tmp_path / "out", labels=tmp_path / "notes.txt", progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.real_data
@requires_originals
def test_a_real_cas_tile_has_no_georeferencing_and_is_refused():
    tile = ORIGINALS / "Hokkaido0017.tiff"
    with pytest.raises(SceneError, match=r"Hokkaido0017\.tiff: has no CRS"):
        tile_scene(tile, "/nonexistent/never-written", progress=False)


@pytest.mark.real_data
def test_real_pixels_and_mask_pass_through_unchanged(tmp_path):
    name = sorted((HOKKAIDO / "img").glob("*.tif"))[0].name
    image, mask = read_raster(HOKKAIDO / "img" / name), read_raster(HOKKAIDO / "mask" / name)[0]
    write_raster(tmp_path / "real.tif", image, crs=CRS, transform=TRANSFORM)  # the real pixels, now georeferenced
    write_raster(tmp_path / "real-mask.tif", mask, crs=CRS, transform=TRANSFORM)
    result = tile_scene(tmp_path / "real.tif", tmp_path / "out", labels=tmp_path / "real-mask.tif",
                        options=TilingOptions(size=256, stride=128), progress=False)
    assert result.tiles == 9
    tile = gpd.read_file(result.index).iloc[4]
    window = np.s_[tile.y_off:tile.y_off + 256, tile.x_off:tile.x_off + 256]
    assert np.array_equal(read_raster(result.folder / "img" / f"{tile['name']}.tif"), image[:, *window])
    assert np.array_equal(read_raster(result.folder / "mask" / f"{tile['name']}.tif")[0], mask[window])
    assert mask[window].any()


# --------------------------------------------------------------------------- resume, several scenes, the index


def test_a_rerun_resumes_and_other_options_or_numbering_are_refused(tmp_path):
    write_scene(tmp_path / "scene.tif")
    first = tile_scene(tmp_path / "scene.tif", tmp_path / "out", progress=False)
    img = first.folder / "img" / "scene0005.tif"
    stamp = img.stat().st_mtime_ns
    again = tile_scene(tmp_path / "scene.tif", tmp_path / "out", progress=False)
    assert (again.written, again.tiles) == (0, 12)
    assert img.stat().st_mtime_ns == stamp
    img.unlink()
    assert tile_scene(tmp_path / "scene.tif", tmp_path / "out", progress=False).written == 1
    assert img.is_file()
    with pytest.raises(SceneError, match=r"out/scene: holds tiles cut with size 512, stride 256, edge shift; this run "
                                         r"asks for size 512, stride 128.*another --out, or delete the folder"):
        tile_scene(tmp_path / "scene.tif", tmp_path / "out", options=TilingOptions(stride=128), progress=False)
    with pytest.raises(SceneError, match=r"fill \[0\]; this run asks for fill 5"):
        tile_scene(tmp_path / "scene.tif", tmp_path / "out", options=TilingOptions(fill=5), progress=False)
    with pytest.raises(SceneError, match=r"was cut into this folder before as scene0001 … scene0012.*same --start"):
        tile_scene(tmp_path / "scene.tif", tmp_path / "out", start=3, progress=False)
    # labels added later: the missing mask and label files are written
    write_polygons(tmp_path / "inventory.gpkg")
    with_masks = tile_scene(tmp_path / "scene.tif", tmp_path / "out", labels=tmp_path / "inventory.gpkg",
                            progress=False)
    assert with_masks.written == 12 and gpd.read_file(with_masks.index)["has_mask"].all()


def test_a_second_scene_needs_a_free_start_and_shares_the_index(tmp_path):
    write_scene(tmp_path / "east.tif", seed=1)
    write_scene(tmp_path / "west.tif", seed=2)
    tile_scene(tmp_path / "east.tif", tmp_path / "out", subdataset="Moxi town", progress=False)
    with pytest.raises(SceneError, match=r"tile Moxitown0001 came from another scene, east\.tif.*--start 13"):
        tile_scene(tmp_path / "west.tif", tmp_path / "out", subdataset="Moxi town", progress=False)
    result = tile_scene(tmp_path / "west.tif", tmp_path / "out", subdataset="Moxi town", start=13, progress=False)
    index = gpd.read_file(result.index)
    assert (result.tiles, result.written) == (24, 12)
    assert list(index["name"]) == [f"Moxitown{i:04d}" for i in range(1, 25)]
    assert list(index["scene"]) == ["east.tif"] * 12 + ["west.tif"] * 12
    assert len(list((result.folder / "img").glob("*.tif"))) == 24
    # resuming the first scene keeps the second one's rows
    assert tile_scene(tmp_path / "east.tif", tmp_path / "out", subdataset="Moxi town", progress=False).tiles == 24
    write_scene(tmp_path / "south.tif", crs="EPSG:32651")
    with pytest.raises(SceneError, match=r"holds tiles in CRS EPSG:32650; scene south\.tif is in EPSG:32651"):
        tile_scene(tmp_path / "south.tif", tmp_path / "out", subdataset="Moxi town", start=25, progress=False)


def test_the_index_holds_footprints_positions_options_and_scores(tmp_path):
    write_scene(tmp_path / "scene.tif")
    write_polygons(tmp_path / "inventory.gpkg")
    result = tile_scene(tmp_path / "scene.tif", tmp_path / "out", labels=tmp_path / "inventory.gpkg",
                        prefix="S_", start=101, progress=False,
                        scorer=lambda image, mask, valid: {"mean": image.mean(), "landslide": mask.mean()})
    index = gpd.read_file(result.index, layer="tiles")
    assert list(index.columns) == [*INDEX_COLUMNS, "mean", "landslide", "geometry"]
    assert index.crs == CRS
    assert list(index["name"]) == [f"S_{n:04d}" for n in range(101, 113)]
    assert list(zip(index["row"], index["col"], strict=True)) == [(r, c) for r in range(3) for c in range(4)]
    assert set(index["scene"]) == {"scene.tif"} and not index["padded"].any()
    assert (index[["size", "stride", "edge", "fill"]].drop_duplicates().values.tolist() == [[512, 256, "shift", 0]])
    for tile in index.itertuples():
        with rasterio.open(result.folder / "img" / f"{tile.name}.tif") as src:
            assert tile.geometry.equals(box(*src.bounds))
            assert tile.mean == pytest.approx(src.read().mean())
        assert tile.landslide == pytest.approx(read_raster(result.folder / "mask" / f"{tile.name}.tif").mean())
        assert tile.valid_fraction == 1.0
    assert not list(result.folder.glob(".*tmp*"))  # nothing half-written left behind


def test_a_scorer_may_not_overwrite_index_columns(tmp_path):
    write_scene(tmp_path / "scene.tif", 600, 600)
    with pytest.raises(ConfigError, match="the scorer returns name, which the tile index uses"):
        tile_scene(tmp_path / "scene.tif", tmp_path / "out", scorer=lambda *_: {"name": 1.0}, progress=False)


# --------------------------------------------------------------------------- CLI


def test_cli_tile_end_to_end(tmp_path, capsys):
    write_scene(tmp_path / "scene.tif")
    write_polygons(tmp_path / "inventory.gpkg")
    out = tmp_path / "out"
    argv = ["tile", str(tmp_path / "scene.tif"), "--labels", str(tmp_path / "inventory.gpkg"), "--out", str(out),
            "--size", "256", "--stride", "256", "--edge", "pad", "--subdataset", "Palu", "--start", "7", "-q"]
    assert main(argv) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"20 tiles written to {out / 'Palu'} (20 in the index {out / 'Palu' / 'tiles.gpkg'}) in ")
    assert line.endswith(" tiles/s") and "\n" not in line
    assert (out / "Palu" / "mask" / "Palu0026.tif").is_file() and (out / "Palu" / "label" / "Palu0007.tif").is_file()
    index = gpd.read_file(out / "Palu" / "tiles.gpkg")  # the QC scores of every tile come with the index
    first = index.iloc[0]
    scores = score_tile(read_raster(out / "Palu" / "img" / "Palu0007.tif"),
                        read_raster(out / "Palu" / "mask" / "Palu0007.tif")[0], np.ones((256, 256), bool))
    assert list(index.columns) == [*INDEX_COLUMNS, *scores, "geometry"]
    assert first[list(scores)].tolist() == pytest.approx(list(scores.values()), nan_ok=True)
    assert main(argv) == 0 and capsys.readouterr().out.startswith("0 tiles written")


def test_cli_tile_reports_bad_input_as_one_error_line(tmp_path, capsys):
    write_scene(tmp_path / "nocrs.tif", 600, 600, crs=None)
    assert main(["tile", str(tmp_path / "nocrs.tif"), "--out", str(tmp_path / "out"), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'nocrs.tif'}: has no CRS") and "Traceback" not in err
    assert main(["tile", str(tmp_path / "nocrs.tif"), "--out", str(tmp_path / "out"), "--stride", "600"]) == 1
    assert "stride 600 is larger than the tile size 512" in capsys.readouterr().err


# --------------------------------------------------------------------------- memory


CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import rasterio
    from landslide_core.building.tiling import tile_scene

    def peak_mib():
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) / 1024

    scene, out = sys.argv[1:3]
    with rasterio.Env(GDAL_CACHEMAX=8):  # MB: far smaller than the scene
        result = tile_scene(scene, out, progress=False)
    print(json.dumps({"peak_mib": peak_mib(), "written": result.written}))
""")


def write_blockwise(path: Path, side: int) -> None:
    """A tiled, compressed RGB scene written one strip at a time (writing it needs little memory)."""
    rng = np.random.default_rng(0)
    profile = {"driver": "GTiff", "width": side, "height": side, "count": 3, "dtype": "uint8", "crs": CRS,
               "transform": TRANSFORM, "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
    with rasterio.Env(GDAL_CACHEMAX=16), rasterio.open(path, "w", **profile) as dst:
        for y in range(0, side, 256):
            dst.write(rng.integers(0, 256, (3, 256, side), dtype=np.uint8), window=Window(0, y, side, 256))


def child_peak(scene: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", CHILD, str(scene), str(out)], capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="peak RSS is read from /proc (Linux)")
def test_memory_stays_bounded_for_a_scene_larger_than_the_block_cache(tmp_path):
    side = 3072
    scene_mib = 3 * side * side / 2**20  # 27 MiB
    write_blockwise(tmp_path / "large.tif", side)
    write_blockwise(tmp_path / "one-tile.tif", 512)
    # The baseline cuts a one-tile scene: the same imports, GDAL drivers and index writing, no scene to speak of.
    baseline = child_peak(tmp_path / "one-tile.tif", tmp_path / "out-baseline")
    large = child_peak(tmp_path / "large.tif", tmp_path / "out-large")
    assert (baseline["written"], large["written"]) == (1, 121)
    growth = large["peak_mib"] - baseline["peak_mib"]
    assert growth < scene_mib / 4, f"peak RSS grew by {growth:.1f} MiB for a {scene_mib:.0f} MiB scene"
