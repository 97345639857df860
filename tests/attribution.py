"""Finding sentences that say what "the paper" says without quoting it, for the unit and the built-book tests.

The rule (issue 22): a sentence that attributes something to the paper ("as the paper", "the paper's …", "the
paper says/states/used …", "the paper: …") holds a quotation, in “curly quotes”, of at least four words that
``landslide_core/paper/quotes.yaml`` holds. Phrases that point at the paper's published numbers ("the paper's
values", "the paper's Table 5", "the paper's scores", …) need no quote: those come from ``scores.csv``. A sentence
saying what the paper does not state holds instead the words of one entry of ``silences.yaml`` ("no data
augmentation"), each checked there to be absent from the paper.
Written independently of ``landslide_core.paper.says``: it reads the text a reader reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

VERBS = ("says", "said", "states", "stated", "gives", "gave", "reports", "reported", "writes", "wrote", "found",
         "finds", "uses", "used", "trained", "trains", "did", "does", "describes", "described", "names", "named",
         "splits", "split", "chose", "calls", "called", "defines", "defined", "filtered", "excluded", "resized")
ATTRIBUTION = re.compile(rf"\bas (?:in )?the paper\b|\bthe paper(?:'s|’s)|\bthe paper (?:{'|'.join(VERBS)})\b|"
                         r"\bthe paper\s*:", re.IGNORECASE)
TABLE_CONTENT = re.compile(
    r"the paper(?:'s|’s) (?:own |published |printed )?(?:values?|scores?|numbers?|tables?|Table \d|rows?|columns?|"
    r"labels?|names?|counts?|order|IoU|mIoU|F1|precision|recall|OA|results?|best)\b", re.IGNORECASE)
QUOTED = re.compile(r"“([^”]+)”")
ABBREVIATIONS = ("Eq.", "Eqs.", "Fig.", "e.g.", "i.e.", "al.", "No.", "vs.")
"""Words ending in a full stop that do not end a sentence."""
MIN_WORDS = 4


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'").strip(" …\n\t")).lower()


def sentences(text: str) -> Iterator[str]:
    """Sentences of ``text``, never split inside “a quotation”, nor at a blank-line-free list item."""
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char == "“":
            depth += 1
        elif char == "”":
            depth = max(depth - 1, 0)
        elif depth == 0 and (char == "\n" and text[index + 1:index + 2] == "\n"
                             or char in ".!?" and text[index + 1:index + 2] in (" ", "\n", "")
                             and not text.endswith(ABBREVIATIONS, 0, index + 1)):
            yield text[start:index + 1]
            start = index + 1
    yield text[start:]


def unquoted_attributions(text: str, quotes: Iterable[str], silences: Iterable[str] = ()) -> list[str]:
    """The sentences of ``text`` that attribute something to the paper without one of ``quotes`` in “…”.

    A sentence that holds one of ``silences`` (what the paper does not state) passes too.
    """
    held = [_normal(q) for q in quotes]
    unsaid = [_normal(s) for s in silences]
    found = []
    for sentence in sentences(text):
        attributions = [m for m in ATTRIBUTION.finditer(sentence) if not TABLE_CONTENT.match(sentence, m.start())]
        if not attributions:
            continue
        if any(s in _normal(sentence) for s in unsaid):
            continue
        cited = [_normal(q) for q in QUOTED.findall(sentence)]
        if not any(len(q.split()) >= MIN_WORDS and any(q in h for h in held) for q in cited):
            found.append(" ".join(sentence.split()))
    return found


def registry_attributions(text: str) -> list[str]:
    """:func:`unquoted_attributions` with the quotes and silences the registry holds."""
    from landslide_core.paper import quotes, silences

    return unquoted_attributions(text, [q.text for q in quotes().values()], [s.what for s in silences().values()])
