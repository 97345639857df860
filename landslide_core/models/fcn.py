"""FCN-8s on VGG16 (Long, Shelhamer & Darrell, CVPR 2015), our choice for the FCN of paper Table 5.

The paper says “these models are an FCN, U-net, DeeplabV3+, and MFFENet” and “FCN
utilizes VGG16 as the backbone network”, not which FCN; FCN-8s, the most accurate of
the original FCN-32s, -16s and -8s, is ours.

VGG16's convolutions (``torchvision.models.vgg16().features``), fc6/fc7 recast as a
7×7 and a 1×1 convolution with dropout, 1×1 score layers on fc7, pool4 and pool3, and
transposed convolutions initialised to bilinear upsampling, fusing them at 1/16, 1/8 and
finally the input size. Here those transposed convolutions are trained with the rest;
the reference Caffe FCN-8s keeps them fixed at bilinear interpolation (``lr_mult: 0``).

One change from the Caffe original: instead of padding the input by 100 pixels and
cropping, fc6 is padded by 3 so every map stays aligned at an exact 1/32, 1/16, 1/8 of
the input. The parameters are the same (torchvision's VGG16 weights load unchanged),
the 100-pixel margin's compute is saved, and 64×64 inputs work. Sizes that are not a
multiple of 32 are resized (bilinear) where two maps meet and at the output.

Initialisation without pre-trained weights: fc6 and fc7 get He initialisation (fan-in),
so activations keep their scale through them (PyTorch's default shrank them about fivefold),
and the three score layers start at zero, as Long et al. initialise them. Pre-trained
weights replace the backbone's values.

``batch_norm=True`` (ours, an option) uses VGG16 with batch normalisation after each convolution
(``torchvision.models.vgg16_bn``), the variant torchvision also has ImageNet weights for. Trained from
scratch on the CPU demo (SAT, 64-px crops), plain VGG16 only predicted landslide everywhere within
20–40 epochs at learning rates 0.01–0.1, also with He initialisation throughout; with batch
normalisation 16 epochs at 0.01 reached a validation mIoU of 64 % against the better constant's 42 %
(measured on this project's 2-core machine). Plain VGG16 stays the default.

On the CPU, fc6 is computed as an explicit im2col matrix product (:class:`Fc6Convolution`):
oneDNN's backward pass of this 7×7, 512→4096 convolution on the small maps of CPU crops
takes 10–30 s per batch of 8 (measured on 2 cores, for 2×2 and 4×4 maps), the matrix
product well under 1 s. Same weights, same result; CUDA keeps cuDNN's convolution.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register
from .weights import adapt_first_conv, load_pretrained

__all__ = ["FCN8s", "Fc6Convolution", "VGG16Backbone", "build_fcn"]

_POOLS = {False: (17, 24), True: (24, 34)}
"""Indices of torchvision's ``vgg16().features`` (and ``vgg16_bn().features``) just after pool3 and pool4."""


class Fc6Convolution(nn.Conv2d):
    """A stride-1, zero-padded convolution computed as unfold + matrix product on the CPU (see the module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution of ``x``; on the CPU through :func:`torch.nn.functional.unfold` and one matmul."""
        if x.is_cuda or x.device.type != "cpu":
            return super().forward(x)
        n, _, h, w = x.shape
        columns = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=self.padding)
        out = self.weight.reshape(self.out_channels, -1) @ columns
        if self.bias is not None:
            out = out + self.bias[:, None]
        return out.reshape(n, self.out_channels, h, w)


class VGG16Backbone(nn.Module):
    """VGG16 up to fc7, with torchvision's key names (``features.*``, ``classifier.0/3.*``) so its weights load.

    ``batch_norm``: VGG16 with batch normalisation (``vgg16_bn``) instead of plain VGG16.
    """

    def __init__(self, fc_channels: int = 4096, batch_norm: bool = False) -> None:
        super().__init__()
        from torchvision.models import vgg16, vgg16_bn  # here: importing torchvision costs a second or more

        self.features = (vgg16_bn() if batch_norm else vgg16()).features
        self.pools = _POOLS[batch_norm]
        self.classifier = nn.Sequential(
            Fc6Convolution(512, fc_channels, 7, padding=3), nn.ReLU(inplace=True), nn.Dropout(0.5),  # fc6
            nn.Conv2d(fc_channels, fc_channels, 1), nn.ReLU(inplace=True), nn.Dropout(0.5),  # fc7
        )
        for layer in (self.classifier[0], self.classifier[3]):  # He (fan-in): activations keep their scale
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """pool3 (256 ch, 1/8), pool4 (512 ch, 1/16) and fc7 (1/32)."""
        after_pool3, after_pool4 = self.pools
        pool3 = self.features[:after_pool3](x)
        pool4 = self.features[after_pool3:after_pool4](pool3)
        return pool3, pool4, self.classifier(self.features[after_pool4:](pool4))


