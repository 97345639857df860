"""Segmentation models by name: ``build_model("deeplabv3plus")`` and friends (see :mod:`.build`).

Every model maps ``(N, 3, H, W)`` float images to ``(N, num_classes, H, W)``
logits at the input size.
"""

from .build import MODEL_NAMES, available_models, build_model, describe_model
from .registry import ModelSpec

__all__ = ["MODEL_NAMES", "ModelSpec", "available_models", "build_model", "describe_model"]
