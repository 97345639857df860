"""The companion book: running sections and building the HTML."""

from .compare import paper_vs_run
from .page import SectionRun, open_section
from .runner import build_book, repository_root, resolve_data_root

__all__ = ["SectionRun", "build_book", "open_section", "paper_vs_run", "repository_root", "resolve_data_root"]
