"""The six scores of the paper's tables from one confusion matrix accumulated over all validation pixels.

Eqs. 1–6 of the paper are written in pixel counts (TP, FP, FN, TN) and do not say over
which pixels they are taken: pooling all validation pixels into one matrix is ours.
What the columns of the paper's tables mean is our reading too, checked against the
published rows (:func:`landslide_core.eval.paper.consistency`): precision, recall and
IoU are those of the landslide class; the column called "F1 score" and mIoU are
*means over the two classes* (landslide, background); OA is pixel accuracy. Eq. 3
defines F1 as 2PR/(P+R); that landslide-class F1 is reported separately as
``f1_landslide``, so the two are never confused. The evidence for both readings is in
``landslide_core/paper/inferences.yaml`` (``pooled_confusion_matrix``,
``f1_two_class_mean``), shown on the book's appendix page ``sections/09_inferred``.

The matrix lives on the device the predictions are on, is updated batch by batch
without leaving it, and can be summed across processes with
:meth:`ConfusionMatrix.all_reduce`. Evaluation itself counts each tile apart
(:func:`counts_per_tile`, on the device too) and builds the matrices from those
counts (:mod:`landslide_core.scoring.confusion`), so multi-GPU evaluation gives
the same numbers as one process and every score is a sum over tiles.

Zero denominators: a ratio whose class is absent from both truth and prediction
(nothing to find, nothing claimed) scores 1.0; any other ratio with a zero
denominator scores 0.0. Scores are therefore always defined, never NaN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
import torch.distributed as dist

from ..errors import ConfigError

__all__ = [
    "BACKGROUND", "LANDSLIDE", "PAPER_COLUMNS", "ConfusionMatrix", "Scores", "counts_per_tile", "predicted_classes",
    "scores_from_count_arrays", "scores_from_counts",
]

BACKGROUND, LANDSLIDE = 0, 1

PAPER_COLUMNS = {
    "precision": "Precision",
    "recall": "Recall",
    "iou": "IoU",
    "f1": "F1 score",
    "miou": "mIoU",
    "oa": "OA",
}
"""Our score names and the column names of the paper's tables, in their order."""


def _ratio(numerator: np.ndarray, denominator: np.ndarray, class_absent: np.ndarray) -> np.ndarray:
    """``numerator / denominator``; where the denominator is 0, 1.0 if the class is absent and 0.0 if not."""
    out = np.where(class_absent, 1.0, 0.0)
    return np.divide(numerator, denominator, out=out, where=denominator != 0)


@dataclass(frozen=True)
class Scores:
    """The six scores of the paper's tables (fractions in [0, 1]) and the landslide-class F1."""

    precision: float
    recall: float
    iou: float
    f1: float
    """Mean of the landslide and background F1: the "F1 score" of the paper's tables, in our reading."""
    miou: float
    oa: float
    f1_landslide: float
    """Landslide-class F1 = 2PR/(P+R), Eq. 3; in our reading not what the paper's tables report."""

    def as_percent(self) -> dict[str, float]:
        """Scores in percent, like the paper's tables."""
        return {k: 100.0 * v for k, v in asdict(self).items()}


def _class_scores(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, ...]:
    """Precision, recall, IoU and F1 of one class from its own TP/FP/FN."""
    absent = tp + fp + fn == 0
    return (_ratio(tp, tp + fp, absent), _ratio(tp, tp + fn, absent), _ratio(tp, tp + fp + fn, absent),
            _ratio(2 * tp, 2 * tp + fp + fn, absent))


def scores_from_count_arrays(counts: np.ndarray) -> dict[str, np.ndarray]:
    """The scores of :func:`scores_from_counts` for every ``(tp, fp, fn, tn)`` row of ``counts`` at once.

    Counts are taken as float64, so for whole counts whose sum is below 2**52 every value is that of exact
    arithmetic, correctly rounded (the block bootstrap scores its replicates with it).

    Args:
        counts: Landslide-class counts, shape ``(..., 4)``, last axis TP, FP, FN, TN.

    Returns:
        Each field name of :class:`Scores`, in its order → fractions of shape ``counts.shape[:-1]``.

    Raises:
        ConfigError: The last axis of ``counts`` is not of length 4.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim == 0 or counts.shape[-1] != 4:
        raise ConfigError(f"counts has shape {counts.shape}; its last axis must hold the four counts "
                          "(TP, FP, FN, TN) of the landslide class: pass an array of shape (..., 4)")
    tp, fp, fn, tn = np.moveaxis(counts, -1, 0)
    precision, recall, iou, f1_landslide = _class_scores(tp, fp, fn)
    # For the background class the roles swap: its TP is TN, its FP is FN, its FN is FP.
    _, _, iou_background, f1_background = _class_scores(tn, fn, fp)
    total = tp + fp + fn + tn
    scores = {
        "precision": precision,
        "recall": recall,
        "iou": iou,
        "f1": (f1_landslide + f1_background) / 2,
        "miou": (iou + iou_background) / 2,
        "oa": _ratio(tp + tn, total, total == 0),
        "f1_landslide": f1_landslide,
    }
    return {field.name: scores[field.name] for field in fields(Scores)}


def scores_from_counts(tp: int, fp: int, fn: int, tn: int) -> Scores:
    """The six scores of the paper's tables (and ``f1_landslide``) from landslide-class counts (TP, FP, FN, TN)."""
    return Scores(**{name: float(value) for name, value in scores_from_count_arrays(np.array([tp, fp, fn, tn])).items()})


