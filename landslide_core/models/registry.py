"""The table of registered models: a name, the paper's name for it, a description and a builder.

Model modules (:mod:`.fcn`, :mod:`.mffenet`, :mod:`.smp`) add themselves with
:func:`register`; :mod:`.build` imports them all and looks names up. This module
imports none of them, so the registry and the models never import each other.

``pretrained``: ``False`` (random initialisation; never touches the network),
``True`` (ImageNet weights for the backbone, downloaded by torchvision/smp on a
machine with internet) or a path to a local file with those backbone weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

__all__ = ["ModelSpec", "Pretrained", "register", "registered"]

Pretrained = bool | str | Path


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its name, the paper's name for it, and what it is."""

    name: str
    paper_name: str
    description: str
    builder: Callable[..., nn.Module]


_REGISTRY: dict[str, ModelSpec] = {}


def register(name: str, paper_name: str, description: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator adding a builder ``(num_classes, in_channels, pretrained, **options) -> nn.Module`` as ``name``."""

    def add(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _REGISTRY[name] = ModelSpec(name, paper_name, description, builder)
        return builder

    return add


def registered() -> dict[str, ModelSpec]:
    """The registered models by name (a copy)."""
    return dict(_REGISTRY)
