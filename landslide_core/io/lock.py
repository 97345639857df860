"""One process at a time on a piece of work: an exclusive lock file that names its holder.

Two processes training one run (two jobs sent for the same cell, a job and a
command typed by hand) would overwrite each other's checkpoints and history.
:func:`exclusive_lock` takes an exclusive, non-blocking ``flock`` on a lock file
and writes who holds it (host, process id, start time, purpose) into it; a
second process is refused at once with that holder named. The kernel releases
an ``flock`` when its holder exits, crash and ``SIGKILL`` included, so a lock
file left behind by a dead process does not block anyone: it is taken over.
Within one process the lock is re-entrant (training locks a run's folder that
its caller, training and evaluating, already holds).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import json
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import LockHeldError

__all__ = ["LOCK_FILE", "exclusive_lock", "is_held", "lock_holder"]

LOCK_FILE = ".lock"
"""The lock file in a folder of work (a run's folder)."""

_held: dict[tuple[int, Path], list[Any]] = {}
"""(process id, lock file) → [file descriptor, depth]: the locks this process holds (a forked child holds none)."""
_guard = threading.Lock()
_TRIES = 5
_NO_LOCKS = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP}
"""What ``flock`` fails with on a file system without locks (NFS without a lock manager, Lustre without flock)."""
"""Further tries, 20 ms apart, before a held lock is reported: one being released or looked at is free then."""


def lock_holder(path: str | Path) -> dict[str, Any]:
    """What a lock file says about its holder (``host``, ``pid``, ``since``, ``purpose``); empty if it says nothing."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        holder = json.loads(text) if text.strip() else {}
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return holder if isinstance(holder, dict) else {}


def is_held(path: str | Path) -> bool:
    """Whether a live process holds the lock file ``path`` (or the lock file in the folder ``path``) now."""
    path = Path(path)
    path = path / LOCK_FILE if path.is_dir() else path
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _refusal(path: Path) -> tuple[str, str]:
    """The problem and the fix, naming the holder as its lock file records it."""
    holder = lock_holder(path)
    if not holder:  # the holder has locked the file but not yet written to it
        return ("is held by another process that is just starting",
                "wait for that process to end, or stop it, and run again")
    who = f"process {holder.get('pid')} on {holder.get('host')}"
    return (f"is held by {who} ({holder.get('purpose')}, since {holder.get('since')})",
            f"wait for {who} to end, or stop it (kill {holder.get('pid')} there), and run again; the lock is freed "
            "when its holder exits, even if it crashes")


def _acquire(path: Path, purpose: str, wait: bool = False) -> int | None:
    """A descriptor of ``path`` with the lock on it and this process's record in it; None on a file system without locks.

    Raises:
        LockHeldError: Another process holds the lock (never with ``wait``: then this blocks until it is free).
        OSError: ``flock`` failed otherwise than for a held lock or a file system without locks.
    """
    for attempt in itertools.count():
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            if attempt < _TRIES:  # a holder releasing it, or a look by :func:`is_held`: over in a moment
                time.sleep(0.02)
                continue
            raise LockHeldError(path, *_refusal(path)) from None
        except OSError as error:
            os.close(fd)
            if error.errno not in _NO_LOCKS:
                raise
            path.unlink(missing_ok=True)
            warnings.warn(f"{path}: this file system has no file locks ({error.strerror}), so a second process on "
                          "this work is not stopped; mount it with locks (e.g. Lustre's -o flock) to have it stopped",
                          UserWarning, stacklevel=4)
            return None
        # The previous holder unlinks the file as it releases it: a lock on the unlinked file guards nothing.
        opened = os.fstat(fd)
        try:
            named = os.stat(path)
        except FileNotFoundError:
            named = None
        if named is not None and (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino):
            break
        os.close(fd)
    record = {"host": socket.gethostname(), "pid": os.getpid(),
              "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "purpose": purpose}
    os.ftruncate(fd, 0)
    os.write(fd, (json.dumps(record) + "\n").encode())
    return fd


@contextlib.contextmanager
def exclusive_lock(path: str | Path, purpose: str, *, wait: bool = False) -> Iterator[Path]:
    """Hold the lock file ``path`` for the block; removed again when the outermost holder in this process leaves.

    Args:
        path: The lock file (its folder must exist), e.g. ``<run folder>/.lock``.
        purpose: What the holder does, in words, for the message another process gets.
        wait: Block until the holder releases it instead of refusing: for work another process may be finishing
            that this one then reads (two book sections writing the same demo scenes at once).

    A lock that is free again within 0.1 s (its holder releasing it, :func:`is_held` looking) is taken. On a file
    system without file locks this warns and holds nothing.

    Raises:
        LockHeldError: Another live process holds it; the message names that process's host, id, purpose and
            start time.
    """
    key = (os.getpid(), Path(path).resolve())
    with _guard:
        entry = _held.get(key)
        if entry is None:
            entry = _held[key] = [_acquire(key[1], purpose, wait), 0]
        entry[1] += 1
    try:
        yield key[1]
    finally:
        with _guard:
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                if entry[0] is not None:
                    key[1].unlink(missing_ok=True)  # while still locked, so no one can lock the file being removed
                    os.close(entry[0])  # closing the last descriptor releases the lock
