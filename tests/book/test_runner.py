"""The book runner: jupytext source → papermill with parameters; failures name notebook, cell and error."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from landslide_core.book import runner
from landslide_core.book.fingerprint import METADATA_KEY
from landslide_core.book.runner import (
    SAMPLE_ROOT,
    SectionFailedError,
    build_book,
    execute_section,
    fold_injected_parameters,
    repository_root,
    resolve_data_root,
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
    assert injected[0].metadata["tags"] == ["injected-parameters", "hide-input"]  # folded on the page
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


def test_the_injected_parameters_cell_is_folded_and_no_other(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("data_root = None", metadata={"tags": ["parameters", "hide-input"]}),
        nbformat.v4.new_code_cell("data_root = '/a/long/path'", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("run.show(table)"),
        nbformat.v4.new_markdown_cell("# injected-parameters", metadata={"tags": ["remove-cell"]}),
    ])
    fold_injected_parameters(notebook)
    fold_injected_parameters(notebook)  # a second pass adds nothing
    assert [c.metadata.get("tags") for c in notebook.cells] == [
        ["parameters", "hide-input"], ["injected-parameters", "hide-input"], None, ["remove-cell"]]
    nbformat.write(notebook, tmp_path / "folded.ipynb")  # still a valid notebook
    assert nbformat.read(tmp_path / "folded.ipynb", as_version=4).cells[1].metadata["tags"][-1] == "hide-input"


def test_the_injected_values_are_rewritten_short_enough_for_the_page_and_assign_the_same_values():
    values = {"data_root": "/work/" + "x" * 80, "per_model": {"deeplabv3plus": {"groups": ["SAT", "UAV&SAT"]},
              "fcn": {"groups": ["SAT"], "epochs": 4, "lr": 0.01}}, "seeds": [0, 1, 2], "pretrained": False,
              "val_crop_size": None}
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "# Parameters\n" + "\n".join(f"{k} = {v!r}" for k, v in values.items()),
        metadata={"tags": ["injected-parameters"]})])
    fold_injected_parameters(notebook, values)
    source = notebook.cells[0].source
    assert source.startswith("# Parameters\n") and notebook.cells[0].metadata["tags"][-1] == "hide-input"
    long = [line for line in source.splitlines() if len(line) > 75]
    assert long == ["data_root = '/work/" + "x" * 80 + "'"]  # one string cannot be wrapped
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - the cell as nbval runs it
    assert {k: namespace[k] for k in values} == values


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


def test_a_section_showing_the_real_sample_depends_on_the_samples_files(book, tmp_path, monkeypatch):
    """With ``real_sample`` the fingerprint covers the sample's files (size, mtime) too; without it, it does not."""
    (book / "notebooks" / "good.py").write_text(
        '# %% tags=["parameters"]\ndata_root = None\nreal_sample = True\n\n# %%\nprint(real_sample)\n')
    data = tmp_path / "tiles"
    data.mkdir()
    tile = book / SAMPLE_ROOT / "tile.tif"
    tile.parent.mkdir(parents=True)
    tile.write_bytes(b"real")
    fingerprints: list[str] = []
    monkeypatch.setattr(runner, "execute_section", lambda *_, fingerprint, **__: fingerprints.append(fingerprint))

    def fingerprint(real_sample: bool) -> str:
        build_book(parameters={"data_root": str(data), "real_sample": real_sample}, only=["good"],
                   execute_only=True, echo=lambda _: None)
        return fingerprints[-1]

    shown, left_out = fingerprint(True), fingerprint(False)
    assert shown != left_out and fingerprint(True) == shown
    times = (tile.stat().st_atime_ns, tile.stat().st_mtime_ns + 10**9)
    os.utime(tile, ns=times)
    touched = fingerprint(True)
    assert touched != shown
    tile.write_bytes(b"real tile")
    os.utime(tile, ns=times)  # the size alone changed
    assert fingerprint(True) not in (shown, touched)
    assert fingerprint(False) == left_out  # the sample is no input of a section that leaves it out


