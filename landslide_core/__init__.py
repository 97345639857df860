"""landslide_core: the CAS Landslide Dataset (Xu et al., Scientific Data 11, 12, 2024), reproducibly.

The package behind the companion Jupyter Book, in layers (lowest first): ``io``,
``tiles``, ``sources`` (one per dataset; ``sources.cas``), ``data``, ``models`` /
``runtime`` / ``provenance`` / ``building``, ``scoring``, ``train``, ``eval``, ``experiments``,
``book``, ``sections`` and ``cli``. Import from the layers; this module holds only
the version, and one warning filter.
"""

import warnings
from importlib.metadata import PackageNotFoundError, version

# papermill and pooch import tqdm.auto, which in a Jupyter kernel without ipywidgets warns "IProgress not found"
# (naming the site-packages folder) on every page. The book is static HTML, where plain-text progress bars are what
# it shows anyway, so that warning says nothing to its readers.
warnings.filterwarnings("ignore", message="IProgress not found", module="tqdm")

__all__ = ["__version__"]

try:
    __version__ = version("landslide-core")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
