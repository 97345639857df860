"""The paper's scores: a 2×2 confusion matrix over all validation pixels, and a model scored per sub-dataset and group."""

from .confusion import SCORE_COLUMNS, TABLE_COLUMNS, confusion_matrices, merged, scores_table
from .metrics import PAPER_COLUMNS, ConfusionMatrix, Scores, scores_from_counts

__all__ = [
    "PAPER_COLUMNS", "SCORE_COLUMNS", "TABLE_COLUMNS", "ConfusionMatrix", "Scores", "confusion_matrices", "merged",
    "scores_from_counts", "scores_table",
]
