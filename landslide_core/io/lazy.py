"""A package's names loaded on first use (PEP 562).

Importing one light module of a package runs the package's ``__init__`` first; where that re-exports names from its
heavy modules (torch, the models), every process that needs only the light one (the command line, the book runner)
would pay seconds for them. A package that assigns ``__getattr__ = lazy_names(__name__, {...})`` imports a name's
module only when the name is first used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: each name of ``homes`` from its module (relative, e.g. ``.page``)."""

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(homes[name], package), name)

    return __getattr__
