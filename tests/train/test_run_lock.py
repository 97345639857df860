"""Two processes on one run folder: the second is refused and told who trains; a killed trainer blocks no one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from landslide_core.errors import LockHeldError
from landslide_core.io.lock import lock_holder
from landslide_core.runtime.distributed import run_local
from landslide_core.sources.cas.demo import write_demo_data
from landslide_core.train.checkpoints import LAST, load_checkpoint
from landslide_core.train.config import TrainConfig
from landslide_core.train.loop import LOCK_FILE, train
from tests.train.test_training import DEMO_SUBDATASETS, one_thread, tiny_config  # noqa: F401 (autouse fixture)

REPO = Path(__file__).resolve().parents[2]
TRAINER = """
import sys, time
from pathlib import Path
import torch
from landslide_core.train.loop import train
from tests.train.test_training import tiny_config

torch.set_num_threads(1)
root, out, control = map(Path, sys.argv[1:])

def pause(row):
    (control / "paused").write_text(str(row["epoch"]))
    while not (control / "go").exists():
        time.sleep(0.05)

train(tiny_config(epochs=2), root, out, progress=False, on_epoch_end=pause)
"""


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_data(tmp_path_factory.mktemp("demo"), subdatasets=DEMO_SUBDATASETS, tiles_per_subdataset=3,
                           progress=False)


def _wait_for(path: Path, process: subprocess.Popen[bytes], timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else "trainer ended"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_second_process_cannot_train_a_run_another_trains_and_a_killed_one_blocks_nothing(demo_root, tmp_path):
    run, control = tmp_path / "unet_SAT_seed0", tmp_path / "control"
    control.mkdir()
    trainer = subprocess.Popen([sys.executable, "-c", TRAINER, str(demo_root), str(run), str(control)], cwd=REPO,
                               stderr=subprocess.PIPE)
    try:
        _wait_for(control / "paused", trainer)  # epoch 1 written; the trainer holds the run
        checkpoint = (run / LAST).read_bytes()
        with pytest.raises(LockHeldError) as refused:
            train(tiny_config(epochs=2), demo_root, run, progress=False, restart=True)
        assert str(refused.value).startswith(f"{run / LOCK_FILE}: is held by process {trainer.pid} on "
                                             f"{socket.gethostname()} (training {run.name}, since ")
        assert f"kill {trainer.pid}" in str(refused.value)
        assert (run / LAST).read_bytes() == checkpoint, "the refused restart discarded nothing"
    finally:
        trainer.kill()  # SIGKILL in the middle of the run: no cleanup
    assert trainer.wait(timeout=60) == -signal.SIGKILL
    assert lock_holder(run / LOCK_FILE)["pid"] == trainer.pid, "the dead trainer's lock file is left behind"

    result = train(tiny_config(epochs=2), demo_root, run, progress=False)  # not blocked: resumes the run
    assert result.epochs_run == 1 and load_checkpoint(run / LAST)["epoch"] == 2
    assert not (run / LOCK_FILE).exists() and os.listdir(control) == ["paused"]


def _who_holds_the_lock(data_root: Path, out: Path, config: dict[str, object]) -> tuple[int, int]:
    """Run by each spawned rank: its own process id and the one the run's lock file names after epoch 1.

    Read before epoch 2, which no rank finishes alone: the lock is still held then.
    """
    seen: list[int] = []
    train(TrainConfig.from_dict(config), data_root, out, progress=False,
          on_epoch_end=lambda row: seen.append(lock_holder(out / LOCK_FILE)["pid"]) if row["epoch"] == 1 else None)
    return os.getpid(), seen[0]


@pytest.mark.slow
def test_under_several_processes_only_rank_0_holds_the_run(demo_root, tmp_path):
    (rank0, seen0), (rank1, seen1) = run_local(_who_holds_the_lock, 2, demo_root, tmp_path / "run",
                                               tiny_config(epochs=2).to_dict())
    assert seen0 == seen1 == rank0 != rank1  # rank 1 trained beside it without being refused
    assert not (tmp_path / "run" / LOCK_FILE).exists()
