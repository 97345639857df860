"""One registry of segmentation models, so every run names its model the same way.

The paper's four models are registered by short name (``fcn``, ``unet``,
``deeplabv3plus``, ``mffenet``). Any segmentation-models-pytorch architecture and
encoder is reachable as ``smp:<Architecture>/<encoder>`` (for example
``smp:UnetPlusPlus/efficientnet-b4``), so newer models can be benchmarked on the
paper's protocol without code changes.

Every model maps ``(N, in_channels, H, W)`` images to ``(N, num_classes, H, W)``
logits at the input size. ``num_classes=1`` (default) gives one landslide logit per
pixel, as binary Dice loss expects.

``pretrained``: ``False`` (random initialisation; never touches the network),
``True`` (ImageNet weights for the backbone, downloaded by torchvision/smp on a
machine with internet) or a path to a local file with those backbone weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from ..errors import LandslideCoreError

Pretrained = bool | str | Path


class UnknownModelError(LandslideCoreError):
    """A model name that is not registered; the message lists the valid ones."""


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its name, the paper's name for it, and what it is."""

    name: str
    paper_name: str
    description: str
    builder: Callable[..., nn.Module]


_REGISTRY: dict[str, ModelSpec] = {}


def register(name: str, paper_name: str, description: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator adding a builder ``(num_classes, in_channels, pretrained, **options) -> nn.Module``."""

    def add(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _REGISTRY[name] = ModelSpec(name, paper_name, description, builder)
        return builder

    return add


def _smp_model(architecture: str, encoder: str, num_classes: int, in_channels: int, pretrained: Pretrained,
               **options: Any) -> nn.Module:
    import segmentation_models_pytorch as smp

    from .weights import load_backbone_weights

    known = sorted(smp.MODEL_ARCHITECTURES_MAPPING)
    if architecture.lower() not in known:
        classes = sorted(a for a in dir(smp) if a[0].isupper() and a.lower() in known)
        raise UnknownModelError(f"segmentation-models-pytorch has no architecture '{architecture}'; "
                                f"use one of: {', '.join(classes)}")
    if encoder not in smp.encoders.get_encoder_names() and not encoder.startswith("tu-"):  # tu-*: any timm model
        raise UnknownModelError(f"segmentation-models-pytorch has no encoder '{encoder}'; list them with "
                                f"`python -c \"import segmentation_models_pytorch as smp; print(smp.encoders.get_encoder_names())\"`")
    weights = "imagenet" if pretrained is True else None
    from_file = isinstance(pretrained, (str, Path))
    # A local file holds RGB weights: load them into a 3-band encoder, then widen it as smp does for ImageNet.
    model = smp.create_model(architecture, encoder_name=encoder, encoder_weights=weights,
                             in_channels=3 if from_file else in_channels, classes=num_classes, **options)
    if from_file:
        load_backbone_weights(model.encoder, pretrained)
        model.encoder.set_in_channels(in_channels, pretrained=True)
    return model


@register("unet", "U-Net", "U-Net with a ResNet-50 encoder (segmentation-models-pytorch)")
def _unet(num_classes: int = 1, in_channels: int = 3, pretrained: Pretrained = False, encoder: str = "resnet50",
          **options: Any) -> nn.Module:
    return _smp_model("Unet", encoder, num_classes, in_channels, pretrained, **options)


@register("deeplabv3plus", "DeepLabV3+", "DeepLabV3+ with a ResNet-50 encoder, output stride 16 (segmentation-models-pytorch)")
def _deeplabv3plus(num_classes: int = 1, in_channels: int = 3, pretrained: Pretrained = False,
                   encoder: str = "resnet50", **options: Any) -> nn.Module:
    return _smp_model("DeepLabV3Plus", encoder, num_classes, in_channels, pretrained, **options)


def available_models() -> list[str]:
    """Registered short names, plus the ``smp:`` form."""
    _load_builtin_models()
    return [*sorted(_REGISTRY), "smp:<Architecture>/<encoder>"]


MODEL_NAMES = ("fcn", "unet", "deeplabv3plus", "mffenet")
"""The paper's four models, in the order of its Table 5."""


def _load_builtin_models() -> None:
    # FCN and MFFENet register themselves on import; imported lazily to keep `import landslide_core` light.
    from . import fcn, mffenet  # noqa: F401


def describe_model(name: str) -> ModelSpec:
    """The registry entry for ``name`` (``smp:`` names get a generated entry)."""
    _load_builtin_models()
    if name.startswith("smp:"):
        architecture, _, encoder = name[4:].partition("/")
        return ModelSpec(name, f"{architecture} ({encoder})", f"{architecture} with a {encoder} encoder (segmentation-models-pytorch)",
                         lambda **kw: _smp_model(architecture, encoder, **kw))
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(f"unknown model '{name}'; valid names: {', '.join(available_models())}") from None


def build_model(name: str, *, num_classes: int = 1, in_channels: int = 3, pretrained: Pretrained = False,
                **options: Any) -> nn.Module:
    """Build a registered model (or ``smp:<Architecture>/<encoder>``) returning logits at the input size."""
    if name.startswith("smp:") and not name.partition("/")[2]:
        raise UnknownModelError(f"'{name}' needs an encoder: write smp:<Architecture>/<encoder>, e.g. smp:UnetPlusPlus/resnet34")
    spec = describe_model(name)
    return spec.builder(num_classes=num_classes, in_channels=in_channels, pretrained=pretrained, **options)
