"""The marker that labels a generated stand-in as synthetic, apart from the painter so every source can read it.

:mod:`.stand_in` writes stand-ins with the CAS demo painter; :class:`~.base.StandardisedSource`
only needs to know whether a root is one, and cannot import the painter (it sits
below the CAS source that the painter belongs to).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..io.atomic import write_text_atomic

__all__ = ["STAND_IN_MARKER", "is_stand_in", "stand_in_label", "write_marker"]

STAND_IN_MARKER = "SYNTHETIC-STAND-IN.json"
"""File at the root of a generated stand-in; its presence marks every tile under it as synthetic."""


def write_marker(root: str | Path, dataset: str, seed: int, settings: dict[str, object]) -> Path:
    """Write the stand-in marker at ``root`` (last, once every file is written)."""
    content = {"dataset": dataset, "seed": seed, "settings": settings,
               "note": f"synthetic stand-in written in the format of {dataset}; not {dataset} imagery"}
    return write_text_atomic(Path(root) / STAND_IN_MARKER, json.dumps(content, indent=2) + "\n")


def is_stand_in(root: str | Path) -> bool:
    """True for a root (or a folder directly inside one) that a stand-in writer wrote."""
    root = Path(root)
    return (root / STAND_IN_MARKER).is_file() or (root.parent / STAND_IN_MARKER).is_file()


def stand_in_label(title: str) -> str:
    """What pages and records call a stand-in's data, e.g. ``Bijie stand-in, synthetic``."""
    return f"{title} stand-in, synthetic"
