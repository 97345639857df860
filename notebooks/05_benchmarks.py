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
# # Sub-dataset benchmarks
#
# **Overview.** This page regenerates paper Table 5: FCN (VGG16; the FCN-8s variant is ours), U-Net, DeepLabV3+ and
# MFFENet (ResNet-50) trained and validated on the UAV, SAT and UAV&SAT groups, each sub-dataset split 7:3 into
# training and validation tiles (parameter `split`): at random, as the paper says, “randomly split each subdataset
# into training and validation sets at a 7:3 ratio”, or grouped so that no validation tile shares pixels the leakage
# audit finds with a training tile (ours). The optimiser and loss are those the paper gives, “employing the SGD
# optimizer with a learning rate of 0.01, a momentum of 0.9, and a weight decay of 0.0005” and “we utilized the Dice
# loss as our loss function”; where the paper is silent the choices are ours (epochs, batch size, crops, poly decay,
# augmentation, pre-training), all set by the parameters below. Scores are those of the best epoch by validation
# mIoU, from one confusion matrix over all validation pixels of a group ({doc}`../metrics`). Beside the models, three
# baselines that learn nothing from context are scored on the same pixels: a score means something only where it
# beats them. Beyond the paper, every score gets a 95 % interval from the validation tiles, every comparison (model
# against model, model against baseline, paper against run) is judged with one, and the page breaks the scores down
# per sub-dataset and shows training curves and example predictions. Cells that only set up or record are folded
# away: click a cell's toggle to see its code.

# %% tags=["parameters", "hide-input"]
# Data root holding <sub-dataset>/{img,label,mask}/. None: the embedded
# synthetic demo data.
data_root = None
# Parameter profile of this run (set by `landslide-core book --profile`).
profile = "demo"
# Registry names (landslide_core.models), or smp:<Architecture>/<encoder>.
models = ["fcn", "unet", "deeplabv3plus", "mffenet"]
# Sensor groups of paper Table 5.
groups = ["UAV", "SAT", "UAV&SAT"]
# Per-model exceptions, e.g. {"mffenet": {"groups": ["SAT"], "epochs": 4}}:
# fewer groups or epochs for a model (a CPU budget), or its model_options
# (e.g. {"fcn": {"model_options": {"batch_norm": true}}}); {}: none.
per_model = {}
epochs = 2
# Stop each epoch after this many optimisation steps; None: every batch.
steps_per_epoch = None
batch_size = 8
# SGD's initial learning rate (0.01 in the paper's Technical Validation,
# quoted above), decayed to 0 by poly decay (ours).
lr = 0.01
# Validate every this many epochs (and after the last); the best epoch is
# one of these.
val_every = 1
# Random square training crops in pixels; None: full 512×512 tiles.
crop_size = 128
# Validate on central crops of this size (CPU runs); None: full tiles.
val_crop_size = None
# One training run per seed; several seeds give mean ± standard deviation.
seeds = [0]
# "random": each sub-dataset split 7:3 at random (the paper's split, quoted
# above); "grouped" (ours): tiles the leakage audit finds sharing pixels
# kept on one side (tiles sharing pixels with validation left out; see the
# building page).
split = "random"
# ImageNet-pretrained backbones (downloaded on first use), or random init;
# ours either way (the backbones are named in the paper, how they started
# is not).
pretrained = False
device = "cpu"
# Data-loader processes; "auto": the cores this process may use, less one
# (at most 8; at most 1 on the CPU). 0: load in the training process.
num_workers = 0
# Where runs go, in a subfolder per split kind. None:
# results/<profile>/benchmarks/runs/<code version>.
runs_dir = None
# Keep every run's checkpoints (true), or only those the examples show.
keep_checkpoints = True
# Train the runs that have not finished here (true), or only collect those
# `landslide-core grid` finished and list the missing ones (false).
train = True
# Block-bootstrap resamples for the 95 % intervals, and the seed of their
# draws.
resamples = 10000
interval_seed = 0
# Also show the part on the real sample shipped in data/sample; False:
# leave it out. Its two runs (a random and a grouped split) train here
# even when `train` is false: they are small.
real_sample = True
# The sample part's one model: a registry name or
# smp:<Architecture>/<encoder>.
sample_model = "smp:Unet/resnet18"
# Its epochs, random square training crops in pixels (None: full tiles)
# and validation interval; it validates on full tiles. Batch size, seed
# (the first of `seeds`), initialisation, device and data loading are the
# page's.
sample_epochs = 20
sample_crop_size = 128
sample_val_every = 10
# Its SGD initial learning rate, decayed to 0 by poly decay (ours).
sample_lr = 0.01

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import HTML, Markdown, display

