"""A rerun means what it says: a section rebuilt with other settings trains new runs and describes them.

Each test builds one section in a copy of this working tree (what a fresh clone holds) with small settings, then
rebuilds it with another ``epochs`` and then with another ``lr``, as a user would with ``landslide-core book
--section NAME -p NAME VALUE``. Every build must read runs made under its own settings: histories as long as the
epochs asked for with other training losses, scores that differ from the previous build's (unless a model learned
nothing and scores exactly what a constant prediction does, which no number of epochs changes), and a training
sentence on the page that is the one the runs' own ``config.json`` gives.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from landslide_core.sections.training_text import describe_training
from tests.built.test_results_archive import working_tree_copy

SENTENCE = "Training, as each run's own `config.json` records it: "
SECTIONS = {
    # section: (notebook, its small settings, the record of its model rows, the rows' model column)
    "benchmarks": ("05_benchmarks", {"models": "[unet]", "groups": "[SAT]", "per_model": "{}", "val_every": "1",
                                     "crop_size": "64", "val_crop_size": "64"}, "table5_run"),
    "validation": ("04_validation", {"val_every": "1", "crop_size": "64", "val_crop_size": "64"}, "table6_runs"),
    "cross_dataset": ("06_cross_dataset", {"datasets": "{bijie: null}", "cas_groups": "[SAT]", "crop_size": "64",
                                           "val_crop_size": "64", "checkpoint_every": "1"}, "table7_runs"),
}
BASELINES = ["all landslide", "all background", "threshold rule"]


def build(checkout: Path, section: str, settings: dict[str, str]) -> None:
    """``landslide-core book --execute-only --section SECTION -p NAME VALUE ...`` in ``checkout``."""
    command = [sys.executable, "-m", "landslide_core", "book", "--execute-only", "--section", section]
    for name, value in settings.items():
        command += ["-p", name, value]
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def page_sentence(checkout: Path, notebook: str) -> str:
    """The training sentence the executed page shows."""
    page = nbformat.read(checkout / "book" / "sections" / f"{notebook}.ipynb", as_version=4)
    texts = [output.get("data", {}).get("text/markdown", "") for cell in page.cells for output in cell.get("outputs", [])]
    found = [text for text in texts if text.startswith(SENTENCE)]
    assert len(found) == 1, "the page shows one training sentence"
    return found[0][len(SENTENCE):].rstrip(".")


def runs_read(checkout: Path, section: str) -> list[Path]:
    """The run folders the page read, as it recorded them."""
    results = checkout / "results" / "demo" / section
    record = json.loads((results / "runs_read.json").read_text(encoding="utf-8"))
    return [results / name for name in record["folders"]]


def model_scores(checkout: Path, section: str, record: str) -> tuple[pd.DataFrame, bool]:
    """The models' (IoU, mIoU) rows of the page's record, and whether each equals a constant baseline's there.

    A model that learned nothing predicts one class everywhere and scores exactly what that constant scores, in
    any number of epochs; only then may two builds give equal scores.
    """
    table = pd.read_csv(checkout / "results" / "demo" / section / f"{record}.csv").rename(columns=str.lower)
    models = table[~table["model"].isin(BASELINES)][["iou", "miou"]].reset_index(drop=True)
    constants = table[table["model"].isin(BASELINES[:2])][["iou", "miou"]]
    constant = all(((constants - row).abs().max(axis=1) < 1e-9).any() for _, row in models.iterrows())
    return models, constant


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return working_tree_copy(tmp_path_factory.mktemp("rerun"))


@pytest.mark.slow
@pytest.mark.parametrize("section", list(SECTIONS))
def test_a_rebuild_with_other_epochs_then_another_lr_trains_and_describes_new_runs(checkout, section):
    notebook, small, record = SECTIONS[section]
    seen: list[set[Path]] = []
    previous, losses = None, None
    for epochs, lr in ((2, 0.05), (3, 0.05), (3, 0.02)):
        build(checkout, section, {**small, "epochs": str(epochs), "lr": str(lr)})
        folders = runs_read(checkout, section)
        configs = [json.loads((folder / "config.json").read_text(encoding="utf-8")) for folder in folders]
        assert folders and all(c["epochs"] == epochs and c["lr"] == lr for c in configs)
        for folder in folders:
            assert len(pd.read_csv(folder / "history.csv")) == epochs, folder
        sentence = page_sentence(checkout, notebook)
        assert sentence == describe_training(configs)
        assert f"{epochs} epoch(s)" in sentence and f"learning rate {lr:g}" in sentence
        assert not any(set(folders) & older for older in seen), "a run of other settings was read back"
        seen.append(set(folders))
        histories = pd.concat([pd.read_csv(folder / "history.csv")["train_loss"] for folder in folders])
        assert losses is None or not histories.equals(losses), "the training is that of the previous build"
        scores, constant = model_scores(checkout, section, record)
        if previous is not None and not constant:
            assert not scores.equals(previous), "the scores are those of the previous build"
        previous, losses = scores, histories


@pytest.mark.slow
def test_the_first_settings_again_read_their_own_runs_back_without_training(checkout):
    """Settings A, then B, then A again: the third build reads A's runs back, untouched, and describes them."""
    notebook, small, _ = SECTIONS["benchmarks"]
    first, other = {**small, "epochs": "2", "lr": "0.05"}, {**small, "epochs": "3", "lr": "0.05"}
    build(checkout, "benchmarks", first)
    folders = runs_read(checkout, "benchmarks")
    before = {f: (f / "scores.csv").stat().st_mtime_ns for f in folders}
    build(checkout, "benchmarks", other)
    assert set(runs_read(checkout, "benchmarks")).isdisjoint(folders)
    build(checkout, "benchmarks", first)
    assert {f: (f / "scores.csv").stat().st_mtime_ns for f in runs_read(checkout, "benchmarks")} == before
    assert "2 epoch(s)" in page_sentence(checkout, notebook)
