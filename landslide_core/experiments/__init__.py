"""Experiments of more than one run: the paper's Table 5 grid (:mod:`.table5`) and the speed and memory measurement (:mod:`.throughput`).

"Benchmarks" in the book means the sub-dataset benchmarks of paper Table 5
(accuracy); how fast the models run is "throughput" everywhere in the code.
Its names load on first use (:func:`~landslide_core.io.lazy.lazy_names`), so
that importing one light module (the grid's plan, a record reader) does not
import torch with the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..io.lazy import lazy_names

if TYPE_CHECKING:
    from .table5 import GridRun, run_grid, scores_frame, subdataset_breakdown, table5
    from .throughput import ThroughputConfig, ThroughputResult, run_throughput

__all__ = ["GridRun", "ThroughputConfig", "ThroughputResult", "run_grid", "run_throughput", "scores_frame",
           "subdataset_breakdown", "table5"]

__getattr__ = lazy_names(__name__, {
    **dict.fromkeys(["GridRun", "run_grid", "scores_frame", "subdataset_breakdown", "table5"], ".table5"),
    **dict.fromkeys(["ThroughputConfig", "ThroughputResult", "run_throughput"], ".throughput"),
})
