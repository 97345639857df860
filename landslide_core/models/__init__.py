"""Segmentation models by name: the paper's four and any segmentation-models-pytorch architecture.

``build_model("deeplabv3plus")`` returns a module mapping ``(N, 3, H, W)`` float images
to ``(N, num_classes, H, W)`` logits at the input size. See :mod:`.registry`.
"""

from .registry import MODEL_NAMES, ModelSpec, UnknownModelError, available_models, build_model, describe_model

__all__ = ["MODEL_NAMES", "ModelSpec", "UnknownModelError", "available_models", "build_model", "describe_model"]
