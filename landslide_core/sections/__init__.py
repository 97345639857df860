"""What each book section computes, one module per section; the notebooks call these and show the results.

:mod:`.study_areas` (paper Fig. 1, Tables 2 and 4), :mod:`.dataset` (the dataset
at a glance), :mod:`.benchmarks` (paper Table 5 page), :mod:`.reproducibility`
(the appendix). This layer sits above :mod:`landslide_core.book` (pages,
provenance lines, paper-versus-run tables) and below the CLI. The modules are not
imported here: a page imports its own, and pages that train nothing do not import
torch with :mod:`.benchmarks`.
"""
