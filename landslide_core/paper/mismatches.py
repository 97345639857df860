"""Where the paper's own numbers disagree, computed from its tables, so pages show both values instead of one.

The native resolutions in :data:`NATIVE_RESOLUTION` are ours (the sensors' public specifications), not the
paper's; they explain the footnote on Table 2's ground resolution, which is quoted as published.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["NATIVE_RESOLUTION", "Mismatch", "mismatches", "resolution_footnote"]

NATIVE_RESOLUTION = {
    "Sentinel-2/L2A": "10 m (red, green and blue bands)",
    "Landsat": "30 m (15 m panchromatic on Landsat 7 and 8)",
    "WorldView2/3": "about 0.3–0.5 m panchromatic and 1.2–2 m multispectral",
    "GF-1": "2 m panchromatic and 8 m multispectral",
}
"""Ours, from the sensors' specifications: native ground resolution of the sensors whose Table 2 value differs."""


@dataclass(frozen=True)
class Mismatch:
    """Two places in the paper that give different numbers for what should be the same thing."""

    key: str
    first: str
    """The first place and its number, e.g. ``Table 2, SAT rows summed: 7,422``."""
    second: str
    note: str
    """One line on what the book does about it."""

    def line(self) -> str:
        """``first``; ``second``: ``note`` — one line for a page."""
        return f"{self.first}; {self.second}. {self.note}"


def _rows(name: str) -> list[dict[str, str]]:
    with resources.files(__package__).joinpath(name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _score(table: str, dataset: str, column: str) -> float:
    (row,) = [r for r in _rows("scores.csv") if r["table"] == table and r["dataset"] == dataset]
    return float(row[column])


@cache
def mismatches() -> dict[str, Mismatch]:
    """Inconsistent numbers of the paper by key: ``sat_tiles``, ``table7_cas_rows``, ``one_percent``."""
    table2 = _rows("table2_subdatasets.csv")
    tiles = {group: sum(int(r["paper_tiles"]) for r in table2 if r["group"] == group) for group in ("UAV", "SAT")}
    sat_rows = sum(r["group"] == "SAT" for r in table2)
    outside = {group: sum(int(r["paper_tiles"]) for r in table2 if r["group"] == group
                          and not r["key"].startswith("moxitaidi")) for group in ("UAV", "SAT")}
    table7 = {group: int(float(_score("7", group, "number"))) for group in ("UAV", "SAT")}
    gain = {m: _score("6", "SAT", m) - _score("6", "Original SAT", m) for m in ("oa", "iou")}
    return {
        "sat_tiles": Mismatch(
            "sat_tiles", f"Table 2's {sat_rows} SAT rows sum to {tiles['SAT']:,} tiles",
            f"Table 6 gives the filtered SAT dataset {int(float(_score('6', 'SAT', 'number'))):,}",
            "Both are quoted as published; the book does not know which is right."),
        "table7_cas_rows": Mismatch(
            "table7_cas_rows",
            f"Table 7 trains on {table7['UAV']:,} UAV and {table7['SAT']:,} SAT tiles",
            f"Table 2 without the three Moxitaidi rows gives {outside['UAV']:,} and {outside['SAT']:,}",
            f"{outside['UAV'] - table7['UAV']} UAV and {outside['SAT'] - table7['SAT']} SAT tiles are unaccounted "
            "for; the book trains on every tile outside the validation sub-datasets."),
        "one_percent": Mismatch(
            "one_percent",
            "The Methods prose reports a 1 % increase in the validation accuracy from quality control",
            f"Table 6 shows OA +{gain['oa']:.3f} and IoU +{gain['iou']:.3f} points",
            "Neither is 1 point; the book compares runs with Table 6."),
    }


def resolution_footnote(sensor: str) -> str | None:
    """The footnote for a Table 2 row whose ground resolution is not its sensor's native one, else ``None``."""
    native = NATIVE_RESOLUTION.get(sensor)
    if native is None:
        return None
    return (f"quoted as published; {sensor}'s native resolution is {native} (ours, from the sensor's "
            "specifications), so the tiles were most likely resampled")
