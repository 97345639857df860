"""The benchmarks page's grid, planned outside the page: what ``landslide-core grid`` lists, submits and runs.

The cells come from the same parameters the page runs with (the profile, its
``benchmarks`` entry, then ``-p`` overrides), and go to the same runs folder, so
the page built afterwards finds every finished cell.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..book.page import results_folder
from ..book.profiles import get_profile, section_key, section_parameters
from ..book.runner import declared_parameters, repository_root, resolve_data_root, sections, stage_notebook
from ..errors import GridError
from ..experiments.grid import Cell
from ..models import build_model
from .benchmarks import GridSettings, benchmark_cells, grid_runs_dir, prepare_splits

__all__ = ["SECTION", "GridPlan", "page_values", "plan_grid"]

SECTION = "benchmarks"


@dataclass(frozen=True)
class GridPlan:
    """The benchmarks page's grid for one profile: its settings, data, runs folder and cells."""

    profile: str
    settings: GridSettings
    data_root: Path
    runs_dir: Path
    cells: list[Cell]

    def cell(self, index: int) -> Cell:
        """Cell ``index``, as :func:`landslide_core.experiments.grid.grid_table` numbers it.

        Raises:
            GridError: No cell has that number.
        """
        if not 0 <= index < len(self.cells):
            raise GridError(f"no cell {index}: this grid has cells 0 to {len(self.cells) - 1} (list them with "
                            f"`landslide-core grid --profile {self.profile}` and the same -p options)")
        return self.cells[index]

    def fetch_weights(self) -> None:
        """With ImageNet-pretrained backbones, build each model once here, which downloads its weights.

        They land in torch's cache: cluster compute nodes often have no internet, login nodes do.
        """
        if self.settings.pretrained is True:
            for model in self.settings.models:
                build_model(model, pretrained=True)


def _literal(text: Any) -> Any:
    """A parameter's default as the notebook writes it (papermill gives its source text) turned into its value."""
    try:
        return ast.literal_eval(text) if isinstance(text, str) else text
    except (ValueError, SyntaxError):
        return text


def page_values(section: str, profile: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The parameters a section page runs with: its defaults, the profile's values, then ``overrides``.

    Raises:
        ProfileError: The profile needs a parameter that is not given (the paper profile: ``data_root``).
        GridError: An override is not a parameter of the page, or the book has no such page.
    """
    root = repository_root()
    name = next((n for n in sections(root) if section_key(n) == section), None)
    if name is None:
        raise GridError(f"{root / '_toc.yml'} lists no {section} section, so there is nothing to plan; run the "
                        "command in a checkout of the book")
    declared = declared_parameters(stage_notebook(root, name))
    unknown = sorted(set(overrides or {}) - set(declared))
    if unknown:
        raise GridError(f"parameter(s) {', '.join(unknown)} are not parameters of the {section} page; it declares "
                        f"{', '.join(declared)}")
    defaults = {key: _literal(text) for key, text in declared.items()}
    return {**defaults, **section_parameters(get_profile(profile), name, declared, overrides or {})}


def plan_grid(profile: str, overrides: Mapping[str, Any] | None = None) -> GridPlan:
    """The grid the benchmarks page would train with ``profile`` and ``overrides`` (``-p NAME VALUE``).

    Writes the split manifests every cell reads when they are missing (before any job starts, so none writes them
    at once): a cell's folder is named by its manifest's checksum among the rest of its configuration.

    Raises:
        ProfileError: The profile needs a parameter that is not given (the paper profile: ``data_root``).
        GridError: An override is not a parameter of the benchmarks page, or the book has no benchmarks page.
    """
    values = page_values(SECTION, profile, overrides)
    settings = GridSettings.from_parameters(values)
    data_root = resolve_data_root(values.get("data_root"))
    runs_dir = grid_runs_dir(results_folder(profile, SECTION), values.get("runs_dir"), settings.split)
    prepare_splits(data_root, runs_dir, settings)
    return GridPlan(profile, settings, data_root, runs_dir, benchmark_cells(runs_dir, settings, data_root))
