# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: landslide-core (Python 3)
#     language: python
#     name: landslide-core
# ---

# %% [markdown]
# # Cross-dataset comparison
#
# **Overview.** Paper Table 7 trained DeepLabV3+ on four public landslide datasets (Bijie, Sichuan and surrounding
# areas, HR-GLDD, Landslide4Sense) and on the CAS UAV, SAT and UAV&SAT tiles outside Moxitaidi, and validated every
# model on the 2,119 Moxitaidi tiles. This page regenerates it on whichever of these datasets it is given, each read
# in its official layout by a tile source and standardized as the paper did: 512×512 RGB uint8 images with 0/1
# masks (images resized; multispectral floats stretched to 8 bits with percentiles of the training part). Beyond the
# paper, every model is also scored on every dataset's held-out part, so the matrix at the end shows which datasets
# transfer to which.

# %% tags=["parameters"]
# CAS data root holding <sub-dataset>/{img,label,mask}/. None: the embedded synthetic demo data.
data_root = None
# Parameter profile this run belongs to (set by `landslide-core book --profile`).
profile = "demo"
# Public datasets to train on: source name → root in the official layout. A root of None means the dataset's
# synthetic stand-in (demo); leave a dataset out to skip it.
datasets = {"bijie": None, "sichuan": None, "hr-gldd": None, "landslide4sense": None}
# CAS sensor groups that each train a model (paper rows UAV, SAT, SAT + UAV).
cas_groups = ["UAV", "SAT", "UAV&SAT"]
# CAS sub-datasets held out as the validation set of Table 7 (the paper's: Moxitaidi).
validation = ["moxitaidi-sat", "moxitaidi-uav-0.6m", "moxitaidi-uav-1m"]
model = "deeplabv3plus"
epochs = 3
batch_size = 8
# Random square training crops in pixels of the 512×512 standardized tiles; None trains on full tiles.
crop_size = 128
# Score central crops of this size (quick CPU runs); None: full tiles, as the paper.
val_crop_size = 128
pretrained = False
device = "cpu"
num_workers = 0
# One model per dataset and seed; each seed also draws the held-out part of datasets without a split of their own.
seeds = [0]
# Held-out share of a public dataset without a split of its own (HR-GLDD keeps its own).
val_fraction = 0.3
# Where runs (and the stand-ins they train on) go. None: results/<profile>/cross_dataset/runs/<code version>.
runs_dir = None

# %%
from IPython.display import Markdown, display

from landslide_core.book import open_section, paper_vs_run
from landslide_core.data.splits import read_manifest
from landslide_core.experiments.table7 import run_table7, table7, training_sets, training_sizes, transfer_matrix
from landslide_core.scoring import PAPER_COLUMNS
from landslide_core.sections.benchmarks import runs_directory
from landslide_core.sections.cross_dataset import (
    CrossSettings,
    baseline_row,
    data_table,
    example_figure,
    public_roots,
    stand_in_note,
    summary,
    transfer_heatmap,
)
from landslide_core.tiles import select_split

settings = CrossSettings(model=model, epochs=epochs, batch_size=batch_size, crop_size=crop_size,
                         val_crop_size=val_crop_size, pretrained=pretrained, device=device, num_workers=num_workers,
                         seeds=tuple(seeds))
parameters = {"data_root": data_root, "datasets": datasets, "cas_groups": cas_groups, "validation": validation,
              "val_fraction": val_fraction, **settings.as_parameters()}
run = open_section("cross_dataset", profile=profile, parameters=parameters, data_root=data_root, device=device)
runs_dir = runs_directory(run.results_dir, runs_dir)
roots = public_roots(datasets, runs_dir / "stand-ins", seed=seeds[0])  # beside the runs: new code, new stand-ins
sets = {seed: training_sets(run.data_root, roots, runs_dir / "splits", seed=seed, validation=validation,
                            cas_groups=cas_groups, val_fraction=val_fraction) for seed in seeds}
first = sets[seeds[0]]
run.manifest = first[-1].held_out.manifest
run.show(data_table(first), "datasets", caption="The data behind each row")
display(Markdown(stand_in_note(first)))
display(Markdown(f"Training: {settings.describe()}. Runs are kept in `{runs_dir}`; an interrupted build resumes "
                 "them."))

# %% [markdown]
# ## Training sets: what was found beside the paper's
#
# The paper trained on every sample of each public dataset (HR-GLDD: its training split) and on all CAS tiles of a
# group outside Moxitaidi. Here a public dataset without a split of its own keeps a held-out part (its share:
# `val_fraction`) so that every model can also be scored on it below.

# %%
run.show(training_sizes(first).set_index("dataset"), "training_sizes", caption="Tiles per training set")

# %%
transfer = run_table7(sets, runs_dir, settings.train_config())
table = table7(transfer, first)
column = first[-1].held_out.dataset
run.record(transfer, "transfer_runs", caption="Every model on every held-out part, per seed (%)")

# %% [markdown]
# ## Paper Table 7 beside this run
#
# Every model scored on the CAS held-out region after its last epoch. "constant mIoU" is the baseline: the mIoU of
# predicting one class everywhere on the same tiles; a model at or below it has learned nothing a constant could
# not do.

# %%
baseline = baseline_row(transfer, column)
shown_names = {**PAPER_COLUMNS, "f1_landslide": "F1 (landslide class)"}
run.show(table.set_index(["model", "dataset"]).rename(columns=shown_names).assign(**baseline), "table7_runs",
         caption=f"This run: every model on {column} (%)")
comparison = paper_vs_run(table, 7, run_label=run.run_label, keys=("model", "dataset"))
run.show(comparison, "table7", caption="Paper Table 7 and this run (%)")

# %% [markdown]
# ## Example predictions
#
# Every model on the same held-out CAS tiles: the tile with the most landslide pixels in three of the validation
# sub-datasets, shown as the models were scored (central crops where `val_crop_size` is set).

# %%
held = select_split(read_manifest(first[-1].held_out.manifest, run.data_root), "val")
figure = example_figure(first, runs_dir, held, seed=seeds[0], device=device, crop_size=val_crop_size)

# %% [markdown]
# ## Beyond the paper: which datasets transfer to which
#
# Each row is a model (the dataset it trained on), each column a dataset's held-out part; a cell is the landslide
# IoU. CAS rows share one held-out part, the validation region. The diagonal (a model on its own dataset) is the
# in-domain score; the rest is transfer.

# %%
matrix = transfer_matrix(transfer, "iou")
run.show(matrix, "transfer_iou", caption="Landslide IoU (%) of every model on every held-out part")
heatmap = transfer_heatmap(matrix)

# %%
display(Markdown(summary(table, matrix, baseline["constant mIoU"], synthetic=run.synthetic or any(
    s.source.is_synthetic(s.held_out.root) for s in first), settings=settings, column=column)))
