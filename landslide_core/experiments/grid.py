"""A grid of training runs as independent jobs: one (model, group, seed) cell per job, on a scheduler or this machine.

A cell trains and evaluates in the folder :func:`~.table5.run_folder` names, with
the split manifest :func:`~.table5.run_grid` uses, so the benchmarks page reads
back what the jobs wrote as if it had trained them itself. Jobs go through
``submitit``: to Slurm (one job per cell; with several GPUs, one task per GPU
joined as a DDP run), or to its local executor, which starts processes on this
machine and of which :func:`submit` keeps at most one cell per slot (a GPU, or a
share of the CPU cores) running. A job stopped by preemption or its time limit is
requeued by submitit and resumes from the cell's ``last.pt``, as does a failed or
killed cell when it is submitted again.

Files in a cell's folder besides the run's own: ``job.json`` (the last job that
was sent for it) and ``attempts.jsonl`` (one line per job start, with the epochs
already done then: a resumed job shows them).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import submitit
import torch

from ..train.config import TrainConfig
from ..train.loop import HISTORY_FILE
from .jobs import Scheduler, now_utc, submit_work
from .runs import SCORES_FILE, train_and_evaluate
from .table5 import prune_checkpoints, run_folder

__all__ = [
    "ATTEMPTS_FILE", "DONE", "JOB_FILE", "MISSING", "QUEUED", "RUNNING", "Cell", "CellJob", "Scheduler", "attempts",
    "cell_state", "grid_cells", "grid_table", "run_cell", "submit",
]

JOB_FILE, ATTEMPTS_FILE = "job.json", "attempts.jsonl"
DONE, RUNNING, QUEUED, MISSING = "done", "running", "queued", "missing"
_SLURM_ACTIVE = {"RUNNING", "COMPLETING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED", "STAGE_OUT"}


@dataclass(frozen=True)
class Cell:
    """One (model, group, seed) of a grid: its full training configuration and where it trains."""

    index: int
    config: TrainConfig
    folder: Path
    manifest: Path
    """The seed's split manifest, shared by every cell of that seed (written before any cell runs)."""
    keep_checkpoint: bool = True
    """Keep ``best.pt`` once evaluated (the page shows this cell's predictions); else only scores and history."""

    @property
    def label(self) -> str:
        """``model on group, seed N``."""
        return f"{self.config.model} on {self.config.group}, seed {self.config.seed}"


def grid_cells(runs_dir: Path, configs: Sequence[TrainConfig],
               keep: Callable[[str, str, int], bool] | None = None) -> list[Cell]:
    """The cells of a grid, numbered from 0 in the order of ``configs``.

    Args:
        runs_dir: The folder that holds every cell's run folder and the per-seed manifests ``split-seed<N>.csv``.
        configs: One training configuration per cell (model, group and seed set).
        keep: ``keep(model, group, seed)``: whether a cell keeps its best checkpoint; ``None`` keeps every one.
    """
    return [Cell(i, config, run_folder(runs_dir, config.model, config.group, config.seed),
                 runs_dir / f"split-seed{config.seed}.csv",
                 True if keep is None else keep(config.model, config.group, config.seed))
            for i, config in enumerate(configs)]


def _epochs_done(folder: Path) -> int:
    history = folder / HISTORY_FILE
    return len(pd.read_csv(history)) if history.is_file() else 0


