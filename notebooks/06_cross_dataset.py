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
# **Overview.** Paper Table 7 scores DeepLabV3+ trained on four public landslide datasets (Bijie, Sichuan and
# surrounding areas, HR-GLDD, Landslide4Sense) and on CAS UAV, SAT and SAT + UAV tiles from outside Moxitaidi, every
# model validated on the 2,119 Moxitaidi tiles. This page regenerates it on whichever of these datasets it is given,
# each read in its official layout by a tile source and made into 512×512 RGB uint8 images with 0/1 masks; how the
# images are resized and converted is ours (see below the first table). Beyond Table 7, every model is also scored
# on every dataset's held-out part, so the matrix at the end shows which datasets transfer to which, and three
# baselines that learn nothing from context are scored on the same tiles. Every value carries a 95 % block-bootstrap
# interval over the held-out tiles (tiles that share pixels are resampled together), and every comparison the page
# draws is judged by the paired interval of its difference. Cells that only set up or record are folded away: click
# a cell's toggle to see its code.

# %% tags=["parameters", "hide-input"]
# CAS data root holding <sub-dataset>/{img,label,mask}/. None: the
# synthetic demo data.
data_root = None
# Parameter profile of this run (set by `landslide-core book --profile`).
profile = "demo"
# Public datasets to train on: source name → root in the official layout.
# A root of None means the dataset's synthetic stand-in (demo); leave a
# dataset out to skip it. "{data_root}" in a root stands for the CAS data
# root (a replica's stand-ins: "{data_root}/_stand_ins/bijie").
datasets = {"bijie": None, "sichuan": None, "hr-gldd": None,
            "landslide4sense": None}
# CAS sensor groups that each train a model (Table 7's rows: UAV, SAT,
# SAT + UAV).
cas_groups = ["UAV", "SAT", "UAV&SAT"]
# CAS sub-datasets held out as Table 7's validation set (Table 7
# validates on Moxitaidi).
validation = ["moxitaidi-sat", "moxitaidi-uav-0.6m", "moxitaidi-uav-1m"]
model = "deeplabv3plus"
epochs = 3
# Stop each epoch after this many optimisation steps; None: every batch.
steps_per_epoch = None
batch_size = 8
# SGD's initial learning rate (0.01 as in “employing the SGD optimizer
# with a learning rate of 0.01”).
lr = 0.01
# Write each run's resume checkpoint every this many epochs (and the last).
checkpoint_every = 1
# Random square training crops of the 512×512 standardized tiles; None:
# full tiles.
crop_size = 128
# Score central crops of this size (quick CPU runs); None: full tiles.
val_crop_size = 128
pretrained = False
device = "cpu"
# Data-loader processes; "auto": the cores this process may use, less one
# (at most 8; at most 1 on the CPU). 0: load in the training process.
num_workers = 0
# One model per dataset and seed; each seed also draws the held-out part of
# datasets without a split of their own.
seeds = [0]
# Held-out share of a public dataset without its own split (HR-GLDD has
# one).
val_fraction = 0.3
# Where runs (and the stand-ins they train on) go. None:
# results/<profile>/cross_dataset/runs/<code version>.
runs_dir = None
# Block-bootstrap resamples for the 95 % intervals, and the seed of their
# draws.
resamples = 10000
interval_seed = 0

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import HTML, Markdown, display

from landslide_core.book import open_section, paper_vs_run
from landslide_core.book.compare import (
    metric_tables_html,
    paper_vs_run_figure,
)
from landslide_core.book.runner import shown_path
from landslide_core.eval.baselines import BASELINES
from landslide_core.experiments.table7 import (
    held_out_blocks,
    judge_table7,
    judge_transfer,
    run_table7,
    table7,
    table7_baseline_tiles,
    table7_baselines,
    training_sets,
    training_sizes,
    transfer_matrix,
    transfer_tiles,
)
from landslide_core.scoring import PAPER_COLUMNS
from landslide_core.scoring.intervals import BootstrapSettings
from landslide_core.sections.benchmarks import runs_directory
from landslide_core.sections.cross_dataset import (
    CrossSettings,
    data_table,
    example_figure,
    examples_note,
    hrgldd_note,
    no_result_cells,
    pair_table,
    public_roots,
    roots_note,
    run_configs,
    short_label,
    stand_in_note,
    standardising_note,
    summary,
    table7_intervals,
    table7_verdicts,
    training_set_pairs,
    training_sets_note,
    transfer_heatmap,
    transfer_intervals,
    transfer_table,
    verdict_note,
    with_intervals,
)
from landslide_core.sections.training_text import describe_training
from landslide_core.tiles import select_split

