"""The companion book: running sections and building the HTML."""

from .runner import build_book, resolve_data_root

__all__ = ["build_book", "resolve_data_root"]
