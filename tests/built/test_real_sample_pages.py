"""What the built demo book shows of the real sample (issue 24), read from its HTML and its records.

Runs after `make book`; a missing page or record fails with the command that writes it. The four pairs are those
measured on the shipped tiles; the leak shares are read from the records the page wrote, and must be on the page.
"""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from landslide_core.book.page import results_folder
from landslide_core.book.runner import SECTIONS_DIR, repository_root

PAIRS = [("10301", "10340"), ("10303", "10340"), ("10509", "10555"), ("10784", "10785")]
SHARE = "share of validation pixels seen in training (%)"


def _html(name: str) -> str:
    path = repository_root() / "_build" / "html" / SECTIONS_DIR / f"{name}.html"
    if not path.is_file():
        pytest.fail(f"{path} is missing: build the demo book first (make book)")
    return path.read_text(encoding="utf-8")


def _part(page: str, heading: str) -> tuple[str, str]:
    """The HTML of the part under the ``<h2>`` heading (to the next ``<h2>``), and its text in one line."""
    start = page.find(f"<h2>{html.escape(heading, quote=False)}")
    assert start >= 0, f"the page has no part headed {heading!r}"
    end = page.find("<h2>", start + 4)
    part = page[start:end if end >= 0 else None]
    return part, " ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split())


def _total(name: str) -> float:
    path = results_folder("demo", "building") / f"{name}.csv"
    if not path.is_file():
        pytest.fail(f"{path} is missing: build the demo book first (make book)")
    return float(pd.read_csv(path).set_index("sub-dataset").loc["total", SHARE])


def test_the_dataset_page_shows_the_real_sample_beside_the_demo():
    part, text = _part(_html("02_dataset"), "The real sample beside the demo")
    assert "Real tiles." in text and "Hokkaido Iburi-Tobu, shipped sample" in text
    assert "synthetic" in text and " real " in text
    assert "The 24 real Hokkaido Iburi-Tobu tiles of the sample hold" in text
    assert "not the landslide share of the sub-dataset or of the dataset" in text
    assert "<img" in part, "the gallery of real tiles is missing"


def test_the_building_page_lists_the_four_pairs_and_both_leak_shares():
    part, text = _part(_html("03_building"), "The real sample: quality control and leakage on real tiles")
    assert "Real tiles." in text and "24 real tiles of one sub-dataset" in text and "they cannot show" in text
    assert "renamed 100NN by a third party" in text
    for a, b in PAIRS:
        assert f"{a} and {b}" in text, f"the pair {a}, {b} is not named"
    assert all(name in text for pair in PAIRS for name in pair)
    random, grouped = _total("sample_leakage_random_split"), _total("sample_leakage_grouped_split")
    assert random > 0 and grouped == 0
    assert f"puts {random:.1f} % of its validation pixels in training" in text
    assert f"the grouped split puts {grouped:.1f} % there" in text
    assert part.count("<img") >= 2, "the score distributions or the figure of the pairs is missing"
    assert "removed_from_names" not in part


def test_the_published_part_says_the_sample_was_audited_when_no_data_root_is_given():
    _, text = _part(_html("03_building"), "The published tiles")
    assert "the published tiles audited on this page are the 24 real tiles of the sample above" in text