settings = CrossSettings(
    model=model, epochs=epochs, batch_size=batch_size, crop_size=crop_size,
    val_crop_size=val_crop_size, pretrained=pretrained, device=device,
    num_workers=num_workers, seeds=tuple(seeds), lr=lr,
    checkpoint_every=checkpoint_every, steps_per_epoch=steps_per_epoch,
)
intervals = BootstrapSettings(resamples, interval_seed)
parameters = {"data_root": data_root, "datasets": datasets,
              "cas_groups": cas_groups, "validation": validation,
              "val_fraction": val_fraction, **settings.as_parameters(),
              "resamples": resamples, "interval_seed": interval_seed}
run = open_section("cross_dataset", profile=profile, parameters=parameters,
                   data_root=data_root, device=device)
runs_dir = runs_directory(run.results_dir, runs_dir)
# The stand-ins are written beside the runs: new code, new stand-ins.
roots = public_roots(datasets, runs_dir / "stand-ins", seed=seeds[0],
                     data_root=run.data_root)
sets = {
    seed: training_sets(run.data_root, roots, runs_dir / "splits",
                        seed=seed,
                        validation=validation, cas_groups=cas_groups,
                        val_fraction=val_fraction)
    for seed in seeds
}
first = sets[seeds[0]]
run.manifest = first[-1].held_out.manifest

# %%
data = data_table(first)
run.show(data[["source", "data"]], "datasets",
         caption="The data behind each row")
display(Markdown(roots_note(data)))
display(Markdown(stand_in_note(first)))
display(Markdown(f"Runs are kept in `{shown_path(runs_dir)}`, one folder "
                 "per configuration; an interrupted build resumes them."))
display(Markdown(standardising_note()))
display(Markdown(hrgldd_note()))

# %% [markdown]
# ## Training sets: this run's beside Table 7's counts

# %%
display(Markdown(training_sets_note()))
run.show(training_sizes(first).set_index("dataset"), "training_sizes",
         caption="Tiles per training set")

# %% [markdown]
# ## Training, and the baselines
#
# One model per training set (and seed), scored on every held-out part after its last epoch; then the three
# baselines on the CAS held-out region: **all landslide**, **all background**, and a **threshold rule** (one colour
# feature and one threshold) fitted on each row's training set, as its model was. The counts of every scored tile
# are then resampled for the intervals: each held-out part's tiles by leakage group (tiles that share pixels, found
# by the leakage audit, form one block), every model and baseline on a part with the same draws.

# %%
transfer = run_table7(sets, runs_dir, settings.train_config())
run.note_runs_read([runs_dir / name for name in transfer["run"].unique()])
configs = run_configs(runs_dir, transfer)
display(Markdown("Training, as each run's own `config.json` records it: "
                 f"{describe_training(configs)}."))
table = table7(transfer, first)
baselines = table7_baselines(first, settings.train_config())
column = first[-1].held_out.dataset
synthetic = run.synthetic or any(s.source.is_synthetic(s.held_out.root)
                                 for s in first)
blocks = held_out_blocks(sets)
tiles = transfer_tiles(transfer, runs_dir)
baseline_tiles = table7_baseline_tiles(first, settings.train_config())
models = judge_table7(transfer, tiles, baseline_tiles, first, blocks,
                      intervals)
judged = judge_transfer(transfer, tiles, blocks, intervals)
display(Markdown(f"Intervals: {intervals.describe()}; the blocks "
                 "resampled "
                 "are the leakage groups of each held-out part's tiles."))

