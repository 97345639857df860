"""What the built demo book claims, read back from its records: the baselines are there and the models beat them.

Runs after `make book` (``make test`` orders it so); a missing record fails with the command that writes it.
The demo profile's settings were chosen so that the best model in each group reaches at least twice all
landslide's IoU, and every model is a result by the baselines' rule (``landslide_core.eval.baselines.no_result``: its
mIoU more than ``MARGIN`` points above the better constant's), or else the page says in so many words that it is no
result (a model that cannot learn within the CPU budget, with its measured cost).
"""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest

from landslide_core.book.page import results_folder
from landslide_core.book.runner import SECTIONS_DIR, repository_root
from landslide_core.eval.baselines import ALL_LANDSLIDE, BASELINES, is_baseline, no_result


def _record(section: str, name: str) -> pd.DataFrame:
    path = results_folder("demo", section) / f"{name}.csv"
    if not path.is_file():
        pytest.fail(f"{path} is missing: build the demo book first (make book)")
    return pd.read_csv(path)


def _page_text(name: str) -> str:
    notebook = nbformat.read(repository_root() / SECTIONS_DIR / f"{name}.ipynb", as_version=4)
    return "\n".join(str(output.get("data", {}).get("text/markdown", "")) for cell in notebook.cells
                     for output in cell.get("outputs", []))


def test_table5_has_every_baseline_in_every_group_and_every_model_is_a_result_or_said_not_to_be():
    table = _record("benchmarks", "table5_run")
    page = _page_text("05_benchmarks")
    for group, rows in table.groupby("group"):
        assert set(BASELINES) <= set(rows["model"]), f"{group}: baselines missing"
        unlearned = no_result(rows, "group")
        below = rows.loc[unlearned.index[unlearned], "model"].tolist()
        rows = rows.set_index("model")
        models = rows[~is_baseline(rows.index.to_series())]
        floor = rows.loc[ALL_LANDSLIDE]
        assert len(models), f"{group}: no model was trained"
        unsaid = [m for m in below if f"**Not a result: {m} on {group}**" not in page]
        assert not unsaid, f"{group}: {unsaid} are no result by the baselines' rule and the page does not say so"
        best = models["iou"].max()
        assert best >= 2 * floor["iou"], (f"{group}: the best landslide IoU {best:.1f} % is under twice all "
                                          f"landslide's {floor['iou']:.1f} %")


@pytest.mark.parametrize("section, name", [("validation", "table6_runs"), ("cross_dataset", "table7_baselines")])
def test_tables_6_and_7_carry_the_baselines_on_every_row(section, name):
    table = _record(section, name)
    for dataset, rows in table.groupby("dataset"):
        assert set(BASELINES) <= set(rows["model"]), f"{name}, {dataset}: baselines missing"


def test_the_inventory_page_maps_the_demo_scene_and_its_numbers_are_the_records():
    objects = _record("inventory", "object_scores").set_index("rule")
    pixels = _record("inventory", "pixel_scores").set_index("result")
    page = _page_text("08_inventory")
    assert "No inventory map" not in page and "The scene is **synthetic**" in page
    iou, centroid = (objects.loc[rule, ["detected", "missed", "false"]].astype(int) for rule in ("iou", "centroid"))
    assert (f"the IoU rule finds {iou['detected']}, misses {iou['missed']} and counts {iou['false']} false" in page
            and f"the centroid rule finds {centroid['detected']}" in page)
    model = next(row for row in pixels.index if row.endswith("this scene") and not row.startswith("all landslide"))
    assert f"landslide IoU is {pixels.loc[model, 'IoU']:.1f} %" in page
    assert any(row.endswith("validation tiles (hokkaido)") for row in pixels.index), "tile scores beside the scene's"


def test_no_page_shows_an_empty_note_as_an_object():
    """``display(Markdown(""))`` renders as ``<IPython.core.display.Markdown object>`` on the page."""
    for path in sorted((repository_root() / SECTIONS_DIR).glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        empty = [index for index, cell in enumerate(notebook.cells) for output in cell.get("outputs", [])
                 if output.get("data", {}).get("text/markdown", None) == ""]
        assert not empty, f"{path.name}: cells {empty} display an empty Markdown note"


def test_no_page_shows_the_builders_own_folders():
    """Pages print paths relative to the repository: the absolute checkout folder appears in no output."""
    root = str(repository_root().resolve())
    for path in sorted((repository_root() / SECTIONS_DIR).glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                shown = str(output.get("text", "")) + " ".join(map(str, output.get("data", {}).values()))
                assert root not in shown, f"{path.name}: an output shows {root}"
