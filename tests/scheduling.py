"""Test order for pytest-xdist (loaded with ``-p tests.scheduling``, in ``pyproject.toml``'s addopts).

The tests marked slow run first, so that the long ones start while the short ones still fill the other workers,
instead of one worker finishing a long test alone at the end. A notebook's nbval cells share one kernel and must
run in order on one worker: each notebook is made one ``xdist_group`` (``--dist loadgroup`` keeps a group
together; a cell keeps its place, as the sort is stable and gives every cell of a notebook the same key).
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group(item.path.name))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
