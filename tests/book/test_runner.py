"""The book runner: jupytext source → papermill with parameters; failures name notebook, cell and error."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from landslide_core.book.runner import (
    SectionFailedError,
    build_book,
    execute_section,
    repository_root,
    sections,
    select_sections,
)
from landslide_core.errors import LandslideCoreError

SOURCE = """# %% [markdown]
# # A section

# %% tags=["parameters"]
data_root = None
factor = 1

# %%
result = {factor} * 21
print("answer", result * factor)
"""


@pytest.fixture
def book(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n"
        "  - file: book/sections/good\n  - file: book/other\n  - file: book/sections/bad\n"
    )
    (tmp_path / "notebooks" / "good.py").write_text(SOURCE.format(factor="2"))
    (tmp_path / "notebooks" / "bad.py").write_text(SOURCE.format(factor="undefined_name"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_sections_are_read_from_the_toc_in_order(book):
    assert repository_root() == book
    assert sections(book) == ["good", "bad"]


@pytest.mark.slow
def test_a_section_runs_with_injected_parameters(book):
    output = execute_section(book, "good", {"data_root": "/somewhere", "factor": 3})
    assert output == book / "book" / "sections" / "good.ipynb"
    cells = nbformat.read(output, as_version=4).cells
    injected = [c for c in cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "factor = 3" in injected[0].source
    assert "answer 126\n" in "".join(o.get("text", "") for c in cells for o in c.get("outputs", []))


@pytest.mark.slow
def test_a_failing_section_names_the_notebook_cell_and_error(book):
    with pytest.raises(SectionFailedError) as info:
        execute_section(book, "bad", {"data_root": "/somewhere"})
    message = str(info.value)
    assert "section 'bad'" in message and str(book / "notebooks" / "bad.py") in message
    assert "`result = undefined_name * 21`" in message and "NameError" in message
    kept = book / "book" / "sections" / "bad.ipynb"
    assert f"kept at {kept}" in message and kept.is_file()


def test_a_section_without_source_is_named(book):
    (book / "notebooks" / "good.py").unlink()
    with pytest.raises(Exception, match="section 'good' in _toc.yml has no source notebook"):
        execute_section(book, "good", {})


def _texts(notebook: Path) -> str:
    cells = nbformat.read(notebook, as_version=4).cells
    return "".join(o.get("text", "") for c in cells for o in c.get("outputs", []))


@pytest.mark.slow
def test_an_unchanged_section_is_skipped_and_a_changed_parameter_reruns_it(book, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (book / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/sections/01_good\n")
    (book / "notebooks" / "good.py").rename(book / "notebooks" / "01_good.py")
    messages: list[str] = []
    run = dict(parameters={"data_root": str(data)}, only=["good"], execute_only=True, echo=messages.append)

    build_book(**run)
    assert "answer 42\n" in _texts(book / "book" / "sections" / "01_good.ipynb")
    build_book(**run)
    assert "unchanged" in messages[-1] and "not executed again" in messages[-1]

    build_book(**{**run, "parameters": {"data_root": str(data), "factor": 3}})
    assert "answer 126\n" in _texts(book / "book" / "sections" / "01_good.ipynb")
    assert messages[-1].startswith("section 01_good: done")

    (data / "new.txt").write_text("new input")  # a change in the data reruns the section
    build_book(**{**run, "parameters": {"data_root": str(data), "factor": 3}})
    assert messages[-1].startswith("section 01_good: done")

    build_book(**{**run, "parameters": {"data_root": str(data), "factor": 3}, "force": True})
    assert messages[-1].startswith("section 01_good: done")


def test_parameters_no_section_declares_are_refused(book, tmp_path):
    with pytest.raises(LandslideCoreError, match="facter are not declared by any section run.*declared: data_root, factor"):
        build_book(parameters={"data_root": str(tmp_path), "facter": 3}, only=["good"], execute_only=True)


def test_sections_are_chosen_by_short_name(book):
    names = ["01_study_areas", "02_dataset", "05_benchmarks"]
    assert select_sections(names, ["study-areas", "05_benchmarks"]) == ["01_study_areas", "05_benchmarks"]
    assert select_sections(names, None) == names
    with pytest.raises(LandslideCoreError, match="unknown section.*study_area.*sections in _toc.yml: study_areas, dataset"):
        select_sections(names, ["study_area"])
