"""Lock files between real processes: a second one is refused with the holder named; a dead holder blocks no one."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from landslide_core.errors import LockHeldError
from landslide_core.io.lock import exclusive_lock, lock_holder

HOLDER = """
import os, sys
from landslide_core.io.lock import exclusive_lock
with exclusive_lock(sys.argv[1], "training run-a"):
    print("held", flush=True)
    if sys.argv[2] == "die":
        os.kill(os.getpid(), 9)  # no cleanup at all, as a node failure or an out-of-memory kill
    sys.stdin.readline()  # hold until told to go
print("released", flush=True)
"""


def _holder(lock: Path, mode: str = "hold") -> subprocess.Popen[str]:
    """Another Python process that takes ``lock`` and says so (``mode`` ``die``: then kills itself)."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock), mode], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    return process


def _try_in_another_process(lock: Path) -> str:
    """Take and release ``lock`` in a fresh process; its last output line (the error's type and message, or ok)."""
    code = ("import sys\nfrom landslide_core.io.lock import exclusive_lock\n"
            "try:\n    with exclusive_lock(sys.argv[1], 'check'): print('ok')\n"
            "except Exception as e: print(type(e).__name__, e)")
    done = subprocess.run([sys.executable, "-c", code, str(lock)], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    return done.stdout.strip().splitlines()[-1]


def test_a_second_process_is_refused_naming_the_holder_until_it_ends(tmp_path):
    run = tmp_path / "unet_SAT_seed0"
    run.mkdir()
    holder = _holder(run / ".lock")
    try:
        with pytest.raises(LockHeldError) as refused, exclusive_lock(run / ".lock", "training run-a"):
            pass
        message = str(refused.value)
        assert message.startswith(f"{run / '.lock'}: is held by process {holder.pid} on {socket.gethostname()} "
                                  "(training run-a, since 20")
        assert f"Fix: wait for process {holder.pid} on {socket.gethostname()} to end, or stop it (kill {holder.pid}" \
            in message
        assert lock_holder(run / ".lock")["pid"] == holder.pid  # the refused process left the record alone
    finally:
        assert holder.communicate("go\n", timeout=60)[0] == "released\n"
    assert not (run / ".lock").exists(), "a lock released on a clean exit leaves no file"
    with exclusive_lock(run / ".lock", "training run-a") as lock:
        assert lock_holder(lock)["pid"] == os.getpid() and lock_holder(lock)["host"] == socket.gethostname()


def test_a_lock_file_left_by_a_killed_process_does_not_block(tmp_path):
    lock = tmp_path / ".lock"
    holder = _holder(lock, "die")
    assert holder.wait(timeout=60) == -signal.SIGKILL
    assert lock_holder(lock)["pid"] == holder.pid, "the dead holder's file is still there"
    started = time.monotonic()
    with exclusive_lock(lock, "training run-a"):
        assert time.monotonic() - started < 1.0  # taken over at once, not after a timeout
        assert lock_holder(lock)["pid"] == os.getpid()
    assert not lock.exists()


def test_the_lock_is_reentrant_within_a_process_and_held_until_the_outermost_block_ends(tmp_path):
    lock = tmp_path / ".lock"
    with exclusive_lock(lock, "training and evaluating run-a"):
        with exclusive_lock(lock, "training run-a"):  # train() inside train_and_evaluate(): no deadlock
            assert json.loads(lock.read_text())["purpose"] == "training and evaluating run-a"
        assert _try_in_another_process(lock).startswith(f"LockHeldError {lock}: is held by process {os.getpid()}")
    assert not lock.exists()
    assert _try_in_another_process(lock) == "ok"


def test_a_lock_held_for_a_moment_only_is_taken_after_it_is_free(tmp_path):
    """A holder releasing it, or `is_held` looking (a shared lock for an instant), does not refuse anyone."""
    lock = tmp_path / ".lock"
    lock.write_text("")
    look = os.open(lock, os.O_RDONLY)
    fcntl.flock(look, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a separate open file: conflicts even within one process
    threading.Timer(0.03, os.close, [look]).start()
    with exclusive_lock(lock, "training run-a"):
        assert lock_holder(lock)["pid"] == os.getpid()


def test_without_file_locks_it_warns_and_the_work_goes_on(tmp_path, monkeypatch):
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)  # as on NFS without a lock manager
    with pytest.warns(UserWarning, match="has no file locks \\(No locks available\\), so a second process"):
        with exclusive_lock(tmp_path / ".lock", "training run-a"):
            assert not (tmp_path / ".lock").exists()


def test_a_waiting_process_takes_the_lock_once_the_holder_releases_it(tmp_path):
    """``wait``: no refusal; the block starts only after the holder let go, then the lock is this process's."""
    holder = _holder(tmp_path / ".lock")
    entered: list[float] = []

    def take() -> None:
        with exclusive_lock(tmp_path / ".lock", "reading the scenes", wait=True):
            entered.append(time.monotonic())

    waiter = threading.Thread(target=take)
    waiter.start()
    time.sleep(0.5)
    assert not entered, "the waiter entered while the other process held the lock"
    released = time.monotonic()
    holder.communicate("go\n", timeout=30)
    waiter.join(timeout=30)
    assert entered and entered[0] >= released
    assert not (tmp_path / ".lock").exists()  # released by the waiter in turn
