"""The companion book: running sections and building the HTML.

Its names load on first use (:func:`~landslide_core.io.lazy.lazy_names`), so that the command line and the runner,
which need only :mod:`.runner`, do not import torch and the models with :mod:`.compare`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..io.lazy import lazy_names

if TYPE_CHECKING:
    from .compare import paper_vs_run
    from .page import SectionRun, open_section
    from .runner import build_book, repository_root, resolve_data_root

__all__ = ["SectionRun", "build_book", "open_section", "paper_vs_run", "repository_root", "resolve_data_root"]

__getattr__ = lazy_names(__name__, {
    "paper_vs_run": ".compare", "SectionRun": ".page", "open_section": ".page", "build_book": ".runner",
    "repository_root": ".runner", "resolve_data_root": ".runner",
})
