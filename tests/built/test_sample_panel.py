"""The built benchmarks page shows its part on the real sample: heading, "Real tiles" banner, and the model and the
three baselines on both splits, judged.

Runs after `make book` (``make test`` orders it so): it reads the HTML under ``_build/html`` and the page's records.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from landslide_core.book.page import results_folder
from landslide_core.book.profiles import get_profile
from landslide_core.book.runner import SAMPLE_ROOT, repository_root
from landslide_core.eval.baselines import BASELINES
from landslide_core.experiments.table5 import paper_name
from landslide_core.sources import get_source
from landslide_core.sources.cas.sample import SAMPLE_DATA

HEADING = "The real sample: one model against the baselines"
NEXT_HEADING = "What this shows"
SCORES_CAPTION = "The real sample: the model and the baselines per split"
JUDGEMENTS_CAPTION = "The real sample: the model against each baseline"


class _Part(HTMLParser):
    """The text of a stretch of a page, and its tables as captions and body rows (header cells, then data cells);
    a header cell spanning rows is repeated in the rows it spans."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tables: list[dict] = []
        self._buffer: list[str] | None = None
        self._row: list[tuple[str, str]] | None = None
        self._spans: dict[int, tuple[str, int]] = {}
        self._cell: tuple[str, int] = ("", 1)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append({"caption": "", "rows": []})
            self._spans = {}
        elif tag == "caption" or tag in ("th", "td") and self._row is not None:
            self._buffer = []
            self._cell = (tag, int(dict(attrs).get("rowspan") or 1))
        elif tag == "tr" and self.tables:
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._buffer is not None:
            self.tables[-1]["caption"] = " ".join("".join(self._buffer).split())
            self._buffer = None
        elif tag in ("th", "td") and self._buffer is not None and self._row is not None:
            while len(self._row) in self._spans:  # cells of rows above that span this one
                text, left = self._spans.pop(len(self._row))
                self._row.append(("th", text))
                if left > 1:
                    self._spans[len(self._row) - 1] = (text, left - 1)
            text, (kind, span) = " ".join("".join(self._buffer).split()), self._cell
            if span > 1:
                self._spans[len(self._row)] = (text, span - 1)
            self._row.append((kind, text))
            self._buffer = None
        elif tag == "tr" and self._row is not None:
            if any(kind == "td" for kind, _ in self._row):
                self.tables[-1]["rows"].append(([t for k, t in self._row if k == "th"],
                                                [t for k, t in self._row if k == "td"]))
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._buffer is not None:
            self._buffer.append(data)


@pytest.fixture(scope="module")
def part() -> _Part:
    path = repository_root() / "_build" / "html" / "book" / "sections" / "05_benchmarks.html"
    if not path.is_file():
        pytest.fail(f"{path} is missing: build the demo book first (make book)")
    html = path.read_text(encoding="utf-8")
    start = re.search(rf"<h2[^>]*>\s*{re.escape(HEADING)}", html)
    assert start, f"the benchmarks page has no heading {HEADING!r}"
    end = re.search(rf"<h2[^>]*>\s*{re.escape(NEXT_HEADING)}", html)
    assert end and end.start() > start.start(), f"the part on the real sample comes before {NEXT_HEADING!r}"
    parser = _Part()
    parser.feed(html[start.start():end.start()])
    return parser


def _table(part: _Part, caption: str) -> list[tuple[list[str], list[str]]]:
    found = [table for table in part.tables if table["caption"].startswith(caption)]
    assert len(found) == 1, f"the part shows one table captioned {caption!r}"
    return found[0]["rows"]


def test_the_part_says_it_reads_real_tiles_and_what_they_can_and_cannot_show(part):
    tiles = len(get_source("cas").list_tiles(repository_root() / SAMPLE_ROOT))
    text = " ".join("".join(part.text).split())
    assert f"Real tiles. This part reads the {tiles} real CAS tiles shipped in data/sample" in text
    assert f"What {tiles} tiles can and cannot show." in text and "not a paired comparison" in text
    for name in ("sample_scores", "sample_judgements"):
        record = json.loads((results_folder("demo", "benchmarks") / f"{name}.json").read_text(encoding="utf-8"))
        assert record["provenance"]["data_kind"] == SAMPLE_DATA, f"{name} names the sample as its data"


def test_both_splits_show_the_model_and_the_three_baselines_with_intervals(part):
    model = paper_name(get_profile("demo").sections["benchmarks"]["sample_model"])
    rows = _table(part, SCORES_CAPTION)
    shown = [tuple(heads) for heads, _ in rows]
    assert shown == [(split, name) for split in ("random", "grouped") for name in (model, *BASELINES)]
    interval = re.compile(r"^-?\d+\.\d \[-?\d+\.\d, -?\d+\.\d\]$")
    assert all(interval.match(cell) for _, cells in rows for cell in cells[:2]), "IoU and mIoU with intervals"
    judged = _table(part, JUDGEMENTS_CAPTION)
    assert [tuple(heads) for heads, _ in judged] == [(split, model, baseline) for split in ("random", "grouped")
                                                      for baseline in BASELINES]
    assert {cells[-1] for _, cells in judged} <= {"yes", "no"}


def test_the_text_says_what_the_judgements_record(part):
    """Per split, the line names as beaten exactly the baselines the record says the model beats."""
    record = pd.read_csv(results_folder("demo", "benchmarks") / "sample_judgements.csv")
    text = " ".join("".join(part.text).split())
    for split, rows in record.groupby("Split"):
        line = re.search(rf"{split} split: .*?\.(?= [a-z]+ split:| What \d+ tiles)", text)
        assert line, f"no line on the {split} split"
        beaten = line.group(0).split("it beats ", 1)[1].split(" but not ", 1)[0]
        for _, row in rows.iterrows():
            assert (row["Baseline"] in beaten) == (row["beats"] == "yes"), (row["Baseline"], line.group(0))
