"""The scores of the paper's tables from a 2×2 confusion matrix over all validation pixels (the pooling is ours), per sub-dataset and group."""

from .confusion import SCORE_COLUMNS, TABLE_COLUMNS, confusion_matrices, merged, scores_table
from .metrics import PAPER_COLUMNS, ConfusionMatrix, Scores, scores_from_counts

__all__ = [
    "PAPER_COLUMNS", "SCORE_COLUMNS", "TABLE_COLUMNS", "ConfusionMatrix", "Scores", "confusion_matrices", "merged",
    "scores_from_counts", "scores_table",
]