from landslide_core.book import open_section, paper_vs_run
from landslide_core.book.compare import paper_vs_run_figure, side_by_side
from landslide_core.book.runner import shown_path
from landslide_core.eval.baselines import BASELINES, rule
from landslide_core.eval.paper import consistency, published_long
from landslide_core.experiments.table5 import (
    baseline_frame,
    grid_blocks,
    histories_frame,
    judge_subdatasets,
    mean_std_table,
    scores_frame,
    subdataset_breakdown,
    subdataset_intervals,
    subdataset_views,
    table5,
    tile_counts_frame,
)
from landslide_core.scoring.intervals import (
    BootstrapSettings,
    judge,
    paper_verdicts,
    verdict_counts,
)
from landslide_core.sections.benchmarks import (
    GridSettings,
    baseline_table,
    checkpoints_note,
    comparison_html,
    consistency_summary,
    epoch_table,
    exceptions_note,
    grid_runs_dir,
    interval_note,
    missing_note,
    model_differences,
    not_learned,
    prediction_examples,
    run_benchmarks,
    shown_validation_tiles,
    split_baselines,
    step_times,
    summary,
    training_curves,
)
from landslide_core.sections.sample_benchmark import (
    sample_panel,
    sample_settings,
)
from landslide_core.sections.training_text import describe_training

settings = GridSettings(
    models=models, groups=groups, epochs=epochs, batch_size=batch_size,
    crop_size=crop_size, val_crop_size=val_crop_size, seeds=seeds,
    pretrained=pretrained, device=device, num_workers=num_workers,
    keep_checkpoints=keep_checkpoints, split=split, lr=lr,
    val_every=val_every, per_model=per_model,
    steps_per_epoch=steps_per_epoch,
)
intervals = BootstrapSettings(resamples, interval_seed)
sample_parameters = {
    "real_sample": real_sample, "sample_model": sample_model,
    "sample_epochs": sample_epochs, "sample_crop_size": sample_crop_size,
    "sample_val_every": sample_val_every, "sample_lr": sample_lr}
run = open_section(
    "benchmarks", profile=profile, device=device, data_root=data_root,
    parameters={"data_root": data_root, **settings.as_parameters(),
                "resamples": resamples, "interval_seed": interval_seed,
                **sample_parameters},
    scan=False,
)
runs_dir = grid_runs_dir(run.results_dir, runs_dir, split)
run.manifest = runs_dir / f"split-seed{seeds[0]}.csv"
display(Markdown(f"Runs are kept in `{shown_path(runs_dir)}`, one folder "
                 "per configuration; an interrupted build resumes them."))

# %% [markdown]
# ## Training the grid, and the baselines
#
# Every model on every group (and seed) of the settings above, then the three baselines on each group's
# validation tiles: **all landslide** (every pixel landslide: its IoU is the landslide share of the pixels),
# **all background**, and a **threshold rule** (one colour feature of a pixel and one threshold, fitted on the
# group's training tiles only).

# %%
runs, missing = run_benchmarks(run.data_root, runs_dir, settings,
                               train=train)
run.note_runs_read([r.folder for r in runs])
display(Markdown("Training, as each run's own `config.json` records it: "
                 f"{describe_training([r.config for r in runs])}."))
