"""The one-call preamble of a section page (data root, scan, run, banner) and the links to its records."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from landslide_core.book.links import check_internal_links
from landslide_core.book.page import SectionRun, open_section, record_links
from landslide_core.book.runner import SAMPLE_ROOT, copy_records
from landslide_core.errors import MissingPartnerError
from landslide_core.provenance import listing_checksum, read_record
from tests.conftest import SAMPLE


def test_open_section_scans_starts_the_run_and_says_which_data(make_root, monkeypatch):
    shown: list[object] = []
    monkeypatch.setattr("landslide_core.book.page.display", shown.append)
    root = make_root({"palu": 2, "Lombok": 1}, size=64)
    run = open_section("dataset", profile="demo", parameters={"data_root": str(root)}, data_root=root,
                       subdatasets=["palu"])
    assert [r.name for r in run.records] == ["tile0000", "tile0001"] and run.found.root == root
    assert run.data_root == root.resolve() and run.data_label == "CAS data" and not run.synthetic
    assert len(shown) == 1 and shown[0].data.startswith("**CAS data** read from")
    assert open_section("benchmarks", profile="demo", parameters={}, data_root=root, scan=False).records is None


def test_open_section_raises_the_first_layout_problem(make_root, monkeypatch):
    monkeypatch.setattr("landslide_core.book.page.display", lambda *_: None)
    root = make_root({"palu": 2}, size=64)
    next((root / "palu" / "mask").iterdir()).unlink()
    with pytest.raises(MissingPartnerError, match="image has no mask"):
        open_section("dataset", profile="demo", parameters={}, data_root=root)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository stand-in (``_toc.yml`` makes it the repository root) as the working directory."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    monkeypatch.chdir(root)
    return root


def test_shown_and_recorded_tables_link_to_their_records_in_the_built_book(make_root, repo, monkeypatch):
    shown: list[object] = []
    monkeypatch.setattr("landslide_core.book.page.display", shown.append)
    run = SectionRun.start("dataset", profile="demo", parameters={}, data_root=make_root({"palu": 1}, size=64))
    run.show(pd.DataFrame({"tiles": [3]}), "counts", caption="Tiles")
    run.record(pd.DataFrame({"run": [1, 2]}), "raw_runs", caption="Every run")
    _, note, line = shown
    assert note.data.startswith('<p class="provenance"><small>Provenance: commit')
    assert note.data.endswith(
        'record <code>results/demo/dataset/counts</code>: <a href="../../results/demo/dataset/counts.csv" download>CSV'
        '</a> · <a href="../../results/demo/dataset/counts.json" download>JSON</a></small></p>'
    )
    assert line.data == (
        '<p class="record"><small>Every run · record <code>results/demo/dataset/raw_runs</code>: '
        '<a href="../../results/demo/dataset/raw_runs.csv" download>CSV</a> · '
        '<a href="../../results/demo/dataset/raw_runs.json" download>JSON</a></small></p>'
    )

    # The built book: the page where Jupyter Book writes section pages, and the runner's copy of the records.
    html = repo / "_build" / "html"
    (html / "book" / "sections").mkdir(parents=True)
    (html / "index.html").write_text("<p>home</p>")
    (html / "book" / "sections" / "02_dataset.html").write_text(note.data + line.data)
    copies = copy_records(repo, html)
    assert [c.relative_to(html).as_posix() for c in copies] == [
        f"results/demo/dataset/{name}" for name in ("counts.csv", "counts.json", "raw_runs.csv", "raw_runs.json")
    ]
    assert check_internal_links(html) == []
    (html / "results" / "demo" / "dataset" / "raw_runs.json").unlink()
    assert check_internal_links(html) == [
        "book/sections/02_dataset.html: ../../results/demo/dataset/raw_runs.json: "
        "no such file results/demo/dataset/raw_runs.json"
    ]


@pytest.mark.real_data
def test_the_part_on_the_real_sample_records_the_samples_provenance_and_says_real_tiles(make_root, repo, monkeypatch):
    shutil.copytree(SAMPLE, repo / SAMPLE_ROOT, ignore=shutil.ignore_patterns("splits"))
    shown: list[object] = []
    monkeypatch.setattr("landslide_core.book.page.display", shown.append)
    run = SectionRun.start("dataset", profile="demo", parameters={"real_sample": True},
                           data_root=make_root({"palu": 1}, size=64), records=[])
    sample = run.on_sample()
    assert sample.data_root == (repo / SAMPLE_ROOT).resolve() and sample.results_dir == run.results_dir
    assert len(sample.records) == 24 and sample.found.root == sample.data_root
    assert sample.data_label == "CAS sample, real" and not sample.synthetic

    sample.banner()
    assert shown[-1].data.startswith("**Real tiles.** This part reads the 24 real CAS tiles shipped in `data/sample`")
    # A page given the sample as its own data (`-p data_root data/sample`) says so of the whole page.
    whole = SectionRun.start("dataset", profile="demo", parameters={}, data_root=sample.data_root,
                             records=sample.records)
    whole.banner()
    assert shown[-1].data.startswith("**Real tiles.** This page reads the 24 real CAS tiles shipped in `data/sample`")
    sample.record(pd.DataFrame({"tiles": [24]}), "sample_counts")
    run.record(pd.DataFrame({"tiles": [0]}), "counts")
    _, provenance = read_record(run.results_dir / "sample_counts")
    assert provenance.data_kind == "CAS sample, real" and provenance.subdatasets == ["hokkaido"]
    assert provenance.data_root == str(sample.data_root)
    assert provenance.data_checksum == listing_checksum(sample.records, sample.data_root)  # the 24 tiles read
    assert provenance.data_checksum != read_record(run.results_dir / "counts")[1].data_checksum
    assert read_record(run.results_dir / "counts")[1].data_kind == "CAS data"  # the main part keeps its own data


def test_the_book_copies_top_level_records_only_and_afresh(repo):
    section = repo / "results" / "demo" / "benchmarks"
    for path in (section / "table5.csv", section / "table5.json", section / "notes.txt",
                 section / "runs" / "fcn" / "scores.csv", section / "runs" / "fcn" / "best.json",
                 repo / "results" / "demo" / "loose.csv", repo / "results" / "paper" / "dataset" / "counts.csv"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a,b\n1,2\n")
    html = repo / "_build" / "html"
    stale = html / "results" / "demo" / "benchmarks" / "removed.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    copy_records(repo, html)
    copied = sorted(p.relative_to(html).as_posix() for p in html.rglob("*") if p.is_file())
    assert copied == ["results/demo/benchmarks/table5.csv", "results/demo/benchmarks/table5.json",
                      "results/paper/dataset/counts.csv"]
    assert (html / "results" / "demo" / "benchmarks" / "table5.csv").read_text() == "a,b\n1,2\n"


def test_a_record_outside_the_repository_is_named_without_a_link(make_root, repo, tmp_path, monkeypatch):
    shown: list[object] = []
    monkeypatch.setattr("landslide_core.book.page.display", shown.append)
    run = SectionRun.start("dataset", profile="demo", parameters={}, data_root=make_root({"palu": 1}, size=64),
                           results_dir=tmp_path / "elsewhere")
    run.show(pd.DataFrame({"tiles": [3]}), "counts")
    assert shown[-1].data.endswith(f"record <code>{tmp_path / 'elsewhere' / 'counts.csv'}</code></small></p>")
    assert "href" not in shown[-1].data
    inside = repo / "notes" / "counts"  # in the repository but not where the book copies records from
    assert record_links(inside) == "record <code>notes/counts.csv</code>"
    assert record_links(repo / "results" / "demo" / "dataset" / "counts").count("href=") == 2