class FCN8s(nn.Module):
    """FCN-8s: ``(N, C, H, W)`` images to ``(N, num_classes, H, W)`` logits."""

    def __init__(self, num_classes: int = 1, fc_channels: int = 4096, batch_norm: bool = False) -> None:
        super().__init__()
        self.backbone = VGG16Backbone(fc_channels, batch_norm)
        self.score_fr = nn.Conv2d(fc_channels, num_classes, 1)
        self.score_pool4 = nn.Conv2d(512, num_classes, 1)
        self.score_pool3 = nn.Conv2d(256, num_classes, 1)
        for score in (self.score_fr, self.score_pool4, self.score_pool3):  # zero, as Long et al. initialise them
            nn.init.zeros_(score.weight)
            nn.init.zeros_(score.bias)
        self.upscore2 = _bilinear_upsampling(num_classes, 2)
        self.upscore_pool4 = _bilinear_upsampling(num_classes, 2)
        self.upscore8 = _bilinear_upsampling(num_classes, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at ``x``'s height and width: fc7's scores upsampled and fused with pool4's, then pool3's."""
        pool3, pool4, fc7 = self.backbone(x)
        score = self.upscore2(self.score_fr(fc7))
        score = self.upscore_pool4(_fit(score, pool4) + self.score_pool4(pool4))
        score = self.upscore8(_fit(score, pool3) + self.score_pool3(pool3))
        return _fit(score, x)


def _bilinear_upsampling(channels: int, factor: int) -> nn.ConvTranspose2d:
    """A transposed convolution that starts as per-channel bilinear ×``factor`` upsampling (exact size ×factor)."""
    kernel = 2 * factor
    up = nn.ConvTranspose2d(channels, channels, kernel, stride=factor, padding=factor // 2, bias=False)
    center = factor - 0.5
    profile = 1 - (torch.arange(kernel, dtype=torch.float32) - center).abs() / factor
    with torch.no_grad():
        up.weight.zero_()
        for c in range(channels):
            up.weight[c, c] = profile[:, None] * profile[None, :]
    return up


def _fit(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``x`` at ``reference``'s height and width (a no-op for inputs that are multiples of 32)."""
    if x.shape[-2:] == reference.shape[-2:]:
        return x
    return F.interpolate(x, size=reference.shape[-2:], mode="bilinear", align_corners=False)


@register("fcn", "FCN", "FCN-8s (our choice of FCN) with a VGG16 backbone (fc6/fc7 as convolutions, "
                       "bilinear-initialised upsampling)")
def build_fcn(num_classes: int = 1, in_channels: int = 3, pretrained: bool | str | Path = False,
              fc_channels: int = 4096, batch_norm: bool = False) -> FCN8s:
    """FCN-8s; ``pretrained`` loads torchvision's VGG16 (ImageNet) into the convolutions and fc6/fc7.

    ``fc_channels`` (default 4096, as FCN-8s) narrows fc6/fc7; pre-trained weights need 4096. ``batch_norm`` (ours)
    builds it on VGG16 with batch normalisation (``vgg16_bn``, whose ImageNet weights ``pretrained`` then loads).
    """
    from torchvision.models import VGG16_BN_Weights, VGG16_Weights

    model = FCN8s(num_classes, fc_channels, batch_norm)
    name = "vgg16_bn" if batch_norm else "vgg16"
    load_pretrained(model.backbone, pretrained, VGG16_BN_Weights.IMAGENET1K_V1 if batch_norm
                    else VGG16_Weights.IMAGENET1K_V1,
                    expected=f"a torchvision {name} state dict, e.g. torch.save(torchvision.models.{name}()"
                             ".state_dict(), path) (its fc6/fc7 need fc_channels=4096)")
    features = model.backbone.features
    features[0] = adapt_first_conv(features[0], in_channels, bool(pretrained))
    return model
