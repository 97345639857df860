"""The peak resident memory of this process over a stretch of work, sampled from a background thread.

``ru_maxrss`` only ever grows over a process's life, so it cannot tell what one
call took after earlier work; sampling the resident set size while the call runs
can. Samples every ``interval_s`` miss spikes shorter than that, so the peak is a
lower bound, close for work that holds its buffers for longer than an interval.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

import psutil

__all__ = ["PeakMemory", "process_status_mib"]

MIB = 1024 * 1024


def process_status_mib(field: str) -> float | None:
    """A memory field of ``/proc/self/status`` (``VmHWM``: the peak resident set, ``VmRSS``) in MiB.

    ``None`` where there is no ``/proc`` (macOS). Unlike ``ru_maxrss``, ``VmHWM`` belongs to this process alone,
    not to the parent it was forked from.
    """
    status = Path("/proc/self/status")
    if not status.is_file():
        return None
    line = next(line for line in status.read_text().splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024  # the file gives kB


class PeakMemory:
    """``with PeakMemory() as memory: ...`` then ``memory.peak_mib`` and ``memory.baseline_mib``."""

    def __init__(self, interval_s: float = 0.01) -> None:
        self.interval_s = interval_s
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.baseline_mib = 0.0
        self.peak_mib = 0.0

    def _rss_mib(self) -> float:
        return self._process.memory_info().rss / MIB

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_mib = max(self.peak_mib, self._rss_mib())

    def __enter__(self) -> PeakMemory:
        self.baseline_mib = self.peak_mib = self._rss_mib()
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mib = max(self.peak_mib, self._rss_mib())

    @property
    def added_mib(self) -> float:
        """Peak above the resident memory at the start: what the work itself held at most."""
        return self.peak_mib - self.baseline_mib