def _check_classes(prediction: torch.Tensor, target: torch.Tensor) -> None:
    """Refuse pixels whose class is not 0 or 1, which no cell of a 2×2 matrix holds.

    Raises:
        ValueError: A pixel's class is below 0 or above 1.
    """
    if prediction.numel() and (
        int(torch.minimum(prediction.min(), target.min())) < 0 or int(torch.maximum(prediction.max(), target.max())) > 1
    ):
        raise ValueError("prediction and target must hold only 0 (background) and 1 (landslide)")


def predicted_classes(logits: torch.Tensor, target: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Class 0/1 per pixel, shaped as ``target``: one logit channel ``> threshold``, or the argmax of two."""
    if logits.ndim == target.ndim + 1 and logits.shape[1] == 2:
        return logits.argmax(dim=1)
    return (logits.reshape(target.shape) > threshold).long()


@torch.no_grad()
def counts_per_tile(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Landslide-class ``(TP, FP, FN, TN)`` of every tile of a batch, from one bincount over its pixels.

    Args:
        prediction: Predicted class 0/1 per pixel, ``(N, ...)``: one tile per first index.
        target: True class 0/1 per pixel, the same shape.

    Returns:
        ``(N, 4)`` int64 on the batch's device; row ``i`` sums to tile ``i``'s pixels.

    Raises:
        ValueError: The shapes differ, or a pixel's class is below 0 or above 1.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(prediction.shape)} differs from target {tuple(target.shape)}")
    n = prediction.shape[0]
    prediction, target = prediction.reshape(n, -1).long(), target.reshape(n, -1).long()
    _check_classes(prediction, target)
    # Cell t*2 + p of tile i is bin i*4 + t*2 + p: bins 0..3 of a tile are TN, FP, FN, TP.
    cells = torch.arange(n, device=target.device).unsqueeze(1) * 4 + target * 2 + prediction
    counts = torch.bincount(cells.reshape(-1), minlength=4 * n).reshape(n, 4)
    return counts[:, [3, 1, 2, 0]]


class ConfusionMatrix:
    """A 2×2 pixel confusion matrix; rows are the truth, columns the prediction.

    ``matrix[t, p]`` counts pixels of true class ``t`` predicted as ``p``
    (0 = background, 1 = landslide), as int64 on ``device``.
    """

    def __init__(self, device: torch.device | str | None = None) -> None:
        self.matrix = torch.zeros((2, 2), dtype=torch.int64, device=device)

    @classmethod
    def from_counts(cls, tp: int, fp: int, fn: int, tn: int, device: torch.device | str | None = None) -> ConfusionMatrix:
        """The matrix holding landslide-class counts ``(TP, FP, FN, TN)`` (e.g. summed over tiles)."""
        matrix = cls(device)
        matrix.matrix += torch.tensor([[tn, fp], [fn, tp]], dtype=torch.int64, device=matrix.matrix.device)
        return matrix

    @torch.no_grad()
    def update(self, prediction: torch.Tensor, target: torch.Tensor, ignore_index: int | None = None) -> None:
        """Add a batch: ``prediction`` and ``target`` hold class indices 0/1 of the same shape.

        Args:
            prediction: Predicted class per pixel.
            target: True class per pixel.
            ignore_index: Pixels whose target has this value are not counted.

        Raises:
            ValueError: The shapes differ, or a counted pixel's class is below 0 or above 1.
        """
        if prediction.shape != target.shape:
            raise ValueError(f"prediction shape {tuple(prediction.shape)} differs from target {tuple(target.shape)}")
        prediction, target = prediction.reshape(-1).long(), target.reshape(-1).long()
        if ignore_index is not None:
            keep = target != ignore_index
            prediction, target = prediction[keep], target[keep]
        _check_classes(prediction, target)
        counts = torch.bincount(target * 2 + prediction, minlength=4)
        self.matrix += counts.reshape(2, 2).to(self.matrix.device)

    def update_from_logits(self, logits: torch.Tensor, target: torch.Tensor, threshold: float = 0.0) -> None:
        """Add a batch of model outputs: one logit channel (``> threshold``) or two (argmax)."""
        self.update(predicted_classes(logits, target, threshold), target)

    def merge(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """Add another matrix (e.g. from another sub-dataset) into this one."""
        self.matrix += other.matrix.to(self.matrix.device)
        return self

    def all_reduce(self, group: dist.ProcessGroup | None = None) -> ConfusionMatrix:
        """Sum the matrix over all processes of a distributed run (no-op when not distributed)."""
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.matrix, op=dist.ReduceOp.SUM, group=group)
        return self

    def reset(self) -> None:
        """Set every count to zero, to start counting anew."""
        self.matrix.zero_()

    @property
    def counts(self) -> tuple[int, int, int, int]:
        """Landslide-class ``(TP, FP, FN, TN)``."""
        m = self.matrix.tolist()
        return m[1][1], m[0][1], m[1][0], m[0][0]

    def scores(self) -> Scores:
        """The scores of :func:`scores_from_counts` from the counts so far."""
        return scores_from_counts(*self.counts)