# %% tags=["hide-input"]
shown_names = {**PAPER_COLUMNS,
               "f1_landslide": "F1 (landslide class)"}
run.record(transfer, "transfer_runs",
           caption="Every model on every held-out part, per seed (%)")
run.record(with_intervals(table, models).rename(columns=shown_names),
           "table7_runs",
           caption=f"This run: every model on {column}, with 95 % "
                   "intervals (%)")
run.record(with_intervals(baselines, models).rename(columns=shown_names),
           "table7_baselines",
           caption=f"The baselines on {column}, per training set, "
                   "with 95 % intervals (%)")

# %% [markdown]
# ## Paper Table 7 beside this run
#
# Every model scored on the CAS held-out region after its last epoch, with the baselines on the same tiles; this
# run's values with their 95 % intervals.

# %%
rows = pd.concat([table, baselines])
comparison = paper_vs_run(rows, 7, run_label=run.run_label,
                          keys=("model", "dataset"),
                          intervals=table7_intervals(models))
display(HTML(metric_tables_html(
    comparison.rename(index=short_label), rows="Dataset", columns="Model",
    flagged=no_result_cells(models), level=intervals.level,
    caption=f"Paper Table 7 and this run on {column} (%)")))
verdicts = table7_verdicts(models)
display(Markdown(verdict_note(verdicts, first, synthetic=run.synthetic)))

# %% tags=["hide-input"]
run.record(comparison, "table7",
           caption="Paper Table 7 and this run, with 95 % intervals (%)")
run.record(verdicts, "table7_verdicts",
           caption="Each published Table 7 value inside or outside this "
                   "run's 95 % interval")

# %% [markdown]
# The same comparison as a figure: the paper's score (open circle) and this run's (dot, its 95 % interval as a bar),
# baselines in grey.

# %%
figure = paper_vs_run_figure(comparison.rename(index=short_label),
                             baselines=BASELINES)

# %% [markdown]
# ## Example predictions
#
# Every model on the same held-out CAS tiles: the tile with the most landslide pixels in three of the validation
# sub-datasets, shown as the models were scored (central crops where `val_crop_size` is set).

# %%
note = examples_note(first, runs_dir, transfer, seed=seeds[0])
if note:
    display(Markdown(note))
else:
    held = select_split(first[-1].listed(), "val")
    figure = example_figure(first, runs_dir, transfer, held, seed=seeds[0],
                            device=device, crop_size=val_crop_size)

# %% [markdown]
# ## Beyond Table 7: which datasets transfer to which
#
# Each row is a model (the dataset it trained on), each column a dataset's held-out part; a cell is the landslide
# IoU with its 95 % interval. CAS rows share one held-out part, the validation region. The diagonal (a model on its
# own dataset) is the in-domain score; the rest is transfer.

# %%
matrix = transfer_matrix(transfer, "iou")
display(transfer_table(judged, matrix).style.set_caption(
    "Landslide IoU (%) [95 % interval] of every model (row: trained on) "
    "on every held-out part"))
heatmap = transfer_heatmap(matrix)

# %% tags=["hide-input"]
run.record(transfer_intervals(judged), "transfer_iou",
           caption="Landslide IoU (%) of every model on every part, with "
                   "95 % intervals")

# %% [markdown]
# ### Every two training sets on each held-out part
#
# A cell is Δ = A − B in landslide IoU (points) on the same tiles, with its paired 95 % interval: above 0, A beats
# B; below 0, B beats A; an interval that holds 0 means the two are not distinguishable on these tiles.

# %%
pairs = training_set_pairs(judged)
display(pair_table(pairs).style.set_caption(
    "Δ landslide IoU (points) [95 % interval] of every two training sets"))

# %% tags=["hide-input"]
run.record(pairs, "transfer_pairs",
           caption="Every two training sets on each held-out part: Δ "
                   "landslide IoU (points), its 95 % interval and verdict")

# %% [markdown]
# ## What this shows

# %%
display(Markdown(summary(table, matrix, models, judged,
                         synthetic=synthetic, configs=configs,
                         column=column)))
