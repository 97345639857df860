"""The person's decisions on the flagged tiles: a template to edit, reading it back, and the tiles kept.

The template lists every scored tile with ``reject`` prefilled for flagged tiles and ``keep`` for the
rest; it is never overwritten once it exists, so a person's edits are never lost. Reading it back is
strict (every scored tile exactly once, only ``keep`` or ``reject``): a filtered dataset must not
depend on a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ...errors import DecisionsError
from ...io.atomic import write_text_atomic
from ...tiles import TileRecord

__all__ = ["DECISIONS", "DECISIONS_COLUMNS", "KEPT_COLUMNS", "kept_records", "kept_table", "read_decisions",
           "write_decisions_template"]

DECISIONS = ("keep", "reject")
"""The values a decision may take."""
DECISIONS_COLUMNS = ("subdataset", "name", "flagged", "reasons", "decision")
"""Columns of the decisions file; reading it back needs ``subdataset``, ``name`` and ``decision``."""
KEPT_COLUMNS = ("subdataset", "group", "name", "image", "mask")
"""Columns of ``kept.csv``: one row per kept tile."""
_HEADER_FIX = f"restore the header line `{','.join(DECISIONS_COLUMNS)}`"


def write_decisions_template(flags: pd.DataFrame, path: str | Path) -> bool:
    """Write the decisions template for ``flags`` unless ``path`` exists; True when it was written.

    Args:
        flags: :func:`~landslide_core.building.qc.flags.flag`'s output.
        path: The decisions file.
    """
    path = Path(path)
    if path.exists():
        return False
    template = flags[["subdataset", "name", "flagged", "reasons"]].copy()
    template["decision"] = flags["flagged"].map({True: "reject", False: "keep"})
    write_text_atomic(path, template.to_csv(index=False, lineterminator="\n"))
    return True


def _read_table(path: Path) -> pd.DataFrame:
    """The CSV as text columns.

    Raises:
        DecisionsError: The file is missing, empty or not CSV.
    """
    if not path.is_file():
        raise DecisionsError(path, "the decisions file does not exist",
                             "give the file `landslide-core qc` wrote (OUT/decisions.csv), or leave out --decisions")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DecisionsError(path, f"cannot be read as CSV ({error})", _HEADER_FIX + ", one row per tile") from error


def _checked_values(table: pd.DataFrame, where: Path) -> pd.Series:
    """The ``decision`` column in lower case, each ``keep`` or ``reject``.

    Raises:
        DecisionsError: A value is something else; the message gives its row (file line).
    """
    values = table["decision"].str.strip().str.lower()
    bad = ~values.isin(DECISIONS)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        row = table.iloc[i]
        raise DecisionsError(where, f"line {i + 2} ({row['subdataset']}/{row['name']}): decision "
                                    f"{table['decision'].iloc[i]!r} is neither keep nor reject",
                             "write keep or reject in the decision column of every row")
    return values


def _require(table: pd.DataFrame, columns: Iterable[str], where: Path) -> None:
    """Check that ``table`` has ``columns``.

    Raises:
        DecisionsError: It lacks one of them.
    """
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DecisionsError(where, f"has no column(s) {', '.join(missing)}", _HEADER_FIX)


def read_decisions(path: str | Path, scores: pd.DataFrame) -> pd.Series:
    """The decision (``keep`` or ``reject``) for every tile of ``scores``, indexed like ``scores``.

    Rows are matched by ``subdataset`` and ``name``; the other columns are not read, so rows may be
    reordered and the ``reasons`` edited. Values are read case-insensitively.

    Args:
        path: The decisions CSV (columns :data:`DECISIONS_COLUMNS`).
        scores: The scored tiles (:func:`~landslide_core.building.qc.scan.score_root`, or its flags).

    Raises:
        DecisionsError: The file is missing or not CSV, lacks a needed column, names a tile twice or a
            tile not among ``scores``, has a value other than keep/reject, or leaves a scored tile out;
            the message names the file, the line and the fix.
    """
    path = Path(path)
    table = _read_table(path)
    _require(table, ("subdataset", "name", "decision"), path)
    keys = table["subdataset"] + "/" + table["name"]
    repeated = keys.duplicated()
    if repeated.any():
        i = int(repeated.to_numpy().nonzero()[0][0])
        raise DecisionsError(path, f"line {i + 2} names tile {keys.iloc[i]} a second time",
                             "keep one row per tile")
    scored = pd.Series(scores.index, index=scores["subdataset"].astype(str) + "/" + scores["name"].astype(str))
    unknown = ~keys.isin(scored.index)
    if unknown.any():
        i = int(unknown.to_numpy().nonzero()[0][0])
        raise DecisionsError(path, f"line {i + 2} names tile {keys.iloc[i]}, which is not among the scored tiles",
                             "remove that row, or score the root that holds the tile")
    values = _checked_values(table, path)
    left_out = scored.index[~scored.index.isin(keys)]
    if len(left_out):
        raise DecisionsError(path, f"{len(left_out)} scored tile(s) have no row (first: {left_out[0]})",
                             "add a row with keep or reject for each; the template written by `landslide-core qc` "
                             "lists every tile (move this file away to get a fresh one)")
    decided = pd.Series(values.to_numpy(), index=keys.to_numpy())
    return pd.Series(decided.loc[scored.index].to_numpy(), index=scored.to_numpy(), name="decision")


def kept_table(scores: pd.DataFrame, decisions: pd.Series) -> pd.DataFrame:
    """The rows of ``scores`` decided ``keep``, with :data:`KEPT_COLUMNS` (what ``kept.csv`` holds).

    Args:
        scores: The scored tiles.
        decisions: :func:`read_decisions`'s output for them.
    """
    return scores.loc[decisions[decisions == "keep"].index, list(KEPT_COLUMNS)].reset_index(drop=True)


def kept_records(records: Iterable[TileRecord], decisions: str | Path | pd.DataFrame) -> list[TileRecord]:
    """The records of the tiles kept, in their given order: the filtered dataset to train on.

    Args:
        records: The tiles of the data root (e.g. ``get_source("cas").list_tiles(root)``).
        decisions: ``kept.csv`` (one row per kept tile), a decisions file (the rows decided ``keep``),
            as a path or a DataFrame; both need ``subdataset`` and ``name`` columns.

    Raises:
        DecisionsError: The table lacks a column or has a value other than keep/reject, or a kept tile
            is not among ``records`` (the data root changed since it was scored).
    """
    records = list(records)
    if isinstance(decisions, pd.DataFrame):
        where, table = Path("<decisions table>"), decisions
    else:
        where = Path(decisions)
        table = _read_table(where)
    _require(table, ("subdataset", "name"), where)
    if "decision" in table.columns:
        table = table[_checked_values(table.astype({"decision": str}), where) == "keep"]
    kept = set(table["subdataset"].astype(str) + "/" + table["name"].astype(str))
    missing = kept - {r.uid for r in records}
    if missing:
        raise DecisionsError(where, f"{len(missing)} kept tile(s) are not in the data root (first: {sorted(missing)[0]})",
                             "score the data root again with `landslide-core qc` and decide on its tiles")
    return [r for r in records if r.uid in kept]
