"""Evaluation: a model or checkpoint scored with the six metrics of the paper's tables, with provenance; the paper's values."""

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
