"""``landslide-core validate``: check every tile under a data root and report each problem with its fix.

The checks are the source's (:meth:`~landslide_core.sources.base.TileSource.tile_problems`),
the same the torch dataset applies as it reads, so a bad tile gets the same
message in both places.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..errors import PathProblemError
from ..sources import TileSource, get_source

__all__ = ["ValidationReport", "validate_root"]


@dataclass
class ValidationReport:
    """The outcome of checking a data root: how many tiles were read and what is wrong."""

    root: Path
    tiles_checked: int = 0
    problems: list[PathProblemError] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)
    ignored_because: str = "not part of the source's layout"
    """Why the source ignored those paths (:attr:`~landslide_core.sources.TileSource.ignored_note`)."""

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def lines(self) -> list[str]:
        """One line per problem (file, problem, fix), notes on ignored folders, and a summary."""
        out = [str(p) for p in self.problems]
        out += [f"note: {p}: {self.ignored_because}; ignored" for p in self.ignored]
        verdict = "no problems found" if self.ok else f"{len(self.problems)} problem(s) found"
        out.append(f"{self.root}: {self.tiles_checked} tile(s) checked, {verdict}")
        return out


def validate_root(
    root: str | Path,
    subdataset_names: Iterable[str] | None = None,
    *,
    source: str | TileSource = "cas",
    progress: bool = True,
) -> ValidationReport:
    """Check every tile under ``root``: layout, readability, format, size and mask values.

    Args:
        root: The data root.
        subdataset_names: Only these sub-datasets (any spelling); ``None`` checks all found.
        source: The tile source (name or object) whose layout and checks apply.
        progress: Show a progress bar.

    Returns:
        Every problem found; nothing is raised for a bad tile.

    Raises:
        DatasetNotFoundError: ``root`` does not exist.
    """
    source = get_source(source)
    found = source.scan(root, subdataset_names)
    report = ValidationReport(root=Path(root), problems=list(found.problems), ignored=found.ignored,
                              ignored_because=source.ignored_note)
    for record in tqdm(found.records, desc="validating tiles", unit="tile", disable=not progress):
        report.problems.extend(source.tile_problems(record))
        report.tiles_checked += 1
    return report
