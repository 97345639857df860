"""What each book section computes, one module per section; the notebooks call these and show the results.

:mod:`.study_areas` (paper Fig. 1, Tables 2 and 4), :mod:`.dataset` (the dataset
at a glance), :mod:`.benchmarks` (paper Table 5 page), :mod:`.reproducibility`
(the appendix). This layer sits above :mod:`landslide_core.book` (pages,
provenance lines, paper-versus-run tables) and below the CLI.
"""

from . import benchmarks, dataset, reproducibility, study_areas

__all__ = ["benchmarks", "dataset", "reproducibility", "study_areas"]
