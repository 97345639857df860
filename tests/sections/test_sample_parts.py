"""The real-sample parts of the dataset and building pages, on the 24 tiles shipped in data/sample.

Shares and pixels are recomputed here with rasterio and numpy, not with the package's readers.
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import rasterio  # noqa: E402
from rasterio.errors import NotGeoreferencedWarning  # noqa: E402

from landslide_core.building.qc import QCThresholds  # noqa: E402
from landslide_core.data.statistics import tile_statistics  # noqa: E402
from landslide_core.sections.dataset import (  # noqa: E402
    SAMPLE_COLUMNS,
    image_statistics,
    sample_comparison,
    sample_statistics,
    spread_tiles,
)
from landslide_core.sections.leakage import (  # noqa: E402
    overlapping_pairs,
    pair_figure,
    published_note,
    published_tiles_audit,
    sample_leakage,
    sample_scope,
)
from landslide_core.sources import get_source  # noqa: E402
from tests.attribution import registry_attributions  # noqa: E402
from tests.conftest import HOKKAIDO, SAMPLE  # noqa: E402

PAIRS = [("10301", "10340"), ("10303", "10340"), ("10509", "10555"), ("10784", "10785")]
"""The pairs of the shipped tiles that share pixels (measured on the sample, issue 24)."""
SHARE = "share of validation pixels seen in training (%)"


def _read(path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the published tiles carry no georeference
        with rasterio.open(path) as src:
            return src.read()


@pytest.fixture(scope="module")
def sample():
    return get_source("cas").list_tiles(SAMPLE)


@pytest.fixture(scope="module")
def checked():
    return published_tiles_audit(SAMPLE, QCThresholds(), seed=0, val_fraction=0.3, removed=False)


def test_the_pairs_table_lists_exactly_the_four_overlapping_pairs(checked) -> None:
    table = overlapping_pairs(checked.audit)
    assert sorted(table.index) == PAIRS
    assert (table["flipped/rotated"] == "no").all() and (table["found by"] == "content").all()
    assert table.loc[("10784", "10785"), "shared pixels"] == 512 * 256
    assert table.loc[("10784", "10785"), "share of tile a (%)"] == pytest.approx(50)
    assert table.loc[("10301", "10340"), "offset dy (px)"] == 256 and checked.removed is None


def test_the_shared_rectangles_hold_the_same_pixels(checked) -> None:
    for pair in checked.audit.pairs.itertuples():
        a, b = (_read(HOKKAIDO / "img" / f"{uid.split('/')[1]}.tif") for uid in (pair.uid_a, pair.uid_b))
        assert np.array_equal(a[:, pair.a_top:pair.a_bottom, pair.a_left:pair.a_right],
                              b[:, pair.b_top:pair.b_bottom, pair.b_left:pair.b_right])


def test_the_pair_figure_has_one_row_per_pair_with_the_rectangle_on_both_tiles(checked, sample) -> None:
    figure = pair_figure(checked.audit, sample)
    assert figure.axes[0].get_subplotspec().get_gridspec().get_geometry() == (4, 2)
    assert len(figure.axes) == 8 and all(len(axis.patches) == 1 and axis.images for axis in figure.axes)
    first = checked.audit.pairs.iloc[0]
    outline = figure.axes[1].patches[0]  # tile b of the first pair
    assert (outline.get_x() + 0.5, outline.get_y() + 0.5) == (first["b_left"], first["b_top"])
    assert outline.get_width() == first["b_right"] - first["b_left"]
    titles = [axis.get_title() for axis in figure.axes]
    assert titles[:2] == ["tile a: 10301", "tile b: 10340"]


def test_the_leakage_sentence_names_the_pairs_and_both_leak_shares(checked) -> None:
    text = sample_leakage(checked, seed=0, val_fraction=0.3)
    assert "found 4 pairs" in text and all(f"{a} and {b}" in text for a, b in PAIRS)
    random, grouped = checked.report.loc["total", SHARE], checked.grouped.loc["total", SHARE]
    assert random > 0 and grouped == 0
    assert f"puts {random:.1f} % of its validation pixels in training" in text
    assert f"the grouped split puts {grouped:.1f} % there" in text
    assert not registry_attributions(text)


def test_the_scope_says_what_24_tiles_of_one_subdataset_can_and_cannot_show(checked) -> None:
    text = sample_scope(checked)
    assert "24 real tiles of one sub-dataset, Hokkaido Iburi-Tobu (1,484 tiles" in text and "20,865" in text
    assert "they cannot show" in text and "renamed `100NN` by a third party" in text and "flag 0 of them" in text
    assert not registry_attributions(text)
    assert "24 real tiles of the sample above" in published_note(24)
    assert "no published tiles were audited" in published_note(None) and "data_root" in published_note(None)


def _statistics(main: list, sample: list):
    """:func:`sample_statistics` of synthetic page tiles ``main`` beside ``sample``, given their tile statistics."""
    return sample_statistics(main, sample, synthetic=True, main_stats=tile_statistics(main, progress=False),
                             sample_stats=tile_statistics(sample, progress=False))


def test_the_statistics_table_holds_the_real_tiles_with_shares_from_their_masks(sample) -> None:
    masks = [_read(path) for path in sorted((HOKKAIDO / "mask").glob("*.tif"))]
    assert len(masks) == 24
    shares = [float((m > 0).mean()) for m in masks]
    table = _statistics(sample[:6], sample)
    assert list(table.columns) == list(SAMPLE_COLUMNS)
    real = table.loc["Hokkaido Iburi-Tobu, shipped sample"]
    assert real["tiles are"] == "real" and real["Tiles"] == 24
    assert real["Pixel share (%)"] == pytest.approx(100 * np.mean(shares))
    assert real["Min tile share (%)"] == pytest.approx(100 * min(shares))
    assert real["Median tile share (%)"] == pytest.approx(100 * np.median(shares))
    assert real["Max tile share (%)"] == pytest.approx(100 * max(shares))
    assert real["Tiles < 0.1 % (%)"] == pytest.approx(100 * np.mean(np.array(shares) < 0.001))
    images = [_read(path)[:3].astype(float).mean(axis=0) for path in sorted((HOKKAIDO / "img").glob("*.tif"))]
    assert real["Mean brightness"] == pytest.approx(np.mean(images))
    assert real["Brightness SD"] == pytest.approx(np.std(images))
    assert list(table["tiles are"]) == ["synthetic", "synthetic", "real"]
    assert table.iloc[0]["Tiles"] == 6 and table.index[0] == "Hokkaido Iburi-Tobu, demo"


def test_the_comparison_is_computed_from_the_table(sample) -> None:
    table = _statistics(sample[:6], sample)
    text = sample_comparison(table, sample)
    real, same = table.iloc[-1], table.iloc[0]
    assert text.startswith(f"The 24 real Hokkaido Iburi-Tobu tiles of the sample hold {real['Pixel share (%)']:.1f} %")
    assert f"{same['Pixel share (%)']:.1f} % in the 6 synthetic Hokkaido Iburi-Tobu tiles of the demo data" in text
    assert "24 tiles of Hokkaido Iburi-Tobu, of the 1,484 tiles paper Table 2 lists" in text
    assert not registry_attributions(text)


def test_image_statistics_and_the_gallery_spread(sample) -> None:
    images = image_statistics(sample[:2])
    first = _read(sample[0].image)[:3].astype(float).mean(axis=0)
    assert images.loc[0, "brightness_mean"] == pytest.approx(first.mean())
    assert images.loc[0, "brightness_square"] == pytest.approx(np.square(first).mean())
    stats = tile_statistics(sample, progress=False).set_index("name")["landslide_share"]
    picked = [r.name for r in spread_tiles(sample, tile_statistics(sample, progress=False))]
    assert len(picked) == 4 and picked[0] == stats.idxmin() and picked[-1] == stats.idxmax()
