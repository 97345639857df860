"""The status board of the first page, read from records and executed notebooks, never typed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from landslide_core.book.runner import STATUS_FILE, write_status
from landslide_core.book.status import NOT_RUN, DataPart, SectionStatus, section_statuses, status_markdown
from landslide_core.provenance import Provenance, write_record

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OLDER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
TOC = ("format: jb-book\nroot: book/intro\nchapters:\n"
       "  - file: book/sections/01_study_areas\n  - file: book/metrics\n  - file: book/sections/05_benchmarks\n")


def provenance(**changes: object) -> Provenance:
    """A record's provenance as a section run writes it (the fields the board reads are set by ``changes``)."""
    made = Provenance(
        git_commit=COMMIT, git_modified=True, profile="demo", section="study_areas", parameters={},
        data_root="/data/demo", data_kind="demo data, synthetic", data_checksum="none (no tiles read)",
        device="CPU: test (2 cores)", versions={}, wall_time_s=1.0, created_utc="2026-11-30 02:10 UTC",
        subdatasets=["hokkaido", "palu"], source={"name": "cas"},
    )
    return replace(made, **changes)


def executed_notebook(path: Path, metadata: dict[str, object] | None) -> None:
    """An executed notebook; ``metadata`` is what the runner stores after a successful run (None: a failed one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"cells": [], "nbformat": 4, "nbformat_minor": 5,
                "metadata": {} if metadata is None else {"landslide_core": metadata}}
    path.write_text(json.dumps(document), encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Two sections: study areas ran (two records, the older one from another commit), benchmarks did not."""
    (tmp_path / "_toc.yml").write_text(TOC)
    folder = tmp_path / "results" / "demo" / "study_areas"
    write_record(pd.DataFrame({"a": [1]}), folder / "table2", provenance())
    write_record(pd.DataFrame({"a": [1]}), folder / "table4",
                 provenance(git_commit=OLDER_COMMIT, git_modified=False, created_utc="2026-11-29 23:59 UTC",
                            subdatasets=["palu"]))
    (folder / "runs").mkdir()
    write_record(pd.DataFrame({"a": [1]}), folder / "runs" / "inner", provenance(created_utc="2027-01-01 00:00 UTC"))
    (folder / "settings.json").write_text('{"not": "a record"}')
    executed_notebook(tmp_path / "book" / "sections" / "01_study_areas.ipynb",
                      {"profile": "demo", "wall_time_s": 130.0, "executed_utc": "2026-11-30 02:11 UTC"})
    return tmp_path


def statuses(root: Path, names: list[str], profile: str = "demo") -> list[SectionStatus]:
    return section_statuses(root, names, profile=profile, results_dir=Path("results"),
                            sections_dir=Path("book") / "sections")


def test_a_run_section_and_one_not_run(repo):
    ran, not_run = statuses(repo, ["01_study_areas", "05_benchmarks"])
    assert ran == SectionStatus(
        section="{doc}`/book/sections/01_study_areas`",
        ran="yes: 2 records (1 of them from another commit)",  # runs/ holds work, not records of the page
        data=(DataPart("demo data, synthetic; 2 sub-datasets", "hokkaido, palu"),),  # table4 is of an older run
        profile="demo",
        commit="0123456789 + local changes",
        date="2026-11-30 02:10 UTC",
        wall_time="2.2 min",
    )
    assert not_run == SectionStatus("05_benchmarks", NOT_RUN, (), "demo", "—", "—", "—")


def test_the_board_is_written_as_a_three_column_table_for_the_first_page(repo):
    path = write_status(repo, "demo")
    assert path == repo / STATUS_FILE
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["| section | data | run |", "|---|---|---|"]
    assert lines[2] == ("| {doc}`/book/sections/01_study_areas` | demo data, synthetic; 2 sub-datasets (A) | "
                        "yes: 2 records (1 of them from another commit) · profile demo · "
                        "commit 0123456789 + local changes · 2026-11-30 02:10 UTC · wall time 2.2 min |")
    assert lines[3] == "| 05_benchmarks | — | not run · profile demo |"  # book/metrics is a plain page
    assert lines[4:] == ["", "Sub-datasets read:", "", "- (A) hokkaido, palu"]


def test_each_list_of_sub_datasets_is_written_once_under_the_board():
    def row(name: str, data: str, subdatasets: str) -> SectionStatus:
        return SectionStatus(name, "yes", (DataPart(data, subdatasets),), "demo", "c", "d", "—")

    two, one = "data; 2 sub-datasets", "data; 1 sub-dataset"
    board = status_markdown([row("a", two, "palu, lombok"), row("b", one, "hokkaido"), row("c", two, "palu, lombok"),
                             SectionStatus("d", "yes", (DataPart("CAS data; all 16 sub-datasets"),), "paper", "c", "d",
                                           "3 s")])
    lines = board.splitlines()
    assert [line.split(" | ")[1] for line in lines[2:6]] == [
        "data; 2 sub-datasets (A)", "data; 1 sub-dataset (B)", "data; 2 sub-datasets (A)", "CAS data; all 16 sub-datasets"]
    assert lines[2].endswith("| yes · profile demo · commit c · d |")  # no wall time: none shown
    assert lines[5].endswith("| yes · profile paper · commit c · d · wall time 3 s |")
    assert lines[6:] == ["", "Sub-datasets read:", "", "- (A) palu, lombok", "- (B) hokkaido"]


