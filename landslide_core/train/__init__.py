"""Training: the run's settings, losses, checkpoints and the loop (one CPU, one GPU, or many).

Which settings come from the paper, in its words, and which are ours: :mod:`.config`.
"""

from .checkpoints import BEST, LAST, load_checkpoint, trained_model
from .config import TrainConfig
from .loop import TrainResult, train
from .losses import LOSSES, build_loss

__all__ = ["BEST", "LAST", "LOSSES", "TrainConfig", "TrainResult", "build_loss", "load_checkpoint", "train",
           "trained_model"]
