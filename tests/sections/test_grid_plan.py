"""`landslide-core grid` plans the benchmarks page's own grid: same cells, same folders, same settings."""

from __future__ import annotations

import json

import pytest

from landslide_core.book.page import results_folder
from landslide_core.book.profiles import get_profile
from landslide_core.cli import main
from landslide_core.errors import DatasetNotFoundError, GridError, ProfileError
from landslide_core.sections.benchmarks import GridSettings, grid_configs, runs_directory
from landslide_core.sections.grid import plan_grid
from landslide_core.sources.cas.demo import write_demo_data
from tests.train.test_training import TINY_MODEL, one_thread  # noqa: F401 (one_thread: autouse fixture)


def test_the_demo_plan_is_the_pages_grid_in_the_pages_folder():
    plan = plan_grid("demo")
    assert plan.runs_dir == runs_directory(results_folder("demo", "benchmarks"), None) / "random-split"
    configs = grid_configs(plan.settings)
    assert [c.config for c in plan.cells] == configs and [c.index for c in plan.cells] == list(range(len(configs)))
    # per_model of the demo profile: U-Net on UAV and SAT only, for 12 epochs
    unet = [c.config for c in plan.cells if c.config.model == "unet"]
    assert [c.group for c in unet] == ["UAV", "SAT"] and {c.epochs for c in unet} == {12}
    assert plan.cells[0].folder.parent == plan.runs_dir and plan.cells[0].spec.manifest == plan.runs_dir / "split-seed0.csv"


def test_the_paper_plan_is_36_runs_and_needs_a_data_root(tmp_path):
    with pytest.raises(ProfileError, match="-p data_root"):
        plan_grid("paper")
    with pytest.raises(DatasetNotFoundError, match="no sub-dataset folder found"):  # a cell is named by its data
        plan_grid("paper", {"data_root": str(tmp_path), "runs_dir": str(tmp_path / "runs")})
    root = write_demo_data(tmp_path / "demo", subdatasets=["longxi-uav", "hokkaido"], tiles_per_subdataset=4,
                           progress=False)
    plan = plan_grid("paper", {"data_root": str(root), "runs_dir": str(tmp_path / "runs")})
    assert len(plan.cells) == 36 and plan.data_root == root
    assert len({c.folder for c in plan.cells}) == 36 and (tmp_path / "runs" / "random-split" / "split-seed2.csv").is_file()
    assert {(c.config.epochs, c.config.crop_size, c.config.device) for c in plan.cells} == {(50, None, "cuda")}


def test_the_rehearsal_plan_is_the_paper_grid_cut_to_one_step_on_the_cpu(tmp_path):
    root = write_demo_data(tmp_path / "demo", subdatasets=["longxi-uav", "hokkaido"], tiles_per_subdataset=4,
                           progress=False)
    plan = plan_grid("rehearsal", {"data_root": str(root), "runs_dir": str(tmp_path / "runs")})
    seeds = get_profile("rehearsal").sections["benchmarks"]["seeds"]
    assert len(plan.cells) == 12 * len(seeds) and {c.config.seed for c in plan.cells} == set(seeds)
    assert {(c.config.epochs, c.config.steps_per_epoch, c.config.crop_size, c.config.val_crop_size, c.config.device,
             c.config.batch_size, c.config.pretrained) for c in plan.cells} == {(1, 1, 32, 32, "cpu", 16, False)}


def test_a_bad_override_or_cell_number_is_refused_with_the_fix():
    with pytest.raises(GridError, match="not parameters of the benchmarks page"):
        plan_grid("demo", {"epoch": 3})
    with pytest.raises(GridError, match="cells 0 to 5"):
        plan_grid("demo").cell(6)


def test_settings_are_read_from_a_pages_parameters_alone():
    values = {"models": ["unet"], "groups": ["SAT"], "epochs": 1, "batch_size": 2, "crop_size": 64,
              "val_crop_size": None, "seeds": [0], "pretrained": False, "device": "cpu", "num_workers": 0,
              "keep_checkpoints": True, "data_root": "/elsewhere", "train": False}
    assert GridSettings.from_parameters(values).models == ("unet",)


@pytest.mark.slow
def test_one_cell_runs_in_the_foreground_and_the_listing_shows_it_done(tmp_path, capsys):
    root = write_demo_data(tmp_path / "demo", subdatasets=["hokkaido"], tiles_per_subdataset=4, progress=False)
    options = ["--profile", "demo", "-p", "data_root", str(root), "-p", "runs_dir", str(tmp_path / "runs"),
               "-p", "models", json.dumps([TINY_MODEL["model"]]), "-p", "groups", '["SAT"]', "-p", "per_model", "{}",
               "-p", "epochs", "1", "-p", "batch_size", "2"]
    assert main(["grid", *options]) == 0
    assert "1 cells in" in capsys.readouterr().out
    assert main(["grid", *options, "--cell", "0", "--quiet"]) == 0
    assert main(["grid", *options]) == 0
    listing = capsys.readouterr().out
    assert "1 done" in listing and "1/1" in listing
    folder = next((tmp_path / "runs" / "random-split").glob("*-*/config.json")).parent
    assert folder.name.rsplit("-", 1)[1] in listing  # each cell's configuration digest is shown
    assert main(["grid", *options, "-p", "epochs", "2"]) == 0  # another configuration: another cell, not done
    assert "1 missing" in capsys.readouterr().out
    assert main(["grid", *options, "--cell", "3"]) == 1
    assert "no cell 3" in capsys.readouterr().err
