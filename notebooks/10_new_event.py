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
# # A new event
#
# **Overview.** After an earthquake or a storm, a landslide mapper asks two questions that paper Table 5 (random
# tiles of the same events) does not answer: how well does a model trained on past events map this one, and how
# many of its tiles must be labelled before it maps it well? The paper touches the first once: Table 7 validates on
# one held-out region, Moxitaidi. This page asks both for every study region of paper Table 4 that the data holds,
# each held out in turn. Its design is ours:
#
# - Each region's tiles are split by leakage group: about 30 % are its **evaluation tiles**, on which every model
#   and baseline of the region is scored; the rest is its **labelled pool**. Tiles that share pixels across the two
#   are left out.
# - **held-out**: a model trained on every other region (none of its tiles shares pixels with a tile of the region).
# - **in-region**: a model trained on the region's labelled pool, from scratch, for as many optimisation steps as the
#   held-out model: the score labelling the whole pool buys. The **gap** is in-region − held-out, on the same tiles.
# - **k tiles**: the held-out model fine-tuned on k tiles of the pool (whole leakage groups in a seeded order, so
#   the tiles of a smaller k are among those of a larger one).
#
# Beside them, three baselines that learn nothing from context: all landslide, all background, and a threshold rule
# (one colour feature, one threshold) fitted on the other regions, or on the same k tiles. Every value carries a
# 95 % block-bootstrap interval over the evaluation tiles (tiles that share pixels are resampled together), and
# every difference a paired one. Cells that only set up or record are folded away: click a cell's toggle to see its
# code.

# %% tags=["parameters", "hide-input"]
# CAS data root holding <sub-dataset>/{img,label,mask}/. None: the
# synthetic demo data.
data_root = None
# Parameter profile of this run (set by `landslide-core book --profile`).
profile = "demo"
# Paper Table 4's keys of the regions held out in turn (palu, hokkaido,
# lombok, tiburon, mengdong, luding, longxi, jiuzhai, wenchuan). None:
# every region with tiles of the group.
regions = None
# Sensor group every run trains and is scored on: UAV, SAT or UAV&SAT.
group = "UAV&SAT"
# Labelled tiles of the held-out region to fine-tune on (0: none); a k
# larger than a region's labelled pool is not run.
shots = [0, 5, 20, 50]
model = "smp:Unet/resnet18"
epochs = 6
# Stop each epoch after this many optimisation steps; None: every batch.
steps_per_epoch = None
batch_size = 8
lr = 0.05
# Fine-tuning on k tiles: epochs and initial learning rate (ours).
finetune_epochs = 10
finetune_lr = 0.01
checkpoint_every = 1
# Random square training crops; None: full 512×512 tiles.
crop_size = 64
# Score central crops of this size (quick CPU runs); None: full tiles.
val_crop_size = 128
pretrained = False
device = "cpu"
# Data-loader processes; "auto": the cores this process may use, less one
# (at most 8; at most 1 on the CPU). 0: load in the training process.
num_workers = 0
seeds = [0]
# Each region's share of evaluation tiles (ours: 7:3, as Table 5's split).
val_fraction = 0.3
# Train the missing runs here; false: only collect the runs
# `landslide-core new-event --submit` finished.
train = True
# Where runs go. None: results/<profile>/new_event/runs/<code version>.
runs_dir = None
# Block-bootstrap resamples for the 95 % intervals, and the seed of their
# draws.
resamples = 10000
interval_seed = 0

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from landslide_core.book import open_section
from landslide_core.book.runner import shown_path
from landslide_core.experiments.new_event import (
    baseline_counts,
    event_counts,
    judge_event,
)
from landslide_core.experiments.runs import read_config
from landslide_core.scoring.intervals import BootstrapSettings
from landslide_core.sections.benchmarks import runs_directory
from landslide_core.sections.new_event import (
    EventSettings,
    answers,
    demo_limits,
    gap_figure,
    gap_table,
    locations_of,
    missing_note,
    prepare,
    regions_table,
    shots_figure,
    shots_run,
    shots_table,
    train_missing,
)
from landslide_core.sections.training_text import describe_training

