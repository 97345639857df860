"""The paper in one place: its numbers, its words, and where we read more into them than it says.

- ``scores.csv``: every published score of Tables 5, 6 and 7 (read by :mod:`landslide_core.eval.paper`);
- ``table2_subdatasets.csv``, ``table4_regions.csv``: Tables 2 and 4, with columns of ours beside them
  (read by :mod:`landslide_core.sources.cas.registry`, which says which columns are ours);
- ``quotes.yaml``: each statement of the paper the book relies on, verbatim, with its section or table
  (:func:`quote`, :func:`says`);
- ``silences.yaml``: what the paper does not state, each with words absent from its text (:func:`unstated`);
- ``inferences.yaml``: each interpretation of ours, with the words of the paper, the evidence and the parameter that
  changes it (:func:`inferences`);
- :mod:`.mismatches`: where the paper's own numbers disagree, computed from the tables above.

A page sentence that attributes something to the paper takes its words from :func:`says` or :func:`quote`, so
what the book says the paper says is always the paper's text.
"""

from .inferences import Inference, inferences
from .mismatches import Mismatch, mismatches
from .statements import Quote, Silence, quote, quotes, says, silences, unstated

__all__ = [
    "Inference", "Mismatch", "Quote", "Silence", "inferences", "mismatches", "quote", "quotes", "says", "silences",
    "unstated",
]