def test_parameters_no_section_declares_are_refused(book, tmp_path):
    with pytest.raises(LandslideCoreError, match="facter are not declared by any section run.*declared: data_root, factor"):
        build_book(parameters={"data_root": str(tmp_path), "facter": 3}, only=["good"], execute_only=True)


def test_sections_are_chosen_by_short_name(book):
    names = ["01_study_areas", "02_dataset", "05_benchmarks"]
    assert select_sections(names, ["study-areas", "05_benchmarks"]) == ["01_study_areas", "05_benchmarks"]
    assert select_sections(names, None) == names
    with pytest.raises(LandslideCoreError, match="unknown section.*study_area.*sections in _toc.yml: study_areas, dataset"):
        select_sections(names, ["study_area"])


def test_a_kernel_started_by_the_runner_works_in_the_checkout_it_builds(tmp_path, monkeypatch):
    from landslide_core.book.runner import ROOT_VARIABLE, repository_root

    (tmp_path / "_toc.yml").write_text("root: intro\n")
    monkeypatch.setenv(ROOT_VARIABLE, str(tmp_path))
    assert repository_root() == tmp_path  # not the checkout the package was installed from


def test_a_relative_data_root_is_read_from_the_repository_root_not_the_kernels_folder(tmp_path, monkeypatch):
    """Kernels run in book/sections, so `-p data_root data/sample` must mean the checkout's data/sample."""
    (tmp_path / "_toc.yml").write_text("root: intro\n", encoding="utf-8")
    (tmp_path / "data" / "sample").mkdir(parents=True)
    kernel_folder = tmp_path / "book" / "sections"
    kernel_folder.mkdir(parents=True)
    monkeypatch.setenv(runner.ROOT_VARIABLE, str(tmp_path))
    monkeypatch.chdir(kernel_folder)
    assert resolve_data_root("data/sample") == (tmp_path / "data" / "sample").resolve()
    assert resolve_data_root(str(tmp_path / "elsewhere")) == (tmp_path / "elsewhere").resolve()


TIMED = """# %% tags=["parameters"]
data_root = None
pause = 0.0

# %%
import os, time
started = time.time()
time.sleep(pause)
print("threads", os.environ.get("OMP_NUM_THREADS"), "from", started, "to", time.time(),
      "waiting", os.environ.get("OMP_WAIT_POLICY"))
"""


def _timed_book(book: Path, sections: dict[str, str]) -> None:
    """A book of these sections (name → source), in this order."""
    entries = "".join(f"  - file: book/sections/{name}\n" for name in sections)
    (book / "_toc.yml").write_text(f"format: jb-book\nroot: book/intro\nchapters:\n{entries}")
    for name, source in sections.items():
        (book / "notebooks" / f"{name}.py").write_text(source)


def _printed(book: Path, name: str) -> list[str]:
    return _texts(book / "book" / "sections" / f"{name}.ipynb").split()


