"""A rerun means what it says: a section rebuilt with other settings trains new runs and describes them.

Each test builds one section in a copy of this working tree (what a fresh clone holds) with small settings, then
rebuilds it with another ``epochs`` and then with another ``lr``, as a user would with ``landslide-core book
--section NAME -p NAME VALUE``. Every build must read runs made under its own settings: histories as long as the
epochs asked for with other training losses, run scores that differ from the previous build's (equal only for a
model that predicts one class, or where they come from an epoch that trained identically in both builds), and a
training sentence on the page that is the one the runs' own ``config.json`` gives. The benchmarks page's part on
the real sample trains runs of its own settings (``sample_*``), not ``epochs`` or ``lr``: they are checked apart, to
be the same runs in every build, described by their own sentence. Built once more with the first settings, the
benchmarks page reads the first build's runs back untouched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from landslide_core.sections.benchmarks import SPLIT_KINDS
from landslide_core.sections.sample_benchmark import SAMPLE_RUNS
from landslide_core.sections.training_text import describe_training
from tests.conftest import working_tree_copy

SENTENCE = "Training, as each run's own `config.json` records it: "
# Every page's runs train two optimisation steps an epoch: enough for each build's losses to differ from the last's.
SMALL = {"steps_per_epoch": "2", "crop_size": "64", "val_crop_size": "64"}
SECTIONS = {
    # section: (notebook, its small settings, the record of its model rows)
    "benchmarks": ("05_benchmarks", {**SMALL, "models": "[unet]", "groups": "[SAT]", "per_model": "{}", "val_every": "1",
                                     "sample_epochs": "2", "sample_crop_size": "64", "sample_val_every": "2"},
                   "table5_run"),
    "validation": ("04_validation", {**SMALL, "val_every": "1"}, "table6_runs"),
    "cross_dataset": ("06_cross_dataset", {**SMALL, "datasets": "{bijie: null}", "cas_groups": "[SAT]",
                                           "checkpoint_every": "1"}, "table7_runs"),
}
BASELINES = ["all landslide", "all background", "threshold rule"]


def build(checkout: Path, section: str, settings: dict[str, str]) -> None:
    """``landslide-core book --execute-only --section SECTION -p NAME VALUE ...`` in ``checkout``."""
    command = [sys.executable, "-m", "landslide_core", "book", "--execute-only", "--section", section]
    for name, value in settings.items():
        command += ["-p", name, value]
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def page_sentences(checkout: Path, notebook: str) -> list[str]:
    """The training sentences the executed page shows, in page order: its main runs' first, then (benchmarks) those
    of its part on the real sample."""
    page = nbformat.read(checkout / "book" / "sections" / f"{notebook}.ipynb", as_version=4)
    texts = [output.get("data", {}).get("text/markdown", "") for cell in page.cells for output in cell.get("outputs", [])]
    return [text[len(SENTENCE):].rstrip(".") for text in texts if text.startswith(SENTENCE)]


def page_sentence(checkout: Path, notebook: str) -> str:
    """The training sentence of the page's main runs."""
    found = page_sentences(checkout, notebook)
    assert found, "the page shows its training sentence"
    return found[0]


def runs_read(checkout: Path, section: str, *, sample: bool = False) -> list[Path]:
    """The run folders the page read, as it recorded them: those of its main data, or (``sample``) those of its part
    on the real sample (under a ``sample`` folder of its runs)."""
    results = checkout / "results" / "demo" / section
    record = json.loads((results / "runs_read.json").read_text(encoding="utf-8"))
    folders = [results / name for name in record["folders"]]
    return [f for f in folders if (SAMPLE_RUNS in f.relative_to(results).parts) == sample]


def configs_of(folders: list[Path]) -> list[dict]:
    """The runs' own ``config.json``."""
    return [json.loads((folder / "config.json").read_text(encoding="utf-8")) for folder in folders]


def model_scores(checkout: Path, section: str, record: str) -> pd.DataFrame:
    """The models' (IoU, mIoU) rows of the page's record."""
    table = pd.read_csv(checkout / "results" / "demo" / section / f"{record}.csv").rename(columns=str.lower)
    return table[~table["model"].isin(BASELINES)][["iou", "miou"]].reset_index(drop=True)


def stem(folder: Path) -> str:
    """A run folder's name without its configuration digest: the same (model, group, seed) across builds."""
    return folder.name.rsplit("-", 1)[0]


def run_file(folder: Path) -> Path:
    """A run's own scores file: ``scores.csv`` (Table 7: ``transfer.csv``)."""
    return folder / "scores.csv" if (folder / "scores.csv").is_file() else folder / "transfer.csv"