shown_root = None if run.synthetic else run.data_root
not_run = missing_note(missing, len(runs) + len(missing), profile=profile,
                       data_root=shown_root)
if not_run:
    display(Markdown(not_run))
baselines, rules = baseline_frame(
    run.data_root, runs_dir, base=settings.train_config(), groups=groups,
    seeds=seeds)
scores = pd.concat([scores_frame(runs), baselines], ignore_index=True)
# Per-tile counts of every run and baseline, the leakage groups they are
# resampled by, and each group's scores with intervals and paired
# differences.
counts = tile_counts_frame(runs, runs_dir, base=settings.train_config(),
                           groups=groups, seeds=seeds)
blocks = grid_blocks(run.data_root, runs_dir, base=settings.train_config(),
                     groups=groups, seeds=seeds)
judged = judge(counts, within=["group"], blocks=blocks, settings=intervals)

# %% tags=["hide-input"]
run.record(scores, "scores_all_runs",
           caption="Every evaluation row of every run and baseline")

# %% [markdown]
# The threshold rule each group's training tiles gave (feature, threshold, and its landslide IoU on those tiles):

# %%
run.show(rules.set_index(["group", "seed"]), "threshold_rules",
         caption="The threshold rule fitted per group", precision=3)

# %% [markdown]
# ## Paper Table 5 beside this run
#
# One small table per metric, two groups at a time; in each cell the paper's score, this run's (the mean over seeds)
# with its 95 % interval, and the difference (this run − paper, in points). The baselines' rows have no paper value.
# Precision, recall and IoU are those of the landslide class; mIoU is the mean over the landslide and background
# classes (the paper: “MIoU is the average IoU across all classes.”), and so is "F1 score", as we inferred from the
# published values. How the intervals are drawn, and what they leave out: {doc}`../metrics`.

# %%
rows = table5(scores)
estimates = judged.estimates.rename(columns={"configuration": "model"})
comparison = paper_vs_run(rows, 5, run_label=run.run_label,
                          intervals=estimates)
display(HTML(comparison_html(
    comparison, caption="Paper Table 5 and this run (%)",
    flagged=not_learned(judged), level=intervals.level)))
display(Markdown(interval_note(intervals, len(seeds))))

# %% tags=["hide-input"]
run.record(comparison, "table5",
           caption="Paper Table 5 and this run (%), all metrics, with "
                   "this run's 95 % interval (low, high)")
run.record(rows, "table5_run",
           caption="This run's Table 5 rows and the baselines (%)")
run.record(judged.estimates, "table5_intervals",
           caption="Every score of this run and the baselines with its "
                   "95 % interval and the seeds' standard deviation (%)")

# %% [markdown]
# The same comparison as a figure: for each metric, the paper's score (open circle) and this run's (dot, with its
# 95 % interval as a bar), baselines in grey.

# %%
figure = paper_vs_run_figure(comparison, baselines=BASELINES)

# %% [markdown]
# How far to trust the published decimals: Eqs. 1–6 define the scores by pixel counts, and if a row was computed from
# one confusion matrix of those counts (pooled over all validation pixels: our reading, which this book follows), its
# IoU, F1 and mIoU follow from its own precision, recall and OA. The table gives the deviation of the
# published values from those implied ones (points). The sentence under the table counts a deviation below 0.01
# points as rounding of the three-decimal published values.

# %%
published_consistency = consistency(5)
run.show(published_consistency.set_index(["model", "group"])
         .drop(columns="dataset"), "table5_paper_consistency", precision=3,
         caption="Paper Table 5: implied minus published (points)")
display(Markdown(consistency_summary(published_consistency)))

# %% [markdown]
# With several seeds, the spread between the runs themselves (their standard deviation; the intervals above already
# resample the seeds with the tiles):

# %%
if len(seeds) > 1:
    run.show(mean_std_table(scores), "table5_mean_std",
             caption="This run: mean ± standard deviation over seeds (%)")
