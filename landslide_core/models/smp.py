"""Models from segmentation-models-pytorch: Table 5's U-Net and DeepLabV3+, and any ``smp:<Architecture>/<encoder>``.

DeepLabV3+ runs at output stride 16 with ASPP atrous rates (6, 12, 18), the
rates the DeepLabV3+ paper (Chen et al., ECCV 2018) uses at that stride and the
ones MFFENet's ASPP uses; smp's default (12, 24, 36) is Chen et al.'s choice for
output stride 8, where the feature map is twice as large.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from ..errors import UnknownModelError
from .registry import ModelSpec, Pretrained, register
from .weights import load_backbone_weights

__all__ = ["DEEPLAB_ATROUS_RATES", "smp_model", "smp_spec"]

DEEPLAB_ATROUS_RATES = (6, 12, 18)
"""ASPP rates of DeepLabV3+ (and MFFENet) at output stride 16."""


def smp_model(architecture: str, encoder: str, num_classes: int, in_channels: int, pretrained: Pretrained,
              **options: Any) -> nn.Module:
    """A segmentation-models-pytorch model with local or ImageNet backbone weights.

    Args:
        architecture: An smp architecture class name, e.g. ``UnetPlusPlus``.
        encoder: An smp encoder name, e.g. ``resnet50`` (``tu-*`` for any timm model).
        num_classes: Output channels.
        in_channels: Input bands.
        pretrained: ``True`` for ImageNet weights, ``False`` for none, or a local weights file.
        **options: Further arguments of the smp class.

    Raises:
        UnknownModelError: smp has no such architecture or encoder; the message says where to look.
    """
    import segmentation_models_pytorch as smp

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


def smp_spec(name: str) -> ModelSpec:
    """A registry entry for ``smp:<Architecture>/<encoder>``, made on demand."""
    architecture, _, encoder = name.removeprefix("smp:").partition("/")
    return ModelSpec(name, f"{architecture} ({encoder})",
                     f"{architecture} with a {encoder} encoder (segmentation-models-pytorch)",
                     lambda **kw: smp_model(architecture, encoder, **kw))


@register("unet", "U-Net", "U-Net with a ResNet-50 encoder (segmentation-models-pytorch)")
def _unet(num_classes: int = 1, in_channels: int = 3, pretrained: Pretrained = False, encoder: str = "resnet50",
          **options: Any) -> nn.Module:
    return smp_model("Unet", encoder, num_classes, in_channels, pretrained, **options)


@register("deeplabv3plus", "DeepLabV3+",
          "DeepLabV3+ with a ResNet-50 encoder, output stride 16, ASPP rates 6, 12, 18 (segmentation-models-pytorch)")
def _deeplabv3plus(num_classes: int = 1, in_channels: int = 3, pretrained: Pretrained = False,
                   encoder: str = "resnet50", **options: Any) -> nn.Module:
    options.setdefault("decoder_atrous_rates", DEEPLAB_ATROUS_RATES)
    return smp_model("DeepLabV3Plus", encoder, num_classes, in_channels, pretrained, **options)