def test_a_section_is_read_from_the_profile_its_notebook_ran_with(repo):
    executed_notebook(repo / "book" / "sections" / "05_benchmarks.ipynb", {"profile": "paper", "wall_time_s": 7.0})
    write_record(pd.DataFrame({"a": [1]}), repo / "results" / "paper" / "benchmarks" / "table5",
                 provenance(git_modified=False, data_kind="CAS data", subdatasets=[]))
    (benchmarks,) = statuses(repo, ["05_benchmarks"], profile="demo")
    assert (benchmarks.ran, benchmarks.profile, benchmarks.commit, benchmarks.wall_time) == (
        "yes: 1 record", "paper", "0123456789", "7 s")
    (data,) = benchmarks.data
    assert data.data.startswith("CAS data; sub-datasets unknown (")  # /data/demo is not there to list


def test_records_without_sub_datasets_list_those_found_under_their_root(repo, make_root):
    data_root = make_root({"palu": 1, "Lombok": 1}, size=64)
    folder = repo / "results" / "demo" / "benchmarks"
    # an older record: no sub-datasets and no source, so the source is the one whose label for the root is its own
    write_record(pd.DataFrame({"a": [1]}), folder / "table5",
                 provenance(data_root=str(data_root), data_kind="CAS data", subdatasets=[], source={}))
    (benchmarks,) = statuses(repo, ["05_benchmarks"])
    assert benchmarks.ran == "no executed notebook: 1 record"
    assert benchmarks.section == "05_benchmarks" and benchmarks.wall_time == "—"
    assert benchmarks.data == (DataPart("CAS data; 2 sub-datasets, all found under the root", "lombok, palu"),)


def test_a_failed_run_and_a_run_without_records_say_so(repo):
    executed_notebook(repo / "book" / "sections" / "05_benchmarks.ipynb", None)
    (failed,) = statuses(repo, ["05_benchmarks"])
    assert (failed.ran, failed.wall_time) == ("failed or interrupted (no records)", "—")
    executed_notebook(repo / "book" / "sections" / "05_benchmarks.ipynb",
                      {"profile": "demo", "wall_time_s": 11.0, "executed_utc": "2026-11-30 02:24 UTC"})
    (no_records,) = statuses(repo, ["05_benchmarks"])
    assert (no_records.ran, no_records.data, no_records.date, no_records.wall_time) == (
        "yes (no records)", (), "2026-11-30 02:24 UTC", "11 s")


def test_a_run_on_every_sub_dataset_is_summed_up_and_bars_are_escaped(repo):
    from landslide_core.sources.cas import subdatasets

    keys = sorted(s.key for s in subdatasets())
    write_record(pd.DataFrame({"a": [1]}), repo / "results" / "demo" / "study_areas" / "table2",
                 provenance(data_kind="CAS data", subdatasets=keys, created_utc="2026-12-01 00:00 UTC"))
    (study_areas,) = statuses(repo, ["01_study_areas"])
    assert len(keys) == 16 and study_areas.data == (DataPart("CAS data; all 16 sub-datasets"),)
    row = SectionStatus("s", "yes", (DataPart("x | y"),), "demo", "c", "d", "w")
    assert status_markdown([row]).splitlines()[2] == r"| s | x \| y | yes · profile demo · commit c · d · wall time w |"


SAMPLE_AT = "/repo/data/sample"


def test_a_page_with_a_part_on_the_real_sample_names_both_data(repo):
    folder = repo / "results" / "demo" / "study_areas"
    write_record(pd.DataFrame({"a": [1]}), folder / "sample_table2",
                 provenance(data_root=SAMPLE_AT, data_kind="CAS sample, real", subdatasets=["hokkaido"],
                            created_utc="2026-11-30 02:09 UTC"))
    (study_areas,) = statuses(repo, ["01_study_areas"])
    assert study_areas.ran == "yes: 3 records (1 of them from another commit)"
    assert study_areas.data == (DataPart("demo data, synthetic; 2 sub-datasets", "hokkaido, palu"),
                                DataPart("CAS sample, real; 1 sub-dataset", "hokkaido"))  # main data first
    board = status_markdown([study_areas]).splitlines()
    assert board[2].startswith("| {doc}`/book/sections/01_study_areas` | demo data, synthetic; 2 sub-datasets (A) + "
                               "CAS sample, real; 1 sub-dataset (B) | yes: 3 records")
    assert board[4:] == ["Sub-datasets read:", "", "- (A) hokkaido, palu", "- (B) hokkaido"]


def test_records_of_an_earlier_run_do_not_name_their_data(repo):
    """A sample record left by a run before the page's latest (e.g. one with ``real_sample = True``) is not shown."""
    folder = repo / "results" / "demo" / "study_areas"
    write_record(pd.DataFrame({"a": [1]}), folder / "sample_table2",
                 provenance(data_root=SAMPLE_AT, data_kind="CAS sample, real", subdatasets=["hokkaido"],
                            created_utc="2026-11-30 02:07 UTC"))  # the latest run started at 02:08 (02:11 − 130 s)
    (study_areas,) = statuses(repo, ["01_study_areas"])
    assert study_areas.data == (DataPart("demo data, synthetic; 2 sub-datasets", "hokkaido, palu"),)
    executed_notebook(repo / "book" / "sections" / "01_study_areas.ipynb", None)  # failed: every record counts
    (failed,) = statuses(repo, ["01_study_areas"])
    assert [part.data for part in failed.data] == ["demo data, synthetic; 2 sub-datasets",
                                                   "CAS sample, real; 1 sub-dataset"]
    assert failed.data[0].subdatasets == "hokkaido, palu"  # table4 (palu) adds none
