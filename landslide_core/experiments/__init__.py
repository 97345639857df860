"""Experiments of more than one run: the paper's Table 5 grid (:mod:`.table5`) and the speed and memory measurement (:mod:`.throughput`).

"Benchmarks" in the book means the sub-dataset benchmarks of paper Table 5
(accuracy); how fast the models run is "throughput" everywhere in the code.
"""

from .table5 import GridRun, run_grid, scores_frame, subdataset_breakdown, table5
from .throughput import ThroughputConfig, ThroughputResult, run_throughput

__all__ = ["GridRun", "ThroughputConfig", "ThroughputResult", "run_grid", "run_throughput", "scores_frame",
           "subdataset_breakdown", "table5"]
