"""The study-areas section: world outline, region positions (shapefile or approximate), map, tables, chart."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import geopandas as gpd  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import shapely  # noqa: E402
from shapely.geometry import Point  # noqa: E402

from landslide_core.errors import PathProblemError  # noqa: E402
from landslide_core.paper import quote  # noqa: E402
from landslide_core.paper.mismatches import NATIVE_RESOLUTION, resolution_footnote  # noqa: E402
from landslide_core.sections import study_areas as sa  # noqa: E402
from landslide_core.sections.dataset import table2  # noqa: E402
from landslide_core.sources.cas import regions, subdatasets  # noqa: E402
from landslide_core.sources.cas.download import STUDY_AREAS_FOLDER  # noqa: E402
from landslide_core.sources.cas.layout import scan  # noqa: E402

NATURAL_EARTH_110M_TOLERANCE_DEG = 1.0
"""1:110m outlines leave out small islands (Lombok, 4,700 km², is missing): a position may lie this far off its country."""


@pytest.fixture(scope="module")
def outline() -> gpd.GeoDataFrame:
    return sa.world_outline()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _markers(ax) -> list[str]:
    return [line.get_gid() for line in ax.lines if (line.get_gid() or "").startswith("region:")]


def _shapefile_root(tmp_path, *, crs: str | None = "EPSG:3857"):
    """A data root whose study_areas/ holds two squares: one named Palu, one under a name no token matches."""
    palu, luding = (next(r for r in regions() if r.key == k) for k in ("palu", "luding"))
    areas = gpd.GeoDataFrame(
        {"Name": ["Palu study area", "泸定"]},
        geometry=[Point(r.approx_lon, r.approx_lat).buffer(0.2, cap_style="square") for r in (palu, luding)],
        crs="EPSG:4326",
    )
    folder = tmp_path / "root" / STUDY_AREAS_FOLDER / "study areas shp"
    folder.mkdir(parents=True)
    areas.to_crs(crs or "EPSG:4326").to_file(folder / "study_areas.shp", encoding="utf-8")
    if crs is None:
        (folder / "study_areas.prj").unlink()
    return tmp_path / "root", (palu, luding)


def test_world_outline_has_the_registry_countries(outline):
    assert len(outline) > 150 and outline.crs.to_epsg() == 4326
    assert {r.country for r in regions()} <= set(outline["name"])


def test_missing_outline_raises_our_error(monkeypatch, tmp_path):
    monkeypatch.setattr(sa, "OUTLINE_RESOURCE", "tests/fixtures/no_such_outline.shp")
    with pytest.raises(PathProblemError, match="world outline.*pip install"):
        sa.outline_path()
    monkeypatch.setattr(sa, "OUTLINE_PACKAGE", "no_such_package_landslide_core")
    with pytest.raises(PathProblemError, match="not installed"):
        sa.world_outline()
    with pytest.raises(PathProblemError, match="does not exist"):
        sa.world_outline(tmp_path / "countries.shp")


def test_registry_positions_lie_in_their_countries(outline):
    for r in regions():
        point = Point(r.approx_lon, r.approx_lat)
        country = outline[outline["name"] == r.country].geometry.iloc[0]
        nearest = outline["name"].iloc[shapely.distance(outline.geometry.to_numpy(), point).argmin()]
        assert country.contains(point) or (
            nearest == r.country and country.distance(point) < NATURAL_EARTH_110M_TOLERANCE_DEG
        ), r.key


def test_without_shapefile_positions_are_the_registrys_and_say_approximate(tmp_path):
    for areas in (sa.study_areas(tmp_path), sa.study_areas(None)):
        assert areas.source == "registry" and areas.approximate and areas.files == ()
        assert "approximate" in areas.note and "not the official" in areas.note
        table = areas.regions
        assert table["region"].tolist() == [r.key for r in regions()]
        assert table["lon"].tolist() == [r.approx_lon for r in regions()]
        assert table["lat"].tolist() == [r.approx_lat for r in regions()]
        assert set(table["Position from"]) == {"registry (approximate)"}
        assert len(areas.outlines) == 0


def test_region_groups_follow_the_subdatasets():
    groups = sa.region_groups()
    for r in regions():
        members = {sd.group for sd in subdatasets() if sd.region == r.key}
        assert groups[r.key] == (members.pop() if len(members) == 1 else "UAV&SAT")


def test_shapefile_is_read_reprojected_and_matched(tmp_path):
    root, (palu, luding) = _shapefile_root(tmp_path)
    areas = sa.study_areas(root)
    assert areas.source == "shapefile" and not areas.approximate
    assert [p.name for p in areas.files] == ["study_areas.shp"] and "official" in areas.note
    assert areas.outlines.crs.to_epsg() == 4326
    assert areas.outlines["region"].tolist() == ["palu", "luding"]
    assert areas.outlines["matched by"].tolist() == ["name", "nearest registry position"]
    table = areas.regions.set_index("region")
    for r in (palu, luding):
        assert table.loc[r.key, "Position from"] == "shapefile"
        assert table.loc[r.key, ["lon", "lat"]].tolist() == pytest.approx([r.approx_lon, r.approx_lat], abs=0.01)
    others = table.drop(index=["palu", "luding"])
    assert set(others["Position from"]) == {"registry (approximate)"}
    assert all(loc in areas.note for loc in others["Location"])
    assert sa.study_areas(root, use_shapefile=False).approximate


def test_shapefile_without_crs_is_refused(tmp_path):
    root, _ = _shapefile_root(tmp_path, crs=None)
    with pytest.raises(PathProblemError, match="no coordinate reference system"):
        sa.study_areas(root)


def test_map_has_one_marker_per_region_and_labels_apart(outline):
    areas = sa.study_areas(None)
    fig = sa.region_map(areas, outline)
    world, detail = fig.axes[:2]
    assert sorted(_markers(world)) == sorted(f"region:{r.key}" for r in regions())
    china = [r.key for r in regions() if r.country == "China"]
    assert sorted(_markers(detail)) == sorted(f"region:{k}" for k in china)
    caption = " ".join(t.get_text() for t in fig.texts) + fig.get_suptitle()
    assert "approximate" in caption.lower() and "not the official" in caption
    renderer = fig.canvas.get_renderer()
    for ax in (world, detail):
        boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_text() and t.get_text() != "(b)"]
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_map_from_shapefile_says_official(tmp_path, outline):
    root, _ = _shapefile_root(tmp_path)
    fig = sa.region_map(sa.study_areas(root), outline)
    assert "official study-areas shapefile" in fig.get_suptitle()
    assert len(_markers(fig.axes[0])) == len(regions())


def test_tables_as_published_follow_the_registry():
    t2 = sa.table2_published()
    assert t2.index.tolist() == [sd.name for sd in subdatasets()]
    assert t2["Amount"].tolist() == [sd.paper_tiles for sd in subdatasets()]
    assert t2["Ground Resolution (m)"].tolist() == [sd.resolution_m for sd in subdatasets()]
    assert t2["Authorization"].tolist() == [sd.licence for sd in subdatasets()]
    t4 = sa.table4_published()
    assert t4.index.tolist() == [r.location for r in regions()]
    assert t4["Triggering Factors"].tolist() == [r.trigger for r in regions()]


def test_table2_parts_hold_every_column_once():
    full = sa.table2_published()
    what, where = sa.table2_parts()
    assert what.index.equals(full.index) and where.index.equals(full.index)
    assert sorted([*what.columns, *where.columns]) == sorted(full.columns)
    assert what["Amount"].tolist() == [sd.paper_tiles for sd in subdatasets()]
    assert where["Authorization"].tolist() == [sd.licence for sd in subdatasets()]


def test_columns_of_ours_are_marked_and_explained():
    t2 = sa.table2_published()
    assert [c for c in t2.columns if "ours" in c] == [sa.GROUP_COLUMN, sa.AREA_COLUMN]
    assert ((t2[sa.GROUP_COLUMN] == "UAV") == (t2["Sensor"] == "UAV")).all()
    inferred = sa.inferred_areas()
    assert inferred == [sd.name for sd in subdatasets() if sd.name.startswith("Moxi")]
    assert set(t2.loc[inferred, sa.AREA_COLUMN]) == {"Luding, Sichuan"}
    note = sa.table2_ours_note()
    assert quote("luding_uav").cited() in note and all(name in note for name in inferred)


def test_resolution_note_names_every_row_whose_sensor_has_another_native_resolution():
    note = sa.table2_resolution_note()
    for sd in subdatasets():
        assert (f"{sd.name} at {sd.resolution_m:g} m" in note) == (sd.sensor in NATIVE_RESOLUTION), sd.name
    for sensor in NATIVE_RESOLUTION:
        assert resolution_footnote(sensor) in note


def test_table_columns_are_the_papers(paper_text):
    t2, t4 = sa.table2_published(), sa.table4_published()
    assert "\t".join([t2.index.name, *t2.columns[:6]]) in paper_text
    assert "\t".join([t4.index.name, *t4.columns]) in paper_text
    for name, row in t2.iterrows():
        assert f"{name}\t{row['Amount']}\t{row['Acquisition Time']}" in paper_text


def test_chart_shows_paper_and_disk_counts(make_root):
    counts = table2(scan(make_root({"palu": 2, "Longxi River（UAV）": 1}, size=64)))
    fig = sa.subdataset_chart(counts)
    tiles_ax, res_ax = fig.axes
    widths = sorted(p.get_width() for p in tiles_ax.patches)
    assert len(widths) == len(subdatasets()) + 2
    assert widths[:2] == [1, 2] and max(widths) == max(sd.paper_tiles for sd in subdatasets())
    assert res_ax.collections[-1].get_offsets()[:, 0].tolist() == [sd.resolution_m for sd in subdatasets()]
