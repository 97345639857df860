"""The scores of the paper's tables from a 2×2 confusion matrix over all validation pixels (the pooling is ours), per sub-dataset and group, and the per-tile counts they are sums of.

Its names load on first use (:func:`~landslide_core.io.lazy.lazy_names`): scoring counts (:mod:`.metrics`) does not
import torch, which counting a model's predictions (:mod:`.confusion`) needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..io.lazy import lazy_names

if TYPE_CHECKING:
    from .confusion import (
        COUNT_COLUMNS,
        SCORE_COLUMNS,
        TABLE_COLUMNS,
        TILE_COLUMNS,
        confusion_matrices,
        merged,
        scores_table,
        subdataset_matrices,
        tile_counts,
        tile_table,
    )
    from .metrics import PAPER_COLUMNS, ConfusionMatrix, Scores, counts_per_tile, predicted_classes, scores_from_counts

__all__ = [
    "COUNT_COLUMNS", "PAPER_COLUMNS", "SCORE_COLUMNS", "TABLE_COLUMNS", "TILE_COLUMNS", "ConfusionMatrix", "Scores",
    "confusion_matrices", "counts_per_tile", "merged", "predicted_classes", "scores_from_counts", "scores_table",
    "subdataset_matrices", "tile_counts", "tile_table",
]

__getattr__ = lazy_names(__name__, {
    **dict.fromkeys(["COUNT_COLUMNS", "SCORE_COLUMNS", "TABLE_COLUMNS", "TILE_COLUMNS", "confusion_matrices", "merged",
                     "scores_table", "subdataset_matrices", "tile_counts", "tile_table"], ".confusion"),
    **dict.fromkeys(["PAPER_COLUMNS", "ConfusionMatrix", "Scores", "counts_per_tile", "predicted_classes",
                     "scores_from_counts"], ".metrics"),
})
