"""What the built demo book claims, read back from its records: the baselines are there, the rule is applied, and
the comparisons are judged.

Runs after `make book` (``make test`` orders it so); a missing record fails with the command that writes it.
The demo profile's settings were chosen so that the best model in each group reaches at least twice all
landslide's IoU. Whether a model is no result is recomputed here from the recorded paired differences (the interval
of its Δ mIoU to the better constant, by point mIoU, does not lie above 0), not with the package's own rule
function, and every such model must be said to be no result on the page. The page must state at least one
model-against-model difference that is distinguishable and one that is not, each with its interval (issue 23 §4).
"""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest

from landslide_core.book.page import results_folder
from landslide_core.book.runner import SECTIONS_DIR, repository_root
from landslide_core.eval.baselines import ALL_LANDSLIDE, BASELINES, CONSTANTS, is_baseline


def _record(section: str, name: str) -> pd.DataFrame:
    path = results_folder("demo", section) / f"{name}.csv"
    if not path.is_file():
        pytest.fail(f"{path} is missing: build the demo book first (make book)")
    return pd.read_csv(path)


def _page_text(name: str) -> str:
    notebook = nbformat.read(repository_root() / SECTIONS_DIR / f"{name}.ipynb", as_version=4)
    return "\n".join(str(output.get("data", {}).get("text/markdown", "")) for cell in notebook.cells
                     for output in cell.get("outputs", []))


def _no_result(rows: pd.DataFrame, differences: pd.DataFrame, group: str) -> list[str]:
    """The models of ``group`` whose Δ mIoU to the better constant has an interval that does not lie above 0."""
    constants = rows[rows["model"].isin(CONSTANTS)]
    constant = constants.loc[constants["miou"].idxmax(), "model"]
    found = []
    for model in rows.loc[~is_baseline(rows["model"]), "model"]:
        pair = differences[(differences["group"] == group) & (differences["metric"] == "miou")
                           & (((differences["a"] == model) & (differences["b"] == constant))
                              | ((differences["a"] == constant) & (differences["b"] == model)))]
        assert len(pair) == 1, f"{group}: no recorded Δ mIoU between {model} and {constant}"
        low = pair["low"].iloc[0] if pair["a"].iloc[0] == model else -pair["high"].iloc[0]
        if not low > 0:
            found.append(model)
    return found


def test_table5_has_every_baseline_in_every_group_and_every_model_is_a_result_or_said_not_to_be():
    table = _record("benchmarks", "table5_run")
    differences = _record("benchmarks", "table5_differences")
    page = _page_text("05_benchmarks")
    for group, rows in table.groupby("group"):
        assert set(BASELINES) <= set(rows["model"]), f"{group}: baselines missing"
        below = _no_result(rows, differences, group)
        rows = rows.set_index("model")
        models = rows[~is_baseline(rows.index.to_series())]
        floor = rows.loc[ALL_LANDSLIDE]
        assert len(models), f"{group}: no model was trained"
        unsaid = [m for m in below if f"**Not a result: {m} on {group}**" not in page]
        assert not unsaid, f"{group}: {unsaid} are no result by the baselines' rule and the page does not say so"
        best = models["iou"].max()
        assert best >= 2 * floor["iou"], (f"{group}: the best landslide IoU {best:.1f} % is under twice all "
                                          f"landslide's {floor['iou']:.1f} %")


def test_table5_page_states_a_distinguishable_and_an_indistinguishable_model_difference():
    differences = _record("benchmarks", "table5_differences")
    models = differences[~is_baseline(differences["a"]) & ~is_baseline(differences["b"])
                         & (differences["metric"] == "iou")]
    apart = models[(models["low"] > 0) | (models["high"] < 0)]
    together = models[(models["low"] <= 0) & (models["high"] >= 0)]
    assert len(apart) and len(together), "the demo grid needs one distinguishable and one indistinguishable pair"
    page = _page_text("05_benchmarks")
    said = [(a, b) if low > 0 else (b, a) for a, b, low in apart[["a", "b", "low"]].to_numpy()
            if f"{a if low > 0 else b} beats {b if low > 0 else a} (Δ" in page]
    unsure = [(a, b) for a, b in together[["a", "b"]].to_numpy()
              if f"{a} and {b} are not distinguishable on these tiles (Δ" in page]
    assert said and unsure, "the summary must state one judged model difference of each kind, with its interval"


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
