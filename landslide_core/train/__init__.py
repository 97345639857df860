"""Training: the run's settings, losses, checkpoints and the loop (one CPU, one GPU, or many).

Which settings come from the paper, in its words, and which are ours: :mod:`.config`. Its names load on first use
(:func:`~landslide_core.io.lazy.lazy_names`): the command line reads :mod:`.config`'s defaults without importing
torch and the models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..io.lazy import lazy_names

if TYPE_CHECKING:
    from .checkpoints import BEST, LAST, load_checkpoint, trained_model
    from .config import TrainConfig
    from .loop import TrainResult, train
    from .losses import LOSSES, build_loss

__all__ = ["BEST", "LAST", "LOSSES", "TrainConfig", "TrainResult", "build_loss", "load_checkpoint", "train",
           "trained_model"]

__getattr__ = lazy_names(__name__, {
    **dict.fromkeys(["BEST", "LAST", "load_checkpoint", "trained_model"], ".checkpoints"),
    "TrainConfig": ".config", "TrainResult": ".loop", "train": ".loop", "LOSSES": ".losses", "build_loss": ".losses",
})
