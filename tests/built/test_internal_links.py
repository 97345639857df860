"""The built book has no broken internal link. Runs after the book is built (``make test`` orders it so)."""

from __future__ import annotations

import pytest

from landslide_core.book.links import check_internal_links
from tests.conftest import REPO

BUILT = REPO / "_build" / "html"


def test_the_built_book_has_no_broken_internal_links() -> None:
    if not (BUILT / "index.html").is_file():
        pytest.fail(f"no built book at {BUILT}: build it first (make book)")
    assert check_internal_links(BUILT) == []