else:
    display(Markdown("One seed was run, so no spread is reported; "
                     "pass e.g. `-p seeds '[0, 1, 2]'`."))

# %% [markdown]
# ## How sure: the comparisons judged (not in the paper)
#
# Paper Table 5 gives no uncertainty for its scores. Here every comparison the page draws is judged on the same
# tiles, resampled together (paired): one model against another, each model against the baselines, and the
# published values against this run's intervals. How, and what the intervals leave out: {doc}`../metrics`.
#
# ### Model against model
#
# Every pair of models trained on one group, on landslide IoU and on mIoU: Δ = A − B in points with its 95 %
# interval, A being the model with the higher score. "A beats B" only where the interval lies above 0; where it
# holds 0 the two are not distinguishable on these tiles.

# %%
pairs = {label: model_differences(judged, metric)
         for metric, label in (("iou", "Landslide IoU"), ("miou", "mIoU"))}
if all(table.empty for table in pairs.values()):
    display(Markdown("No group has two models trained on it, so no model "
                     "is compared with another."))
else:
    display(HTML(side_by_side(pairs)))
if run.synthetic:
    display(Markdown("These verdicts describe models trained on synthetic "
                     "demo tiles, not the CAS data."))

# %% tags=["hide-input"]
run.record(pd.concat(pairs, names=["metric"]), "table5_model_differences",
           caption="Model against model: Δ = A − B (points) with its 95 % "
                   "interval and the verdict")
run.record(judged.differences, "table5_differences",
           caption="Every paired difference in each group, models and "
                   "baselines (points, 95 % interval)")

# %% [markdown]
# ### Models against the baselines
#
# Each model against each baseline of its group: Δ = model − baseline in points, with its 95 % interval. A cell of
# the Table 5 tables is marked † where its model is no result.

# %%
display(Markdown(f"The rule: {rule(intervals.level)}."))
versus = baseline_table(judged)
display(HTML(side_by_side(
    {group: versus.xs(group) for group in
     dict.fromkeys(versus.index.get_level_values("Group"))})))

# %% tags=["hide-input"]
run.record(versus, "table5_baseline_judgements",
           caption="Models against the baselines: Δ mIoU and Δ IoU "
                   "(points) with their 95 % intervals, and which they "
                   "beat")

# %% [markdown]
# ### The paper's values against this run's intervals
#
# For each value of paper Table 5 this run also has, whether it lies inside this run's 95 % interval.

# %%
verdicts = paper_verdicts(judged, published_long(5, ["group", "model"]))
display(Markdown(verdict_counts(verdicts, synthetic=run.synthetic)))

# %% tags=["hide-input"]
run.record(verdicts, "table5_paper_verdicts",
           caption="Each value of paper Table 5 against this run's 95 % "
                   "interval (points outside, verdict)")

# %% [markdown]
# ## Per sub-dataset (not in the paper)
#
# Landslide IoU with its 95 % interval of each model on each sub-dataset's validation tiles, for the models trained
# on that sub-dataset's group and for those trained on UAV&SAT, beside all landslide (the sub-dataset's landslide
# share) and the group's threshold rule; all background scores 0 everywhere. Paper Table 5 gives only group totals.
# A sub-dataset holds fewer tiles than its group, so its intervals are usually wider than the group's.

# %%
breakdown = subdataset_breakdown(scores)
per_subdataset = judge_subdatasets(counts, breakdown, blocks=blocks,
                                   settings=intervals)
views = {f"Trained on {group}": view for group, view in
         subdataset_views(subdataset_intervals(per_subdataset,
                                               breakdown)).items()}
display(HTML(side_by_side(split_baselines(views))))

# %% tags=["hide-input"]
run.record(breakdown, "iou_per_subdataset",
           caption="Landslide IoU (%) per sub-dataset, with tile counts")
run.record(per_subdataset.estimates, "iou_per_subdataset_intervals",
           caption="Landslide IoU (%) per sub-dataset with its 95 % "
                   "interval")

# %% [markdown]
# ## Training curves and cost