def run_results(folder: Path) -> pd.DataFrame:
    """A run's own scores, with their confusion counts."""
    return pd.read_csv(run_file(folder), keep_default_na=False)


def predicts_one_class(results: pd.DataFrame) -> bool:
    """Every row all landslide (no false negative, no true negative) or all background (no positive at all)."""
    return bool((((results["fn"] == 0) & (results["tn"] == 0)) | ((results["tp"] == 0) & (results["fp"] == 0))).all())


def chosen_epoch(folder: Path) -> list[float]:
    """The epoch a run's scores come from (best validation mIoU; the last where only it was validated), with its
    training loss and validation scores."""
    history = pd.read_csv(folder / "history.csv").dropna(subset=["val_miou"])
    row = history.loc[history["val_miou"].idxmax()]
    return [row["epoch"], row["train_loss"], row["val_iou"], row["val_miou"]]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> Path:
    return working_tree_copy(tmp_path_factory.mktemp("rerun"), demo=demo_data)


@pytest.mark.slow(seconds=150)
class TestBenchmarksPage:
    """Each page its own class: pytest-xdist's ``--dist loadscope`` (``make test``) gives each class to a process of its
    own, so that the three pages' builds run side by side (a module's tests would all go to one)."""

    def test_a_rebuild_with_other_epochs_then_another_lr_trains_and_describes_new_runs(self, checkout):
        check_rebuilds(checkout, "benchmarks")


@pytest.mark.slow(seconds=145)
class TestValidationPage:
    def test_a_rebuild_with_other_epochs_then_another_lr_trains_and_describes_new_runs(self, checkout):
        check_rebuilds(checkout, "validation")


@pytest.mark.slow(seconds=130)
class TestCrossDatasetPage:
    def test_a_rebuild_with_other_epochs_then_another_lr_trains_and_describes_new_runs(self, checkout):
        check_rebuilds(checkout, "cross_dataset")


def check_rebuilds(checkout: Path, section: str) -> None:
    """Three builds, each with its own runs; on the benchmarks page a fourth with the first settings again reads the
    first build's runs back untouched, without training."""
    notebook, small, record = SECTIONS[section]
    seen: list[set[Path]] = []
    before: dict[str, tuple[pd.DataFrame, list[float]]] = {}
    losses = None
    sample_runs: set[Path] | None = None
    written: dict[Path, int] = {}  # the first build's runs: when their scores were written
    for epochs, lr in ((1, 0.05), (2, 0.05), (2, 0.02)):
        build(checkout, section, {**small, "epochs": str(epochs), "lr": str(lr)})
        folders = runs_read(checkout, section)
        configs = configs_of(folders)
        assert folders and all(c["epochs"] == epochs and c["lr"] == lr for c in configs)
        sample = runs_read(checkout, section, sample=True)
        if sample:  # the part on the real sample: its own settings, so the same runs whatever epochs and lr say
            assert sample_runs is None or set(sample) == sample_runs, "the sample's runs were trained again"
            sample_runs = set(sample)
            in_page_order = sorted(sample, key=lambda f: SPLIT_KINDS.index(f.parent.name.removesuffix("-split")))
            assert page_sentences(checkout, notebook)[1:] == [describe_training(configs_of(in_page_order))]
        for folder in folders:
            assert len(pd.read_csv(folder / "history.csv")) == epochs, folder
        sentence = page_sentence(checkout, notebook)
        assert sentence == describe_training(configs)
        assert f"{epochs} epoch(s)" in sentence and f"learning rate {lr:g}" in sentence
        assert not any(set(folders) & older for older in seen), "a run of other settings was read back"
        seen.append(set(folders))
        histories = pd.concat([pd.read_csv(folder / "history.csv")["train_loss"] for folder in folders])
        assert losses is None or not histories.equals(losses), "the training is that of the previous build"
        now = {stem(folder): (run_results(folder), chosen_epoch(folder)) for folder in folders}
        for name, (results, chosen) in now.items():
            if name in before and results.equals(before[name][0]):
                # Legitimate only for a model that predicts one class (any number of epochs gives that), or where the
                # scores come from an epoch that trained identically in both builds.
                assert predicts_one_class(results) or chosen == before[name][1], (
                    f"{name}: the scores are those of the previous build, from other training")
        before, losses = now, histories
        assert len(model_scores(checkout, section, record)) == len(folders)  # one row per run on the page
        written = written or {f: run_file(f).stat().st_mtime_ns for f in folders}
    if section == "benchmarks":
        # The first settings again: their runs are read back, untouched (no training), and described.
        build(checkout, section, {**small, "epochs": "1", "lr": "0.05"})
        assert {f: run_file(f).stat().st_mtime_ns for f in runs_read(checkout, section)} == written
        assert "1 epoch(s)" in page_sentence(checkout, notebook)