@pytest.mark.slow
def test_sections_run_side_by_side_on_a_fixed_thread_count_on_the_cpu_and_a_share_of_the_cores_on_a_gpu(book, tmp_path, monkeypatch):
    on_device = TIMED.replace("pause = 0.0", "pause = 0.0\ndevice = 'cpu'")
    _timed_book(book, {"a": on_device, "b": on_device})
    monkeypatch.setattr(runner, "available_cores", lambda: 2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    messages: list[str] = []
    build_book(parameters={"data_root": str(tmp_path), "pause": 4.0}, execute_only=True, jobs=2, echo=messages.append)
    a, b = _printed(book, "a"), _printed(book, "b")
    assert a[1] == b[1] == str(runner.CPU_THREADS)  # on the CPU a fixed thread count, however many run at once
    assert a[7] == b[7] == "PASSIVE"  # threads waiting for their siblings sleep: they do not spin on shared cores
    assert float(a[3]) < float(b[5]) and float(b[3]) < float(a[5]), "the two sections did not overlap in time"
    assert f"executing 2 sections, 2 at a time, {runner.CPU_THREADS} CPU thread(s) each" in messages
    assert "OMP_NUM_THREADS" not in os.environ  # the builder's own environment is left as it was
    assert "OMP_WAIT_POLICY" not in os.environ
    assert Path.cwd() == book  # and its working folder: each kernel is given its own
    # Sections on a GPU side by side: the cores shared between the kernels.
    monkeypatch.setattr(runner, "available_cores", lambda: 8)
    build_book(parameters={"data_root": str(tmp_path), "device": "cuda"}, execute_only=True, jobs=2,
               echo=messages.append)
    assert _printed(book, "a")[1] == _printed(book, "b")[1] == "4"


@pytest.mark.slow
def test_the_cpu_default_runs_sections_side_by_side_on_a_fixed_thread_count_and_a_gpu_profile_one_at_a_time(book, tmp_path, monkeypatch):
    """Trainings side by side on one GPU would share its memory: a section on CUDA makes the default one at a time."""
    _timed_book(book, {"a": TIMED, "b": TIMED.replace("pause = 0.0", "pause = 0.0\ndevice = 'cpu'")})
    monkeypatch.setattr(runner, "available_cores", lambda: 2)
    seen: list[tuple[int, int | None]] = []
    monkeypatch.setattr(runner, "execute_sections",
                        lambda root, todo, *, jobs, threads, **_: seen.append((jobs, threads)))
    build_book(parameters={"data_root": str(tmp_path)}, execute_only=True)
    build_book(parameters={"data_root": str(tmp_path)}, execute_only=True, jobs=1, force=True)
    build_book(parameters={"data_root": str(tmp_path), "device": "cuda"}, execute_only=True)
    build_book(parameters={"data_root": str(tmp_path), "device": "cuda"}, execute_only=True, jobs=2)
    # On the CPU a fixed thread count per kernel, alone or side by side; on a GPU the kernels' own default (cores //
    # jobs when side by side, in execute_sections).
    threads = runner.CPU_THREADS
    assert seen == [(0, threads), (1, threads), (1, None), (2, None)]


@pytest.mark.slow
def test_a_failing_section_stops_new_ones_finishes_the_running_ones_and_is_named(book, tmp_path, monkeypatch):
    _timed_book(book, {"bad": SOURCE.format(factor="undefined_name"), "slow": TIMED, "late": TIMED})
    monkeypatch.setattr(runner, "available_cores", lambda: 2)
    messages: list[str] = []
    with pytest.raises(SectionFailedError, match="section 'bad'"):
        build_book(parameters={"data_root": str(tmp_path), "pause": 6.0}, execute_only=True, jobs=2,
                   echo=messages.append)
    assert _printed(book, "slow")[:1] == ["threads"], messages  # ran to its end
    assert not (book / "book" / "sections" / "late.ipynb").exists()
    assert "section late: not executed, as another section failed" in messages


def test_the_longest_sections_start_first_and_in_a_fresh_clone_the_longest_measured(tmp_path):
    """By the wall time each section last recorded; where none did, those of ``LONGEST_UNRECORDED`` first, in its
    order, then the others in the book's order (an LPT order: the build ends soonest side by side)."""
    repository = Path(runner.__file__).resolve().parents[2]
    names = runner.sections(repository)
    assert set(runner.LONGEST_UNRECORDED) <= set(names)  # the hint names sections the book has
    planned = [runner.PlannedSection(name, tmp_path / f"{name}.ipynb", {}, "", None) for name in names]
    fresh = [section.name for section in runner.start_order(tmp_path, planned)]
    assert fresh == [*runner.LONGEST_UNRECORDED, *(n for n in names if n not in runner.LONGEST_UNRECORDED)]
    executed = tmp_path / runner.SECTIONS_DIR
    executed.mkdir(parents=True)
    for name, seconds in (("02_dataset", 900.0), ("01_study_areas", 30.0)):
        page = nbformat.v4.new_notebook(metadata={METADATA_KEY: {"wall_time_s": seconds}})
        nbformat.write(page, executed / f"{name}.ipynb")
    recorded = [section.name for section in runner.start_order(tmp_path, planned)]
    assert recorded[:2] == ["02_dataset", "01_study_areas"] and recorded[2:2 + len(runner.LONGEST_UNRECORDED)] == list(
        runner.LONGEST_UNRECORDED)
