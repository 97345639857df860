"""MFFENet (Xu et al., Landslides 19, 1617–1647, 2022), the fourth model of paper Table 5.

Implemented from the team's description of the public code (github xupine/LandslideNet,
``MFFENet/modeling``) in ``shared/design/mffenet.md``: a ResNet at output stride 16
with multi-grid (1, 2, 4) on layer4, DeepLabV3+'s ASPP, attention-gated fusion of the
skip features at 1/8, 1/4 and 1/2 (attention gate + projections + spatial attention,
then a residual refinement module, RCM), a dense top-down decoder and a two-layer head.

Differences from the original, and why:

- Backbone ``resnet50`` by default: the CAS paper says “the DeepLabV3+, U-net, and
  MFFENet models utilize ResNet50 as the underlying backbone network”; the original code
  uses ResNet-101 (``backbone="resnet101"``, 71.4 M parameters with two classes).
- The backbone is torchvision's ResNet (the same bottleneck layout) with layer4
  re-dilated to 2, 4, 8, so torchvision's ImageNet weights (the file the original
  loads) fit unchanged. Plain BatchNorm replaces SyncBatchNorm (equal on one GPU).
- Training choices of the original are left to the training code: its 10× learning
  rate for ASPP + decoder is available through :meth:`MFFENet.parameter_groups`;
  poly decay and the boundary-weighted loss are not part of the model.
- As in the original (and DeepLabV3+), the ASPP image-pooling branch has BatchNorm on
  a 1×1 map, so training needs batches of at least 2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UnknownModelError
from .registry import register
from .weights import adapt_first_conv, load_pretrained

if TYPE_CHECKING:
    from torchvision.models import ResNet, WeightsEnum

__all__ = [
    "ASPP", "RCM", "AttentionGate", "Decoder", "FusionLevel", "MFFENet", "Projections", "ResNetBackbone",
    "SpatialAttention", "build_mffenet"
]

def _backbone(name: str) -> tuple[Callable[[], ResNet], WeightsEnum]:
    """The backbone's torchvision constructor and ImageNet weights.

    Imported here: torchvision takes a second or more to import, and most processes that import the models build
    none of its networks.

    Raises:
        UnknownModelError: ``name`` is not one of the backbones; the message lists them.
    """
    from torchvision.models import ResNet50_Weights, ResNet101_Weights, resnet50, resnet101

    backbones = {"resnet50": (resnet50, ResNet50_Weights.IMAGENET1K_V1),
                 "resnet101": (resnet101, ResNet101_Weights.IMAGENET1K_V1)}
    if name not in backbones:
        raise UnknownModelError(f"MFFENet has no backbone '{name}'; use one of: {', '.join(backbones)}")
    return backbones[name]


_LAYER4_DILATIONS = (2, 4, 8)  # output stride 16: layer4 keeps 1/16 and dilates 2 × multi-grid (1, 2, 4)


def _resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize with ``align_corners=True``, as everywhere in the original."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=True)


def _cat_at(first: torch.Tensor, *others: torch.Tensor) -> torch.Tensor:
    """``first`` concatenated with ``others`` resized to its size."""
    return torch.cat([first, *(_resize(o, first.shape[-2:]) for o in others)], 1)


def _conv_bn_relu(in_channels: int, out_channels: int, kernel: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=dilation * (kernel // 2), dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class ResNetBackbone(nn.Module):
    """torchvision ResNet at output stride 16 (multi-grid layer4), returning the skips f1..f4.

    Keeps torchvision's module names, so its state dict is torchvision's minus ``fc``.
    """

    def __init__(self, name: str = "resnet50") -> None:
        super().__init__()
        net = _backbone(name)[0]()
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        for block, dilation in zip(self.layer4, _LAYER4_DILATIONS, strict=True):
            block.conv2.stride = (1, 1)
            block.conv2.dilation = block.conv2.padding = (dilation, dilation)
            if block.downsample is not None:
                block.downsample[0].stride = (1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """f1 (64 ch, 1/2, before max-pool), f2 (256, 1/4), f3 (512, 1/8), f4 (2048, 1/16)."""
        f1 = self.relu(self.bn1(self.conv1(x)))
        f2 = self.layer1(self.maxpool(f1))
        f3 = self.layer2(f2)
        return f1, f2, f3, self.layer4(self.layer3(f3))


class ASPP(nn.Module):
    """DeepLabV3+'s atrous spatial pyramid pooling: 1×1, three dilated 3×3 and an image-pooling branch."""

    def __init__(self, in_channels: int = 2048, channels: int = 256, rates: Sequence[int] = (6, 12, 18)) -> None:
        super().__init__()
        self.branches = nn.ModuleList([_conv_bn_relu(in_channels, channels, 1),
                                       *(_conv_bn_relu(in_channels, channels, 3, rate) for rate in rates)])
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), _conv_bn_relu(in_channels, channels, 1))
        self.project = nn.Sequential(_conv_bn_relu(channels * (len(rates) + 2), channels, 1), nn.Dropout(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """All branches on ``x``, concatenated and projected to ``channels`` (1×1 conv, then dropout)."""
        pooled = self.image_pool(x).expand(-1, -1, *x.shape[-2:])  # = bilinear upsampling of a 1×1 map
        return self.project(torch.cat([*(branch(x) for branch in self.branches), pooled], 1))


class AttentionGate(nn.Module):
    """AG: the projected skip ``x`` weighted by a sigmoid map computed from ``x`` and the gating signal ``g``."""

    def __init__(self, g_channels: int, x_channels: int, channels: int) -> None:
        super().__init__()
        self.project_g = nn.Sequential(nn.Conv2d(g_channels, channels, 1, bias=False), nn.BatchNorm2d(channels))
        self.project_x = nn.Sequential(nn.Conv2d(x_channels, channels, 1, bias=False), nn.BatchNorm2d(channels))
        self.psi = nn.Sequential(nn.Conv2d(channels, 1, 1, bias=False), nn.BatchNorm2d(1), nn.Sigmoid())

    def forward(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The projected skip ``x`` weighted by its attention map; ``g`` must have ``x``'s height and width."""
        x = self.project_x(x)
        return x * self.psi(F.relu(self.project_g(g) + x))


class Projections(nn.Module):
    """CA: independent 1×1 conv + BN + ReLU projections of several inputs, resized to one size.

    The convolutions keep their bias, as in the original (BatchNorm makes it inert).
    """

    def __init__(self, in_channels: Sequence[int], channels: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, channels, 1), nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
            for c in in_channels)

    def forward(self, inputs: Sequence[torch.Tensor], size: Sequence[int]) -> list[torch.Tensor]:
        """Each input through its own projection, resized to ``size``; one input per projection."""
        return [_resize(conv(x), size) for conv, x in zip(self.convs, inputs, strict=True)]


class SpatialAttention(nn.Module):
    """SA2 (two parts) / SA1 (one part): one sigmoid map per channel group of the input, applied to that group.

    ``SpatialAttention(F, (g, x))`` on ``cat(g, x)`` returns ``(map0·g, map1·x)``.
    """

    def __init__(self, channels: int, parts: Sequence[int]) -> None:
        super().__init__()
        self.parts = list(parts)
        self.maps = nn.Sequential(
            nn.Conv2d(channels, channels // 2, 3, padding=1, bias=False), nn.BatchNorm2d(channels // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // 2, len(self.parts), 1, bias=False), nn.BatchNorm2d(len(self.parts)), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The channel groups of ``x`` (sizes ``parts``), each multiplied by its own sigmoid map."""
        maps = self.maps(x)
        return tuple(maps[:, i:i + 1] * part for i, part in enumerate(x.split(self.parts, 1)))


class RCM(nn.Module):
    """Residual refinement: ``x`` plus a 1×1 → 3×3 (BN, ReLU) → 1×1 bottleneck of width ``mid``."""

    def __init__(self, channels: int, mid: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, mid, 1, bias=False), nn.Conv2d(mid, mid, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, channels, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` refined: itself plus the bottleneck's output."""
        return x + self.body(x)


class FusionLevel(nn.Module):
    """One ATF block + RCM at the resolution of the skip ``x``.

    The skip is gated by the coarser ``g`` (AG); the other levels are projected (CA) and
    weighted by spatial attention in groups of ``groups`` projections (SA2 or SA1); the
    concatenation is refined by an RCM.
    """

    def __init__(self, gate: tuple[int, int], sources: Sequence[int], channels: int, groups: Sequence[int],
                 refine: int) -> None:
        super().__init__()
        self.gate = AttentionGate(*gate, channels)
        self.project = Projections(sources, channels)
        self.attend = SpatialAttention(channels * len(sources), [n * channels for n in groups])
        self.refine = RCM(channels * (len(sources) + 1), refine)

    def forward(self, g: torch.Tensor, x: torch.Tensor, sources: Sequence[torch.Tensor]) -> torch.Tensor:
        """The fused features at ``x``'s size: ``x`` gated by ``g``, beside the attended projections of ``sources``."""
        size = x.shape[-2:]
        gated = self.gate(_resize(g, size), x)
        attended = self.attend(torch.cat(self.project(sources, size), 1))
        return self.refine(torch.cat([gated, *attended], 1))


class Decoder(nn.Module):
    """Fusion at 1/8, 1/4, 1/2, the dense top-down decoder and the classification head (at 1/2)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        # Inputs: A = ASPP output (256 ch), f1 (64), f2 (256), f3 (512).
        self.fuse8 = FusionLevel(gate=(256, 512), sources=(256, 256, 64), channels=192, groups=(1, 2), refine=256)
        self.fuse4 = FusionLevel(gate=(512, 256), sources=(256, 512, 64), channels=96, groups=(2, 1), refine=128)
        self.fuse2 = FusionLevel(gate=(256, 64), sources=(256, 512, 256), channels=48, groups=(3,), refine=64)
        self.dense8 = _conv_bn_relu(256 + 768, 256, 3)
        self.dense4 = _conv_bn_relu(384 + 256 + 256, 256, 3)
        self.dense2 = _conv_bn_relu(192 + 3 * 256, 256, 3)
        self.classifier = nn.Sequential(_conv_bn_relu(4 * 256, 256, 3), nn.Dropout(0.5),
                                        _conv_bn_relu(256, 256, 3), nn.Dropout(0.1),
                                        nn.Conv2d(256, num_classes, 1))

    def forward(self, a: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor, f3: torch.Tensor) -> torch.Tensor:
        """Logits at ``f1``'s size (1/2) from the ASPP output ``a`` and the skips ``f1``, ``f2``, ``f3``."""
        x3 = self.fuse8(a, f3, (a, f2, f1))
        x2 = self.fuse4(f3, f2, (a, f3, f1))
        x1 = self.fuse2(f2, f1, (a, f3, f2))
        d3 = self.dense8(torch.cat([_resize(a, x3.shape[-2:]), x3], 1))
        d2 = self.dense4(_cat_at(x2, a, d3))
        d1 = self.dense2(_cat_at(x1, d2, d3, a))
        return self.classifier(_cat_at(d1, d2, d3, a))


class MFFENet(nn.Module):
    """MFFENet: ``(N, C, H, W)`` images to ``(N, num_classes, H, W)`` logits (any H, W ≥ 32)."""

    def __init__(self, num_classes: int = 1, backbone: str = "resnet50") -> None:
        super().__init__()
        self.backbone = ResNetBackbone(backbone)
        self.aspp = ASPP()
        self.decoder = Decoder(num_classes)
        for module in (*self.aspp.modules(), *self.decoder.modules()):  # the original's head initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at ``x``'s height and width: the decoder's output at 1/2, resized bilinearly."""
        f1, f2, f3, f4 = self.backbone(x)
        return _resize(self.decoder(self.aspp(f4), f1, f2, f3), x.shape[-2:])

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by part: ``backbone`` (the ResNet) and ``head`` (ASPP + decoder).

        The original trains the head at 10× the backbone's learning rate, e.g.
        ``g = model.parameter_groups(); SGD([{"params": g["backbone"], "lr": lr},
        {"params": g["head"], "lr": 10 * lr}], momentum=0.9)``. The CAS paper gives one rate (“employing the SGD
        optimizer with a learning rate of 0.01”), and training here uses one for every part (ours).
        """
        return {"backbone": list(self.backbone.parameters()),
                "head": [*self.aspp.parameters(), *self.decoder.parameters()]}


@register("mffenet", "MFFENet",
          "MFFENet: ResNet-50 (output stride 16) + ASPP + attention-gated multi-level fusion and dense decoder")
def build_mffenet(num_classes: int = 1, in_channels: int = 3, pretrained: bool | str | Path = False,
                  backbone: str = "resnet50") -> MFFENet:
    """MFFENet; ``pretrained`` loads torchvision's ImageNet ResNet (``backbone``: resnet50 or resnet101)."""
    model = MFFENet(num_classes, backbone)
    load_pretrained(model.backbone, pretrained, _backbone(backbone)[1],
                    expected=f"a torchvision {backbone} state dict, e.g. "
                             f"torch.save(torchvision.models.{backbone}().state_dict(), path)")
    model.backbone.conv1 = adapt_first_conv(model.backbone.conv1, in_channels, bool(pretrained))
    return model
