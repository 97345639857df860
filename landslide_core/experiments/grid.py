"""A grid of training runs as independent jobs: one (model, group, seed) cell per job, on a scheduler or this machine.

A cell trains and evaluates in the folder its :class:`~.runs.RunSpec` names
(:func:`~.table5.run_stem` and the digest of everything that decides its result), on its seed's split manifest,
so the benchmarks page reads back what the jobs wrote as if it had trained them
itself, and only under the same configuration. Jobs go through
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
from ..train.loop import HISTORY_FILE, run_lock
from .jobs import QUEUED, RUNNING, Scheduler, job_state, now_utc, read_job, submit_work
from .runs import DIGEST_LENGTH, SCORES_FILE, RunSpec, train_and_evaluate
from .table5 import prune_checkpoints, run_stem

__all__ = [
    "ATTEMPTS_FILE", "DONE", "JOB_FILE", "MISSING", "QUEUED", "RUNNING", "Cell", "CellJob", "Scheduler", "attempts",
    "cell_state", "grid_cells", "grid_table", "run_cell", "submit",
]

JOB_FILE, ATTEMPTS_FILE = "job.json", "attempts.jsonl"
DONE, MISSING = "done", "missing"


@dataclass(frozen=True)
class Cell:
    """One (model, group, seed) of a grid: what decides its result and where it trains."""

    index: int
    spec: RunSpec
    """Its training configuration, data, and split manifest (shared by every cell of that seed, written before any
    cell runs)."""
    folder: Path
    keep_checkpoint: bool = True
    """Keep ``best.pt`` once evaluated (the page shows this cell's predictions); else only scores and history."""

    @property
    def config(self) -> TrainConfig:
        """The cell's training configuration."""
        return self.spec.config

    @property
    def label(self) -> str:
        """``model on group, seed N``."""
        return f"{self.config.model} on {self.config.group}, seed {self.config.seed}"


def grid_cells(runs_dir: Path, configs: Sequence[TrainConfig], data_root: Path, *, split: str,
               keep: Callable[[str, str, int], bool] | None = None) -> list[Cell]:
    """The cells of a grid, numbered from 0 in the order of ``configs``.

    Args:
        runs_dir: The folder that holds every cell's run folder and the per-seed manifests ``split-seed<N>.csv``
            (which must exist: a cell's folder is named by its manifest's checksum among the rest).
        configs: One training configuration per cell (model, group and seed set).
        data_root: The tiles the cells train on.
        split: The kind of split the manifests hold (``random``, ``grouped``).
        keep: ``keep(model, group, seed)``: whether a cell keeps its best checkpoint; ``None`` keeps every one.
    """
    cells = []
    for i, config in enumerate(configs):
        spec = RunSpec(config, Path(data_root), runs_dir / f"split-seed{config.seed}.csv", split)
        cells.append(Cell(i, spec, spec.folder(runs_dir, run_stem(config.model, config.group, config.seed)),
                          True if keep is None else keep(config.model, config.group, config.seed)))
    return cells


def _epochs_done(folder: Path) -> int:
    history = folder / HISTORY_FILE
    return len(pd.read_csv(history)) if history.is_file() else 0


def cell_state(cell: Cell) -> dict[str, Any]:
    """The cell's state (``done``, ``running``, ``queued`` or ``missing``), its epochs done and its last job."""
    epochs = f"{_epochs_done(cell.folder)}/{cell.config.epochs}"
    job = read_job(cell.folder / JOB_FILE)
    if (cell.folder / SCORES_FILE).is_file():
        state = DONE
    else:
        state = (job_state(job) if job else None) or MISSING
    return {"cell": cell.index, "model": cell.config.model, "group": cell.config.group, "seed": cell.config.seed,
            "config": cell.spec.digest()[:DIGEST_LENGTH], "state": state, "epochs": epochs, "job": f"{job['executor']} {job['job_id']}" if job else "",
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


def run_cell(cell: Cell, *, progress: bool = True, job_id: str = "") -> None:
    """Train and evaluate one cell in its folder; a finished cell is left alone, an interrupted one resumes.

    Under several processes (torchrun, or a submitit job with one task per GPU) every process trains; only
    rank 0 records the attempt, evaluates and prunes checkpoints. Rank 0 holds the run folder's lock throughout, so
    a second process is refused before it records an attempt.

    Raises:
        LockHeldError: Another process is running this cell.
    """
    if (cell.folder / SCORES_FILE).is_file():
        return
    with run_lock(cell.folder, "training and evaluating"):
        if (cell.folder / SCORES_FILE).is_file():  # finished while this process waited to start
            return
        if _rank() == 0:
            line = {"job": job_id or "foreground", "host": socket.gethostname(), "started_utc": now_utc(),
                    "epochs_done_at_start": _epochs_done(cell.folder),
                    "world_size": int(os.environ.get("WORLD_SIZE", "1"))}
            with (cell.folder / ATTEMPTS_FILE).open("a", encoding="utf-8") as log:
                log.write(json.dumps(line) + "\n")
        train_and_evaluate(cell.spec, cell.folder, progress and _rank() == 0)
        if _rank() == 0:
            prune_checkpoints(cell.folder, cell.keep_checkpoint)


class CellJob(submitit.helpers.Checkpointable):
    """What a submitit job runs: one cell. Requeued on preemption or timeout, it resumes from ``last.pt``."""

    def __init__(self, cell: Cell, threads: int | None = None) -> None:
        self.cell, self.threads = cell, threads

    def __call__(self) -> str:
        """Run the cell (joining the job's tasks as one DDP run when there are several); return its folder."""
        environment = submitit.JobEnvironment()
        if environment.num_tasks > 1:
            # Every task sees the job's GPUs; resolve_device picks its own by LOCAL_RANK.
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        run_cell(self.cell, progress=False, job_id=environment.job_id)
        return str(self.cell.folder)


def submit(cells: Sequence[Cell], jobs_dir: str | Path, scheduler: Scheduler, *,
           wait: bool = False, poll_s: float = 2.0, echo: Callable[[str], None] = print) -> list[str]:
    """Send the cells that are not done to the scheduler (:func:`~.jobs.submit_work`); one line per cell sent.

    A cell whose last job is still running or queued is not sent again (one line says so); should a second process
    start on a cell anyway, the run folder's lock (:func:`~landslide_core.train.loop.run_lock`) refuses it.

    Raises:
        GridError: Slurm is not reachable, or a local run asks for more GPUs per job than are visible.
    """
    return submit_work([_CellWork(cell) for cell in cells], jobs_dir, scheduler,
                       name="landslide-grid", wait=wait, poll_s=poll_s, echo=echo)


@dataclass(frozen=True)
class _CellWork:
    """A cell as a piece of :mod:`.jobs` work."""

    cell: Cell
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
        return CellJob(self.cell, threads)