settings = EventSettings(
    model=model, epochs=epochs, batch_size=batch_size, crop_size=crop_size,
    val_crop_size=val_crop_size, pretrained=pretrained, device=device,
    num_workers=num_workers, seeds=tuple(seeds), shots=tuple(shots),
    finetune_epochs=finetune_epochs, finetune_lr=finetune_lr, group=group,
    regions=regions, val_fraction=val_fraction, lr=lr,
    steps_per_epoch=steps_per_epoch, checkpoint_every=checkpoint_every,
    train=train,
)
intervals = BootstrapSettings(resamples, interval_seed)
parameters = {"data_root": data_root, **settings.as_parameters(),
              "resamples": resamples, "interval_seed": interval_seed}
run = open_section("new_event", profile=profile, parameters=parameters,
                   data_root=data_root, device=device)
runs_dir = runs_directory(run.results_dir, runs_dir)
splits, runs = prepare(settings, run.data_root, runs_dir)
first = splits[seeds[0]]
locations = locations_of(first)
run.manifest = first[0].manifest("held-out")

# %% [markdown]
# ## The regions held out
#
# One seed's split of each region: its evaluation tiles, its labelled pool, the other regions' tiles its held-out
# model trains on, and those left out because they share pixels with one of the region's tiles.

# %%
run.show(regions_table(first), "regions",
         caption=f"The regions held out in turn ({settings.group} tiles)")
display(Markdown(shots_run(splits, settings.shots)))
display(Markdown(f"Runs are kept in `{shown_path(runs_dir)}`, one folder "
                 "per configuration; an interrupted build resumes them, "
                 "and a build with other k values trains only the new "
                 "runs."))

# %% [markdown]
# ## Training, and the baselines
#
# Every run validates once, after its last epoch, on its region's evaluation tiles, and is scored by that pass.

# %%
trained = train_missing(runs) if settings.train else 0
finished = [r for r in runs if r.done()]
display(Markdown(f"Of {len(runs)} runs, this build trained {trained} and "
                 f"read {len(finished) - trained} back from their "
                 "folders."))
missing = missing_note([r for r in runs if not r.done()], len(runs),
                       profile=profile, data_root=data_root)
if missing:
    display(Markdown(missing))
run.note_runs_read([r.folder for r in finished])
counts = event_counts(finished)
baselines = baseline_counts(splits, settings.shots,
                            crop_size=settings.val_crop_size)
judged = judge_event(counts, baselines, splits, settings.shots, intervals)
configs = [read_config(r.folder) for r in finished]
display(Markdown("Training, as each run's own `config.json` records it: "
                 f"{describe_training(configs)}."))
display(Markdown(f"Intervals: {intervals.describe()}; the blocks "
                 "resampled are the leakage groups of each region's "
                 "evaluation tiles."))
limits = demo_limits(settings, first, synthetic=run.synthetic)
if limits:
    display(Markdown(limits))

# %% [markdown]
# ## How well a model trained elsewhere maps the region
#
# Landslide IoU (%) [95 % interval] on each region's evaluation tiles; the gap is in-region − held-out in points
# with its paired interval: above 0, labelling the region's pool beats the model trained elsewhere.

# %%
run.show(gap_table(judged, locations), "held_out",
         caption="In-region and held-out landslide IoU (%) with the "
                 "baselines, 95 % intervals")
figure = gap_figure(judged, locations)

# %% tags=["hide-input"]
run.record(gap_table(judged, locations, "miou"), "held_out_miou",
           caption="The same in mIoU (%)")
run.record(judged.estimates, "estimates",
           caption="Every configuration's scores per region with 95 % "
                   "intervals (%)")
run.record(judged.differences, "differences",
           caption="The paired differences the page reads (points)")

# %% [markdown]
# ## How many labelled tiles close the gap
#
# The held-out model fine-tuned on k labelled tiles of the region (k = 0 is the held-out model), scored on the same
# evaluation tiles, beside the threshold rule fitted on the same k tiles; the shaded band is the in-region model's
# interval. A model "reaches" the in-region score where its interval reaches that score.

# %%
run.show(shots_table(judged, locations, settings.shots), "k_tiles",
         caption="Fine-tuned on k tiles: landslide IoU (%) "
                 "[95 % interval]")
figure = shots_figure(judged, locations, settings.shots)

# %% [markdown]
# ## What this shows

# %%
display(Markdown("\n".join(answers(judged, locations, settings.shots))))
