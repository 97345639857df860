"""Per-tile statistics read from the masks: the raw material of overview tables and QC.

Only masks are read (one uint8 band per tile), so this is cheap even on all
20,865 tiles; values are checked as they are read, like everywhere else.
Work over many tiles is shared among processes (:func:`map_tiles`), which QC
scoring (:func:`landslide_core.building.qc.score_root`) uses too.
"""

from __future__ import annotations

import os
import pickle
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..errors import ConfigError
from ..io.raster import pixel_reads, read_raster
from ..sources.checks import check_mask
from ..tiles import TileRecord

__all__ = ["MIN_TILES_PER_WORKER", "TILE_COLUMNS", "map_tiles", "pool_size", "tile_statistics", "usable_cores"]

TILE_COLUMNS = ("subdataset", "group", "name", "pixels", "landslide_pixels", "landslide_share")
MIN_TILES_PER_WORKER = 500
"""Ours: the fewest tiles per process when the process count is left to :func:`map_tiles`. A process started
afresh imports the package first (about 2 to 5 s on 2 cores); below this many tiles each, that start costs more than
sharing the tiles saves, so a few hundred tiles (the demo data) are worked on here, in one process."""
_CHUNK = 16
"""Tiles sent to a process at a time: few enough to keep every process busy to the end, enough to make the cost of
sending them small beside reading them."""

T = TypeVar("T")
R = TypeVar("R")


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask), or the machine's count where that is unknown.

    As :func:`landslide_core.runtime.workers.available_cores`, which sits in a layer above this one.
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pool_size(workers: int | None, items: int) -> int:
    """How many processes :func:`map_tiles` uses for ``items`` tiles (1: none started, work done here).

    Raises:
        ConfigError: ``workers`` is below 1.
    """
    if workers is None:
        return max(1, min(usable_cores(), items // MIN_TILES_PER_WORKER))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a count of 1 or more (or None for the usable cores), not {workers!r}")
    return max(1, min(workers, items))


@dataclass(frozen=True)
class _Failed:
    """An error raised in a worker process, sent back in parts.

    The package's errors take arguments that their ``args`` do not hold, so they do not survive pickling whole (the
    pool then breaks instead of naming the tile).
    """

    kind: type[BaseException]
    args: tuple[Any, ...]
    state: dict[str, Any]
    trace: str

    def rebuilt(self) -> BaseException:
        """The error as it was raised, its worker's traceback as its cause."""
        error = self.kind.__new__(self.kind)
        error.args = self.args
        error.__dict__.update(self.state)
        error.__cause__ = _RemoteTraceback(self.trace)
        return error


class _RemoteTraceback(Exception):
    """Where in the worker process an error was raised (shown as the cause of the error re-raised here)."""

    def __str__(self) -> str:
        return "\n" + self.args[0]


def _guarded(function: Callable[[T], R], item: T) -> R | _Failed:
    """``function(item)`` in a worker; an error comes back as :class:`_Failed`."""
    try:
        return function(item)
    except Exception as error:
        failed = _Failed(type(error), error.args, dict(vars(error)), traceback.format_exc())
        try:
            pickle.dumps(failed)
        except Exception:  # state that does not pickle: its message and traceback still do
            failed = _Failed(RuntimeError, (f"{type(error).__name__}: {error}",), {}, failed.trace)
        return failed


def map_tiles(function: Callable[[T], R], items: Sequence[T], *, workers: int | None = None, desc: str = "tiles",
              progress: bool = True) -> list[R]:
    """``[function(item) for item in items]``, in that order, shared among ``workers`` processes.

    The results, and the first error in the order of ``items`` (raised as it was), are those of the loop; only the
    time differs. Processes are started fresh (``spawn``: no state of this process, such as torch's threads, is
    copied into them), so ``function`` and the items must pickle, ``function`` must be defined at the top level
    of a module, and a script calling this at its top level must do so under ``if __name__ == "__main__":``.

    Args:
        function: Work on one tile.
        items: The tiles (or what names them).
        workers: Processes; ``None``: the usable cores (:func:`usable_cores`), at most one per
            :data:`MIN_TILES_PER_WORKER` items; 1 works here without starting any.
        desc: The progress bar's label.
        progress: Show a progress bar.

    Raises:
        ConfigError: ``workers`` is below 1, or a process ended abruptly (a script without the ``__main__`` guard,
            or memory running out).
    """
    processes = pool_size(workers, len(items))
    with tqdm(total=len(items), desc=desc, unit="tile", disable=not progress) as bar:
        if processes == 1:
            results = []
            for item in items:
                results.append(function(item))
                bar.update()
            return results
        pool = ProcessPoolExecutor(processes, mp_context=get_context("spawn"))
        try:
            results = []
            for result in pool.map(partial(_guarded, function), items, chunksize=_CHUNK):
                if isinstance(result, _Failed):
                    raise result.rebuilt()
                results.append(result)
                bar.update()
        except BrokenProcessPool as error:
            pool.shutdown(wait=True, cancel_futures=True)
            raise ConfigError(
                f"a process working on the tiles ({desc}) ended abruptly. Processes are started fresh and import the "
                "script that started them: a script that calls this at its top level must do so under `if __name__ "
                "== '__main__':`. Otherwise the machine may have run out of memory. Or pass workers=1 to work in "
                "this process") from error
        except BaseException:  # the first error in order (or Ctrl-C): start no further chunk
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return results


def _mask_row(record: TileRecord) -> tuple[str, str, str, int, int, float]:
    """One tile's row of :func:`tile_statistics`, from its mask, checked.

    Raises:
        ValueError: The record has no mask.
        TileError: The mask is not one uint8 band or holds values other than 0 and 1 (its first problem).
    """
    if record.mask is None:
        raise ValueError(f"{record.image}: tile record has no mask; landslide shares need masks")
    with pixel_reads():
        mask = read_raster(record.mask)
    problems = check_mask(record.mask, mask, tile_size=None)
    if problems:
        raise problems[0]
    landslide = int(np.count_nonzero(mask))
    return record.subdataset, record.group, record.name, int(mask[0].size), landslide, landslide / mask[0].size


def tile_statistics(records: Sequence[TileRecord], *, progress: bool = True, workers: int | None = None) -> pd.DataFrame:
    """One row per tile, in the order of ``records``: pixel count, landslide pixel count and landslide share (0–1).

    Args:
        records: The tiles.
        progress: Show a progress bar.
        workers: Processes reading masks (see :func:`map_tiles`); the rows do not depend on it.

    Raises:
        ValueError: A record has no mask.
        TileError: A mask is not one uint8 band or holds values other than 0 and 1 (the first problem found).
        ConfigError: ``workers`` is below 1.
    """
    rows = map_tiles(_mask_row, records, workers=workers, desc="reading masks", progress=progress)
    return pd.DataFrame(rows, columns=list(TILE_COLUMNS))