# %%
histories = histories_frame(runs)
curves = training_curves(histories)

# %% tags=["hide-input"]
run.record(histories, "histories",
           caption="Per-epoch training loss and validation scores")

# %%
times = step_times(histories, runs)
run.show(times, "step_times", caption="Measured training speed per model")
exceptions = exceptions_note(times)
if exceptions:
    display(Markdown(exceptions))

# %% [markdown]
# ## Best epoch against last epoch
#
# Every score above is the best validated epoch's by validation mIoU, chosen on the tiles it is reported on; the
# last epoch's scores show how much that choice adds.

# %%
run.show(epoch_table(runs), "epoch_choice",
         caption="Validation scores of the best and the last epoch (%)")

# %% [markdown]
# ## Example predictions
#
# On validation tiles with the most landslide pixels in their sub-dataset (the central crop they were validated on,
# when `val_crop_size` is set): green pixels are found landslides, red are false alarms, blue are missed landslides.

# %%
group = settings.shown_group
display(Markdown(f"Models trained on {group}, seed {seeds[0]}."))
shown = [r for r in runs if r.group == group and r.seed == seeds[0]]
note = checkpoints_note(shown)
if note:
    display(Markdown(note))
else:
    tiles = shown_validation_tiles(run.data_root, runs_dir, settings)
    examples = prediction_examples(shown, tiles, device=device,
                                   crop_size=val_crop_size)

# %% [markdown]
# ## The real sample: one model against the baselines
#
# Everything above describes the page's data. This part reads the real CAS tiles shipped in `data/sample`, a small
# sample of one SAT sub-dataset (Hokkaido Iburi-Tobu), and trains one model on them (parameters `sample_*`) twice:
# on a random 7:3 split and on a grouped one, in which no validation tile shares pixels the leakage audit finds
# with a training tile. Each run is scored on its split's validation tiles, whole, beside the same three baselines
# (the threshold rule fitted on that split's training tiles), with 95 % intervals and the rule above. The runs are
# kept apart from the grid's, in a `sample` folder beside them.

# %%
if real_sample:
    sample = run.on_sample()
    sample.banner()
    by_split = sample_settings(
        settings, model=sample_model, epochs=sample_epochs,
        crop_size=sample_crop_size, val_every=sample_val_every,
        lr=sample_lr)
    panel = sample_panel(sample.data_root, runs_dir, by_split, intervals)
    run.note_runs_read([r.folder for r in runs] + panel.folders)
    display(Markdown(
        "Training, as each run's own `config.json` records it: "
        f"{describe_training([r.config for r in panel.runs])}."))
    sample.show(panel.table(), "sample_scores", precision=1,
                caption="The real sample: the model and the baselines "
                        "per split, landslide IoU and mIoU (%) with "
                        "95 % intervals")
    sample.show(panel.judgements(), "sample_judgements",
                caption="The real sample: the model against each "
                        "baseline, Δ (points) with 95 % intervals")
    display(Markdown(panel.text()))
else:
    display(Markdown("The part on the real sample is left out "
                     "(parameter `real_sample` is false)."))

# %% tags=["hide-input"]
if real_sample:
    sample.record(panel.judged.estimates, "sample_intervals",
                  caption="The real sample: every score of the model "
                          "and the baselines per split with its 95 % "
                          "interval (%)")
    sample.record(panel.judged.differences, "sample_differences",
                  caption="The real sample: every paired difference "
                          "per split (points, 95 % interval)")
    sample.record(panel.leakage, "sample_leakage",
                  caption="The real sample: validation tiles and "
                          "pixels each split's training has seen")
    sample.record(panel.rules, "sample_threshold_rules",
                  caption="The real sample: the threshold rule fitted "
                          "on each split's training tiles")

# %% [markdown]
# ## What this shows

# %%
text = summary(scores, judged, comparison, settings, runs,
               synthetic=run.synthetic, data_root=run.data_root,
               times=times)
display(Markdown(text))
