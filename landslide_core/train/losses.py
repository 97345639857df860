"""Training losses for one-logit landslide models, chosen by name.

The paper's loss (Technical Validation): “Given that landslide identification entails
a task with imbalanced data samples, we utilized the Dice loss as our loss function”.
Its form is ours: binary, pooled over the batch, smoothed (below). ``ce`` (binary
cross-entropy) and ``dice+ce`` are there for comparison. Every loss takes logits
``(N, 1, H, W)`` (or ``(N, H, W)``) and a 0/1 mask ``(N, H, W)`` and computes in
float32, also under bf16 autocast.

Dice is computed over the whole batch (all pixels of all images pooled), not per
image and then averaged: crops without landslide pixels are common and a
per-image Dice would punish every false positive on them with the full loss.
The smoothing term ``s = 1`` is added to numerator and denominator, so a batch
with no landslide and no predicted landslide scores 0 rather than 0/0. It shifts
the loss by ``s·|C − 2I| / (C·(C + s))`` with ``I = Σpt`` and ``C = Σp + Σt``, at
most ``s / (C + s)``: below 1e-3 once the batch's predicted plus true landslide
area ``C`` exceeds 999 pixels, but not on batches with little landslide (25
landslide pixels, 13 of them found and one false alarm: 0.325 instead of 0.333). On a batch with no
landslide pixels (``Σt = 0``) the loss is ``Σp / (Σp + s)``: without the smoothing
it would be 1 for any false alarm, so there the smoothing alone sets how strongly
false alarms are punished.

Distributed training: with ``synchronize=True`` the Dice sums are added over all
processes before the ratio is taken (a differentiable all-reduce), so N processes
with batch b/N optimise exactly the loss of one process with batch b. Cross-entropy
is a mean over pixels and needs no such step: DDP's gradient average over equal
shards already gives the mean of the whole batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UnknownLossError
from ..runtime.distributed import all_reduce_sum

__all__ = ["DICE_SMOOTH", "LOSSES", "Loss", "bce_loss", "build_loss", "check_loss", "dice_bce_loss", "dice_loss"]

DICE_SMOOTH = 1.0



def _flatten(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if logits.ndim == target.ndim + 1 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if logits.shape != target.shape:
        raise ValueError(
            f"a one-logit model is expected: logits {tuple(logits.shape)} do not match the mask {tuple(target.shape)}"
        )
    return logits.float(), target.float()


def dice_loss(logits: torch.Tensor, target: torch.Tensor, *, smooth: float = DICE_SMOOTH,
              synchronize: bool = False) -> torch.Tensor:
    """Soft binary Dice loss ``1 - (2·Σpt + s) / (Σp + Σt + s)`` with ``p = sigmoid(logits)``, over the batch."""
    logits, target = _flatten(logits, target)
    probability = torch.sigmoid(logits)
    sums = torch.stack([(probability * target).sum(), probability.sum() + target.sum()])
    if synchronize:
        sums = all_reduce_sum(sums)
    intersection, cardinality = sums[0], sums[1]
    return 1.0 - (2.0 * intersection + smooth) / (cardinality + smooth)


def bce_loss(logits: torch.Tensor, target: torch.Tensor, *, synchronize: bool = False) -> torch.Tensor:
    """Binary cross-entropy from logits, the mean over pixels (``synchronize`` is not needed; see module doc)."""
    logits, target = _flatten(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


def dice_bce_loss(logits: torch.Tensor, target: torch.Tensor, *, synchronize: bool = False) -> torch.Tensor:
    """Dice plus binary cross-entropy, equally weighted."""
    return dice_loss(logits, target, synchronize=synchronize) + bce_loss(logits, target)


LOSSES: dict[str, Callable[..., torch.Tensor]] = {"dice": dice_loss, "ce": bce_loss, "dice+ce": dice_bce_loss}
"""Loss names accepted by :func:`build_loss` and ``--loss``; ``dice`` is the one the paper names (“we utilized the
Dice loss as our loss function”)."""


class Loss(nn.Module):
    """A named loss as a module: ``loss(logits, mask) -> scalar``."""

    def __init__(self, name: str, *, synchronize: bool = False) -> None:
        super().__init__()
        check_loss(name)
        self.name = name
        self.synchronize = synchronize

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The named loss of ``logits`` against the mask ``target``."""
        return LOSSES[self.name](logits, target, synchronize=self.synchronize)

    def extra_repr(self) -> str:
        """The loss's name and ``synchronize``, shown in the module's repr."""
        return f"name={self.name!r}, synchronize={self.synchronize}"


def check_loss(name: str) -> str:
    """``name`` itself when it names a loss; raises :class:`UnknownLossError` listing the valid names otherwise.

    Raises:
        UnknownLossError: ``name`` is not a key of :data:`LOSSES`.
    """
    if name not in LOSSES:
        raise UnknownLossError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}")
    return name


def build_loss(name: str, *, synchronize: bool = False) -> Loss:
    """The loss called ``name`` (see :data:`LOSSES`); ``synchronize`` for DDP training (see module doc)."""
    return Loss(name, synchronize=synchronize)
