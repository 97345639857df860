"""Submitting to Slurm, against stand-in `sbatch` and `sacct` programs: the job array's options and the cells' states."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from landslide_core.data.splits import load_or_make_split
from landslide_core.experiments.grid import DONE, MISSING, QUEUED, RUNNING, Scheduler, grid_cells, grid_table, submit
from landslide_core.sources.cas.demo import write_demo_data
from tests.train.test_training import tiny_config

SBATCH = """#!/bin/sh
cp "$1" "{folder}/submitted.sh"
echo "Submitted batch job 4242"
"""
SACCT = """#!/bin/sh
printf 'JobID|State|NodeList\\n4242_0|RUNNING|node1\\n4242_1|PENDING|\\n4242_2|FAILED|node2\\n'
"""


@pytest.fixture
def demo_root(tmp_path: Path) -> Path:
    """A small demo data root with the seed-0 split manifest written under ``tmp_path/runs``, as the planner does."""
    root = write_demo_data(tmp_path / "data", subdatasets=["hokkaido"], tiles_per_subdataset=2, progress=False)
    load_or_make_split(root, tmp_path / "runs" / "split-seed0.csv", seed=0, val_fraction=0.5)
    return root


@pytest.fixture
def slurm(tmp_path, monkeypatch) -> Path:
    """A folder of stand-in Slurm commands put first on PATH; ``sbatch`` keeps the script it was given there."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", SBATCH.format(folder=bin_dir)), ("sacct", SACCT), ("srun", "#!/bin/sh\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_missing_cells_go_to_slurm_as_one_job_array_with_the_schedulers_options(slurm, tmp_path, demo_root):
    configs = [tiny_config(group=group, seed=0) for group in ("UAV", "SAT", "UAV&SAT")]
    cells = grid_cells(tmp_path / "runs", configs, demo_root, split="random")
    (cells[1].folder).mkdir(parents=True)
    (cells[1].folder / "scores.csv").write_text("done\n")  # a finished cell is not submitted again
    scheduler = Scheduler(partition="gpu", account="landslides", gpus_per_job=2, time_min=720, cpus_per_job=16,
                          slurm_options={"qos": "high"})
    lines = submit(cells, tmp_path / "runs" / "jobs", scheduler, echo=lambda line: None)
    assert lines == [f"cell 0 ({cells[0].label}): Slurm job 4242_0", f"cell 2 ({cells[2].label}): Slurm job 4242_1"]
    script = (slurm / "submitted.sh").read_text()
    for option in ("--array=0-1", "--partition=gpu", "--account=landslides", "--gpus-per-node=2",
                   "--ntasks-per-node=2", "--cpus-per-task=16", "--time=720", "--qos=high", "--nodes=1"):
        assert f"#SBATCH {option}" in script, option
    table = grid_table(cells)  # sacct says: 4242_0 running, 4242_1 pending
    assert table["state"].tolist() == [RUNNING, DONE, QUEUED]
    assert table["job"].tolist() == ["slurm 4242_0", "", "slurm 4242_1"]


def test_a_cell_whose_slurm_job_ended_without_scores_is_missing(slurm, tmp_path, demo_root):
    cells = grid_cells(tmp_path / "runs", [tiny_config(group="SAT", seed=0)], demo_root, split="random")
    cells[0].folder.mkdir(parents=True)
    (cells[0].folder / "job.json").write_text(
        f'{{"executor": "slurm", "job_id": "4242_2", "jobs_folder": "{tmp_path}/jobs/4242_2"}}')
    assert grid_table(cells)["state"].tolist() == [MISSING]  # sacct: FAILED


def test_without_slurm_the_submission_says_what_to_do(tmp_path, monkeypatch, demo_root):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch anywhere
    cells = grid_cells(tmp_path / "runs", [tiny_config(group="SAT", seed=0)], demo_root, split="random")
    with pytest.raises(Exception, match="--executor local") as error:
        submit(cells, tmp_path / "jobs", Scheduler(), echo=lambda line: None)
    assert type(error.value).__name__ == "GridError"
