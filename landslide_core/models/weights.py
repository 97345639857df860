"""Backbone weights from torchvision or a local file, checked key by key.

Pre-trained weights silently half-loaded (``strict=False``) are a classic source of
irreproducible results, so every load here is strict: a key the backbone expects but
the file lacks, an extra key, or a shape mismatch stops the run with a message naming
the file. Only classifier heads the backbone does not have (``fc.*`` of a ResNet,
``classifier.*`` of a VGG) are skipped, and fully connected weights are reshaped into
the convolutions that replace them (FCN's fc6/fc7).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:  # torchvision is imported where a torchvision backbone is built, not by every model import
    from torchvision.models import WeightsEnum

from ..errors import DownloadError, PathProblemError

__all__ = ["adapt_first_conv", "load_backbone_state", "load_backbone_weights", "load_pretrained"]

_CLASSIFIER_PREFIXES = ("fc.", "classifier.")
_GENERIC_EXPECTED = ("a state dict saved from the same torchvision architecture, "
                     "e.g. torch.save(torchvision.models.resnet50().state_dict(), path)")


def load_backbone_weights(module: nn.Module, path: str | Path, expected: str = _GENERIC_EXPECTED) -> None:
    """Load the state dict in the local file ``path`` into ``module``, strictly.

    The file may hold a raw state dict or a checkpoint dict with a ``state_dict`` or
    ``model`` entry. ``expected`` describes the right file for the error message.
    """
    load_backbone_state(module, _read_state_dict(Path(path), expected), Path(path), expected)


def load_pretrained(module: nn.Module, pretrained: bool | str | Path, imagenet: WeightsEnum, expected: str) -> None:
    """Apply a builder's ``pretrained`` argument: ``True`` downloads ``imagenet``, a path loads that file.

    Args:
        module: The backbone the weights go into.
        pretrained: ``True``, a path to a weights file, or ``False`` (nothing is loaded).
        imagenet: The torchvision weights downloaded for ``True``.
        expected: Describes the right weights file in error messages.

    Raises:
        DownloadError: The ImageNet weights could not be downloaded.
    """
    if pretrained is True:
        try:
            state = imagenet.get_state_dict(progress=True)
        except OSError as error:
            raise DownloadError(imagenet.url, f"could not be downloaded ({error})",
                                "connect this machine to the internet, or download the file elsewhere and pass "
                                "pretrained=<path to it>") from error
        load_backbone_state(module, state, imagenet.url, expected)
    elif isinstance(pretrained, (str, Path)):
        load_backbone_weights(module, pretrained, expected)


def load_backbone_state(module: nn.Module, state: Mapping[str, torch.Tensor], source: str | Path,
                        expected: str = _GENERIC_EXPECTED) -> None:
    """Load ``state`` into ``module``; any mismatch raises :class:`PathProblemError` naming ``source``.

    Args:
        module: The backbone the weights go into.
        state: The weights; classifier keys the module does not have are ignored.
        source: The file or URL the weights came from, named in the error.
        expected: Describes the right weights file in the error message.

    Raises:
        PathProblemError: A key is missing from ``state``, not in the module, or of the wrong shape.
    """
    own = module.state_dict()
    state = {key: value for key, value in state.items() if key in own or not key.startswith(_CLASSIFIER_PREFIXES)}
    # Old torchvision files predate BatchNorm's step counter; it is not a weight.
    missing = [key for key in own if key not in state and not key.endswith("num_batches_tracked")]
    unexpected = [key for key in state if key not in own]
    fitted, wrong_shape = {}, []
    for key, value in state.items():
        if key not in own:
            continue
        target = own[key].shape
        if value.shape == target:
            fitted[key] = value
        elif len(target) == 4 and value.shape == (target[0], target[1:].numel()):
            fitted[key] = value.reshape(target)  # a fully connected layer recast as a convolution
        else:
            wrong_shape.append(f"{key} is {tuple(value.shape)} in the file but {tuple(target)} in the model")
    problems = [_listing(keys, kind) for keys, kind in ((missing, "missing from the file"),
                                                        (unexpected, "not in the model"),
                                                        (wrong_shape, "of the wrong shape")) if keys]
    if problems:
        raise PathProblemError(source, "weights do not fit the model's backbone: " + "; ".join(problems),
                               f"pass {expected}, or pretrained=False")
    module.load_state_dict(fitted, strict=False)


def adapt_first_conv(conv: nn.Conv2d, in_channels: int, pretrained: bool) -> nn.Conv2d:
    """``conv`` taking ``in_channels`` bands instead of 3.

    Pre-trained RGB filters are repeated over the new bands and rescaled so the
    response keeps its size (as segmentation-models-pytorch does); otherwise the new
    filters are initialised like torchvision's.
    """
    if in_channels == conv.in_channels:
        return conv
    new = nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                    bias=conv.bias is not None)
    with torch.no_grad():
        if pretrained:
            bands = [i % conv.in_channels for i in range(in_channels)]
            new.weight.copy_(conv.weight[:, bands] * conv.in_channels / in_channels)
            if conv.bias is not None:
                new.bias.copy_(conv.bias)
        else:
            nn.init.kaiming_normal_(new.weight, mode="fan_out", nonlinearity="relu")
            if new.bias is not None:
                new.bias.zero_()
    return new


def _read_state_dict(path: Path, expected: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise PathProblemError(path, "weights file not found", f"pass the path of {expected}, or pretrained=True to "
                               "download ImageNet weights")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as error:
        raise PathProblemError(path, f"cannot be read as PyTorch weights ({_first_sentence(error)})",
                               f"download or save it again if it is truncated; it must be {expected} "
                               "(a state dict, not a pickled model)") from error
    if isinstance(content, dict):
        content = content.get("state_dict", content.get("model", content))
    if not (isinstance(content, dict) and content
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in content.items())):
        raise PathProblemError(path, f"holds a {type(content).__name__}, not a state dict of tensors",
                               f"pass {expected}")
    return content


def _first_sentence(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0].split(". ")[0][:200] if text else type(error).__name__


def _listing(keys: list[str], kind: str) -> str:
    shown = ", ".join(keys[:3]) + (", …" if len(keys) > 3 else "")
    return f"{len(keys)} key(s) {kind} ({shown})"
