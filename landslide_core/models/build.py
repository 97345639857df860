"""Segmentation models by name: the four of paper Table 5 and any segmentation-models-pytorch architecture.

The four models of paper Table 5 are registered by short name (``fcn``, ``unet``,
``deeplabv3plus``, ``mffenet``). Any segmentation-models-pytorch architecture and
encoder is reachable as ``smp:<Architecture>/<encoder>`` (for example
``smp:UnetPlusPlus/efficientnet-b4``), so newer models can be benchmarked under the
same training settings without code changes.

Every model maps ``(N, in_channels, H, W)`` images to ``(N, num_classes, H, W)``
logits at the input size. ``num_classes=1`` (default) gives one landslide logit per
pixel, as binary Dice loss expects.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..errors import UnknownModelError
from . import fcn, mffenet, smp  # noqa: F401  (each registers its models on import)
from .registry import ModelSpec, Pretrained, registered
from .smp import smp_spec

__all__ = ["MODEL_NAMES", "available_models", "build_model", "describe_model"]

MODEL_NAMES = ("fcn", "unet", "deeplabv3plus", "mffenet")
"""The four models of paper Table 5, in its order."""


def available_models() -> list[str]:
    """Registered short names, plus the ``smp:`` form."""
    return [*sorted(registered()), "smp:<Architecture>/<encoder>"]


def describe_model(name: str) -> ModelSpec:
    """The registry entry for ``name`` (``smp:`` names get a generated entry).

    Raises:
        UnknownModelError: ``name`` is not registered; the message lists the valid names.
    """
    if name.startswith("smp:"):
        return smp_spec(name)
    try:
        return registered()[name]
    except KeyError:
        raise UnknownModelError(f"unknown model '{name}'; valid names: {', '.join(available_models())}") from None


def build_model(name: str, *, num_classes: int = 1, in_channels: int = 3, pretrained: Pretrained = False,
                **options: Any) -> nn.Module:
    """Build a registered model (or ``smp:<Architecture>/<encoder>``) returning logits at the input size.

    Args:
        name: A registered name (``fcn``, ``unet``, ``deeplabv3plus``, ``mffenet``) or ``smp:<Architecture>/<encoder>``.
        num_classes: Output channels (1: one landslide logit per pixel).
        in_channels: Input bands.
        pretrained: ``False`` (random initialisation), ``True`` (ImageNet backbone, needs internet) or a local file.
        **options: The model's own options (e.g. ``backbone="resnet101"`` for MFFENet).

    Raises:
        UnknownModelError: ``name`` is not known, or an ``smp:`` name lacks its encoder.
    """
    if name.startswith("smp:") and not name.partition("/")[2]:
        raise UnknownModelError(f"'{name}' needs an encoder: write smp:<Architecture>/<encoder>, e.g. smp:UnetPlusPlus/resnet34")
    spec = describe_model(name)
    return spec.builder(num_classes=num_classes, in_channels=in_channels, pretrained=pretrained, **options)
