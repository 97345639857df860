"""The words of the paper the book relies on, verbatim (``quotes.yaml``), and what it does not state (``silences.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from ..errors import PaperStatementError

__all__ = ["Quote", "Silence", "quote", "quotes", "says", "silences", "unstated"]


@dataclass(frozen=True)
class Quote:
    """One statement of the paper: its words and where they are (section or table)."""

    key: str
    text: str
    where: str

    def cited(self) -> str:
        """The words in quotation marks, then where they are: ``“…” (Technical Validation)``."""
        return f"“{self.text}” ({self.where})"


@cache
def quotes() -> dict[str, Quote]:
    """Every quoted statement by key, in the order of ``quotes.yaml``."""
    with resources.files(__package__).joinpath("quotes.yaml").open(encoding="utf-8") as f:
        entries = yaml.safe_load(f)
    return {key: Quote(key=key, text=entry["text"], where=entry["where"]) for key, entry in entries.items()}


def quote(key: str) -> Quote:
    """The statement with this key.

    Raises:
        PaperStatementError: ``quotes.yaml`` has no such key; add the words of the paper there first.
    """
    try:
        return quotes()[key]
    except KeyError:
        raise PaperStatementError(
            f"no statement {key!r} in landslide_core/paper/quotes.yaml; add the words of the paper there (verbatim, "
            f"with where they are) before a page attributes them to the paper; known: {', '.join(quotes())}"
        ) from None


def says(key: str, lead: str = "The paper says") -> str:
    """A sentence quoting the paper: ``The paper says (Technical Validation): “…”``.

    Args:
        key: The statement's key in ``quotes.yaml``.
        lead: The words before the place, e.g. ``"as the paper says"`` inside a longer sentence.

    Raises:
        PaperStatementError: ``quotes.yaml`` has no such key.
    """
    q = quote(key)
    return f"{lead} ({q.where}): “{q.text}”"


@dataclass(frozen=True)
class Silence:
    """Something the paper does not state, with words that occur nowhere in its text (the tests check them)."""

    key: str
    what: str
    """The object of "The paper states …", e.g. ``no data augmentation``."""
    absent: tuple[str, ...]


@cache
def silences() -> dict[str, Silence]:
    """Every registered silence by key, in the order of ``silences.yaml``."""
    with resources.files(__package__).joinpath("silences.yaml").open(encoding="utf-8") as f:
        entries = yaml.safe_load(f)
    return {key: Silence(key=key, what=entry["what"], absent=tuple(entry["absent"])) for key, entry in entries.items()}


def unstated(key: str, lead: str = "The paper states") -> str:
    """A sentence saying what the paper does not state: ``The paper states no data augmentation``.

    Raises:
        PaperStatementError: ``silences.yaml`` has no such key; add it there, with words absent from the paper.
    """
    try:
        return f"{lead} {silences()[key].what}"
    except KeyError:
        raise PaperStatementError(
            f"no silence {key!r} in landslide_core/paper/silences.yaml; add what the paper does not state there, "
            f"with words that occur nowhere in its text; known: {', '.join(silences())}"
        ) from None