def _local_job_alive(job_id: str) -> bool:
    """Whether the local submitit controller with this process id still runs (and is one: pids are reused)."""
    cmdline = Path("/proc", job_id, "cmdline")
    if cmdline.parent.is_dir():
        return b"submitit" in cmdline.read_bytes()
    try:
        os.kill(int(job_id), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def _job_state(job: dict[str, Any]) -> str | None:
    """``running`` or ``queued`` while the cell's last job is alive; ``None`` once it has ended."""
    if job.get("executor") == "local":
        return RUNNING if _local_job_alive(str(job["job_id"])) else None
    try:
        state = submitit.SlurmJob(folder=job["jobs_folder"], job_id=str(job["job_id"])).state
    except Exception as error:  # sacct missing or failing: say so rather than guess  # noqa: BLE001
        return f"{RUNNING}? (Slurm job {job['job_id']}: state unknown, {type(error).__name__})"
    if state == "PENDING":
        return QUEUED
    return RUNNING if state in _SLURM_ACTIVE else None


def cell_state(cell: Cell) -> dict[str, Any]:
    """The cell's state (``done``, ``running``, ``queued`` or ``missing``), its epochs done and its last job."""
    epochs = f"{_epochs_done(cell.folder)}/{cell.config.epochs}"
    job_file = cell.folder / JOB_FILE
    job = json.loads(job_file.read_text(encoding="utf-8")) if job_file.is_file() else {}
    if (cell.folder / SCORES_FILE).is_file():
        state = DONE
    else:
        state = (_job_state(job) if job else None) or MISSING
    return {"cell": cell.index, "model": cell.config.model, "group": cell.config.group, "seed": cell.config.seed,
            "state": state, "epochs": epochs, "job": f"{job['executor']} {job['job_id']}" if job else "",
            "folder": str(cell.folder)}


def grid_table(cells: Sequence[Cell]) -> pd.DataFrame:
    """Every cell's :func:`cell_state`, one row per cell."""
    return pd.DataFrame([cell_state(cell) for cell in cells]).set_index("cell")


def attempts(folder: Path) -> list[dict[str, Any]]:
    """The job starts recorded in a cell's ``attempts.jsonl`` (oldest first)."""
    path = folder / ATTEMPTS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def run_cell(cell: Cell, data_root: str | Path, *, progress: bool = True, job_id: str = "") -> None:
    """Train and evaluate one cell in its folder; a finished cell is left alone, an interrupted one resumes.

    Under several processes (torchrun, or a submitit job with one task per GPU) every process trains; only
    rank 0 records the attempt, evaluates and prunes checkpoints.
    """
    if (cell.folder / SCORES_FILE).is_file():
        return
    if _rank() == 0:
        cell.folder.mkdir(parents=True, exist_ok=True)
        line = {"job": job_id or "foreground", "host": socket.gethostname(), "started_utc": now_utc(),
                "epochs_done_at_start": _epochs_done(cell.folder),
                "world_size": int(os.environ.get("WORLD_SIZE", "1"))}
        with (cell.folder / ATTEMPTS_FILE).open("a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")
    train_and_evaluate(cell.config, data_root, cell.folder, cell.manifest, progress and _rank() == 0)
    if _rank() == 0:
        prune_checkpoints(cell.folder, cell.keep_checkpoint)


class CellJob(submitit.helpers.Checkpointable):
    """What a submitit job runs: one cell. Requeued on preemption or timeout, it resumes from ``last.pt``."""

    def __init__(self, cell: Cell, data_root: Path, threads: int | None = None) -> None:
        self.cell, self.data_root, self.threads = cell, Path(data_root), threads

    def __call__(self) -> str:
        """Run the cell (joining the job's tasks as one DDP run when there are several); return its folder."""
        environment = submitit.JobEnvironment()
        if environment.num_tasks > 1:
            # Every task sees the job's GPUs; resolve_device picks its own by LOCAL_RANK.
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        run_cell(self.cell, self.data_root, progress=False, job_id=environment.job_id)
        return str(self.cell.folder)


def submit(cells: Sequence[Cell], data_root: str | Path, jobs_dir: str | Path, scheduler: Scheduler, *,
           wait: bool = False, poll_s: float = 2.0, echo: Callable[[str], None] = print) -> list[str]:
    """Send the cells that are not done to the scheduler (:func:`~.jobs.submit_work`); one line per cell sent.

    Raises:
        GridError: Slurm is not reachable, or a local run asks for more GPUs per job than are visible.
    """
    return submit_work([_CellWork(cell, Path(data_root)) for cell in cells], jobs_dir, scheduler,
                       name="landslide-grid", wait=wait, poll_s=poll_s, echo=echo)


@dataclass(frozen=True)
class _CellWork:
    """A cell as a piece of :mod:`.jobs` work."""

    cell: Cell
    data_root: Path
    kind: str = "cell"

    @property
    def index(self) -> int:
        return self.cell.index

    @property
    def label(self) -> str:
        return self.cell.label

    @property
    def job_file(self) -> Path:
        return self.cell.folder / JOB_FILE

    def done(self) -> bool:
        return (self.cell.folder / SCORES_FILE).is_file()

    def job(self, threads: int | None) -> CellJob:
        return CellJob(self.cell, self.data_root, threads)
