"""Evaluation: a model or checkpoint scored with the six metrics of the paper's tables, with provenance; the paper's values.

Its names load on first use (:func:`~landslide_core.io.lazy.lazy_names`): pages that only quote the paper's values
(:mod:`.paper`) do not import torch with :mod:`.evaluation`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..io.lazy import lazy_names

if TYPE_CHECKING:
    from .evaluation import (
        SPLIT_CHOICES,
        evaluate,
        evaluate_checkpoint,
        evaluate_checkpoint_tiles,
        evaluate_tiles,
        tiles_path,
        write_evaluation_record,
    )
    from .paper import METRICS, consistency, implied_counts, paper_row, paper_values

__all__ = [
    "METRICS", "SPLIT_CHOICES", "consistency", "evaluate", "evaluate_checkpoint", "evaluate_checkpoint_tiles",
    "evaluate_tiles", "implied_counts", "paper_row", "paper_values", "tiles_path", "write_evaluation_record",
]

__getattr__ = lazy_names(__name__, {
    **dict.fromkeys(["SPLIT_CHOICES", "evaluate", "evaluate_checkpoint", "evaluate_checkpoint_tiles", "evaluate_tiles",
                     "tiles_path", "write_evaluation_record"], ".evaluation"),
    **dict.fromkeys(["METRICS", "consistency", "implied_counts", "paper_row", "paper_values"], ".paper"),
})
