"""The overview page's tables and figures, computed from the files found."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from landslide_core.data.statistics import tile_statistics  # noqa: E402
from landslide_core.io.raster import read_raster  # noqa: E402
from landslide_core.paper import mismatches  # noqa: E402
from landslide_core.sections.dataset import (  # noqa: E402
    COUNT_COLUMNS,
    gallery,
    landslide_shares,
    representative_tiles,
    sample_comparison,
    sample_statistics,
    share_chart,
    table2,
    table2_notes,
)
from landslide_core.sources.cas.layout import scan  # noqa: E402
from landslide_core.sources.cas.registry import licence_summary  # noqa: E402


@pytest.fixture
def found(make_root):
    return scan(make_root({"Longxi River（UAV）": 3, "palu": 2}, size=128))


def test_table2_notes_show_the_sat_mismatch_and_the_licences():
    notes = table2_notes()
    assert mismatches()["sat_tiles"].line() in notes and licence_summary() in notes


def test_table2_puts_counts_on_disk_beside_the_papers(found):
    table = table2(found)
    assert len(table) == 16 + 3
    assert table.loc["Longxi River (UAV)", "Tiles on disk"] == 3
    assert table.loc["Longxi River (UAV)", "Tiles (paper)"] == 2504
    assert table.loc["Longxi River (UAV)", "Folder on disk"] == "Longxi River（UAV）"
    assert table.loc["Palu", "Tiles on disk"] == 2 and table.loc["Wenchuan", "Tiles on disk"] == 0
    assert table.loc["UAV total", "Tiles (paper)"] == 13443 and table.loc["UAV total", "Tiles on disk"] == 3
    assert table.loc["UAV&SAT total", "Tiles (paper)"] == 20865 and table.loc["UAV&SAT total", "Tiles on disk"] == 5


def test_the_page_shows_the_counts_of_table2(found):
    shown = table2(found)[list(COUNT_COLUMNS)]
    assert shown.loc["Palu"].tolist() == ["SAT", 817, 2, "palu"]
    assert shown.loc["Wenchuan"].tolist() == ["SAT", 178, 0, "—"]


def test_shares_are_computed_from_the_masks(found):
    stats = tile_statistics(found.records, progress=False)
    masks = {r.name + r.subdataset: read_raster(r.mask) for r in found.records}
    assert stats["landslide_share"].tolist() == pytest.approx([m.mean() for m in masks.values()])
    shares = landslide_shares(stats)
    palu = [read_raster(r.mask) for r in found.records if r.subdataset == "palu"]
    assert shares.loc["Palu", "Pixel share (%)"] == pytest.approx(100 * np.mean(palu), abs=1e-3)
    assert shares.loc["Palu", "Tiles"] == 2 and shares.loc["UAV&SAT total", "Tiles"] == 5
    assert shares.loc["Palu", "Max tile share (%)"] == pytest.approx(100 * max(m.mean() for m in palu), abs=1e-3)


def test_gallery_shows_the_median_tile_of_each_subdataset(found):
    stats = tile_statistics(found.records, progress=False)
    tiles = representative_tiles(found.records, stats)
    assert [t.subdataset for t in tiles] == ["palu", "longxi-uav"]
    longxi = stats[stats.subdataset == "longxi-uav"].set_index("name")["landslide_share"]
    assert tiles[1].name == (longxi - longxi.median()).abs().idxmin()
    figure = gallery(tiles)
    assert sum(len(ax.images) for ax in figure.axes) == 4
    chart = share_chart(landslide_shares(stats))
    assert len(chart.axes[0].patches) == 2


def test_the_sample_table_has_no_subdataset_row_where_the_page_has_none_of_its_tiles(make_root):
    root = make_root({"palu": 2, "Hokkaido Iburi-Tobu": 3}, size=64)
    records = scan(root).records
    palu = [r for r in records if r.subdataset == "palu"]
    hokkaido = [r for r in records if r.subdataset == "hokkaido"]
    table = sample_statistics(palu, hokkaido, synthetic=False, main_stats=tile_statistics(palu, progress=False),
                              sample_stats=tile_statistics(hokkaido, progress=False))
    assert list(table.index) == ["all sub-datasets, data_root", "Hokkaido Iburi-Tobu, shipped sample"]
    assert list(table["tiles are"]) == ["real", "real"] and table["Tiles"].tolist() == [2, 3]
    masks = [read_raster(r.mask) for r in hokkaido]
    assert table.iloc[1]["Pixel share (%)"] == pytest.approx(100 * np.mean(masks))
    text = sample_comparison(table, hokkaido)
    assert "in all 2 real tiles of the data_root data" in text and ") in all real tiles." in text
