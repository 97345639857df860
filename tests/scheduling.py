"""Test order for pytest-xdist (loaded with ``-p tests.scheduling``, in ``pyproject.toml``'s addopts).

The tests marked slow run first, the longest first (``@pytest.mark.slow(seconds=N)``: about how long the test takes
alone on 2 cores, where that is minutes), so that the long ones start while the short ones still fill the other
workers, instead of one worker finishing a long test alone at the end. The sort is stable, so the cells of a
notebook (nbval) keep their order. Under ``--dist loadscope`` xdist hands out the modules (and classes) with the
most tests first unless given ``--no-loadscope-reorder``, as ``make test`` does (``tests/test_scheduling.py``).
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def order(item: pytest.Item) -> tuple[bool, float]:
        slow = item.get_closest_marker("slow")
        return slow is None, -float(slow.kwargs.get("seconds", 0) if slow else 0)

    items.sort(key=order)
