"""The built demo results, packed, travel to a checkout without results and rebuild its pages there without training.

Runs after `make book` (``make test`` orders it so). The other checkout is a copy of this working tree's files
(tracked and not ignored: what a fresh clone of it holds) in a temporary folder; it gets the archive and executes
the four sections that read runs (benchmarks, validation, cross-dataset, inventory) with ``-p train false`` (the
benchmarks page then lists a missing run instead of training it; the other pages read their finished runs back),
and no checkpoint may appear. The other sections train nothing and read no run.
"""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from landslide_core.book.archive import pack
from landslide_core.book.page import results_folder
from landslide_core.book.runner import repository_root
from tests.conftest import working_tree_copy

RUN_READERS = ("benchmarks", "validation", "cross-dataset", "inventory")


@pytest.mark.slow
def test_an_unpacked_archive_rebuilds_the_pages_that_read_runs_and_table5_without_training(tmp_path):
    table = results_folder("demo", "benchmarks") / "table5_run.csv"
    if not table.is_file():
        pytest.fail(f"{table} is missing: build the demo book first (make book)")
    archive = pack("demo", tmp_path / "results-demo.tar.gz")
    laptop = working_tree_copy(tmp_path / "laptop")
    assert not (laptop / "results").exists()
    command = [sys.executable, "-m", "landslide_core"]
    subprocess.run([*command, "results", "unpack", str(archive)], cwd=laptop, check=True)
    assert not list((laptop / "results").rglob("*.pt"))
    rebuilt = laptop / table.relative_to(repository_root())
    rebuilt.unlink()  # unpacked with the rest: the section run there must write it again, in that checkout
    sections = [option for name in RUN_READERS for option in ("--section", name)]
    run = subprocess.run([*command, "book", "--execute-only", *sections, "-p", "train", "false"],
                         cwd=laptop, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not list((laptop / "results").rglob("*.pt")), "a run was trained instead of read back"
    pd.testing.assert_frame_equal(pd.read_csv(rebuilt), pd.read_csv(table))
    for section, name in (("validation", "table6"), ("cross_dataset", "table7"), ("cross_dataset", "transfer_iou")):
        ours = results_folder("demo", section) / f"{name}.csv"
        pd.testing.assert_frame_equal(pd.read_csv(laptop / ours.relative_to(repository_root())), pd.read_csv(ours))
    page = (laptop / "book" / "sections" / "05_benchmarks.ipynb").read_text(encoding="utf-8")
    assert "runs of the grid have not finished" not in page and "No example predictions" in page
    inventory = (laptop / "book" / "sections" / "08_inventory.ipynb").read_text(encoding="utf-8")
    assert "No inventory map" in inventory, "without checkpoints the inventory page says why it maps nothing"
