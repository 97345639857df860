"""The interpretations the book rests on, read from ``inferences.yaml``: the words of the paper, the evidence, our choice."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from .statements import Quote, quote

__all__ = ["Inference", "inferences"]


@dataclass(frozen=True)
class Inference:
    """One reading of ours where the paper is silent or unclear."""

    key: str
    title: str
    quotes: tuple[Quote, ...]
    """The words of the paper the reading starts from."""
    evidence: str
    choice: str
    """What we do, said as ours."""
    parameter: str
    """The parameter that changes the choice, or why none does."""


@cache
def inferences() -> tuple[Inference, ...]:
    """Every interpretation, in the order of ``inferences.yaml``."""
    with resources.files(__package__).joinpath("inferences.yaml").open(encoding="utf-8") as f:
        entries = yaml.safe_load(f)
    return tuple(
        Inference(key=e["key"], title=e["title"], quotes=tuple(quote(k) for k in e["quotes"]),
                  evidence=e["evidence"], choice=e["choice"], parameter=e["parameter"])
        for e in entries
    )
