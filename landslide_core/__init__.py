"""landslide_core: the CAS Landslide Dataset (Xu et al., Scientific Data 11, 12, 2024), reproducibly.

Data layer, paper metrics, demo data and downloads behind the companion Jupyter Book.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("landslide-core")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
