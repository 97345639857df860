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
# **Overview.** This page regenerates paper Table 5: FCN (VGG16), U-Net, DeepLabV3+ and MFFENet (ResNet-50) trained
# and validated on the UAV, SAT and UAV&SAT groups, each sub-dataset split 7:3 into training and validation tiles
# (at random as the paper, or grouped so that no validation tile shares pixels with a training tile: parameter
# `split`). Training follows the paper where it is explicit (SGD with learning rate 0.01, momentum 0.9,
# weight decay 5e-4, Dice loss) and our choices where it is silent (epochs, batch size, crops, poly decay,
# augmentation, pre-training), all set by the parameters below. Scores are those of the best epoch by validation
# mIoU, from one confusion matrix over all validation pixels of a group ({doc}`../metrics`). Beyond the paper, the
# page breaks the scores down per sub-dataset and shows training curves and example predictions.

# %% tags=["parameters"]
# Data root holding <sub-dataset>/{img,label,mask}/. None: the embedded synthetic demo data.
data_root = None
# Parameter profile this run belongs to (set by `landslide-core book --profile`).
profile = "demo"
# Registry names (landslide_core.models), or smp:<Architecture>/<encoder> for any other model.
models = ["fcn", "unet", "deeplabv3plus", "mffenet"]
# Sensor groups of paper Table 5.
groups = ["UAV", "SAT", "UAV&SAT"]
epochs = 2
batch_size = 8
# Random square training crops in pixels; None trains on full 512×512 tiles.
crop_size = 128
# Validate on central crops of this size (quick CPU runs); None: full tiles, as the paper.
val_crop_size = None
# One training run per seed; with several seeds the tables give mean ± standard deviation.
seeds = [0]
# "random": each sub-dataset split 7:3 at random, as the paper; "grouped": no validation tile shares pixels with a
# training tile (tiles sharing pixels with validation are left out; see the building page's leakage audit).
split = "random"
# ImageNet-pretrained backbones (downloaded by torchvision/smp on first use) or random initialisation.
pretrained = False
device = "cpu"
num_workers = 0
# Where runs (checkpoints, histories, split manifests) go, in a subfolder per split kind. None:
# results/<profile>/benchmarks/runs/<code version>.
runs_dir = None
# Keep every run's checkpoints (true), or only those of the runs shown in the example predictions (false).
keep_checkpoints = True

# %%
from IPython.display import Markdown, display

from landslide_core.book import open_section, paper_vs_run
from landslide_core.eval.paper import consistency
from landslide_core.experiments.table5 import (
    histories_frame,
    mean_std_table,
    scores_frame,
    subdataset_breakdown,
    table5,
)
from landslide_core.sections.benchmarks import (
    GridSettings,
    consistency_summary,
    epoch_table,
    prediction_examples,
    run_benchmarks,
    runs_directory,
    shown_validation_tiles,
    summary,
    training_curves,
)

settings = GridSettings(models=models, groups=groups, epochs=epochs, batch_size=batch_size, crop_size=crop_size,
                        val_crop_size=val_crop_size, seeds=seeds, pretrained=pretrained, device=device,
                        num_workers=num_workers, keep_checkpoints=keep_checkpoints, split=split)
run = open_section("benchmarks", profile=profile, parameters={"data_root": data_root, **settings.as_parameters()},
                   data_root=data_root, scan=False, device=device)
runs_dir = runs_directory(run.results_dir, runs_dir) / f"{split}-split"
run.manifest = runs_dir / f"split-seed{seeds[0]}.csv"
display(Markdown(f"Training: {settings.describe()}. Runs are kept in `{runs_dir}`; an interrupted build resumes them."))

# %%
runs = run_benchmarks(run.data_root, runs_dir, settings)
scores = scores_frame(runs)
run.record(scores, "scores_all_runs", caption="Every evaluation row of every run (group and sub-dataset rows)")

# %% [markdown]
# ## Paper Table 5 beside this run
#
# For each model and group: the paper's published score, this run's (the mean over seeds) and the difference
# (this run − paper, in percentage points). Precision, recall and IoU are those of the landslide class; the paper's
# "F1 score" and mIoU are means over the landslide and background classes.

# %%
comparison = paper_vs_run(table5(scores), 5, run_label=run.run_label)
run.show(comparison, "table5", caption="Paper Table 5 and this run (%)")

# %% [markdown]
# How far to trust the paper's decimals: if a row was computed from one confusion matrix, as its metric definitions
# say, its IoU, F1 and mIoU follow from its own precision, recall and OA. The table gives the deviation of the
# published values from those implied ones (points). The sentence under the table counts a deviation below 0.01
# points as rounding of the three-decimal published values.

# %%
published_consistency = consistency(5)
run.show(published_consistency.set_index(["model", "group"]).drop(columns="dataset"), "table5_paper_consistency",
         caption="Paper Table 5: implied minus published (points), computed from the paper's own values", precision=3)
display(Markdown(consistency_summary(published_consistency)))

# %% [markdown]
# With several seeds, the spread between runs shows how much of a difference to the paper is noise:

# %%
if len(seeds) > 1:
    run.show(mean_std_table(scores), "table5_mean_std", caption="This run: mean ± standard deviation over seeds (%)")
else:
    display(Markdown("One seed was run, so no spread is reported; pass e.g. `-p seeds '[0, 1, 2]'`."))

# %% [markdown]
# ## Per sub-dataset (not in the paper)
#
# Landslide IoU of each model on each sub-dataset's validation tiles, for the models trained on that sub-dataset's
# group and for those trained on UAV&SAT. The paper reports only group totals.

# %%
run.show(subdataset_breakdown(scores), "iou_per_subdataset", caption="Landslide IoU (%) per sub-dataset")

# %% [markdown]
# ## Training curves

# %%
histories = histories_frame(runs)
run.record(histories, "histories", caption="Per-epoch training loss and validation scores of every run")
curves = training_curves(histories)

# %% [markdown]
# ## Best epoch against last epoch
#
# Every score above is the best epoch's by validation mIoU, chosen on the tiles it is reported on; the last epoch's
# scores show how much that choice adds.

# %%
run.show(epoch_table(runs), "epoch_choice", caption="Validation scores of the best and the last epoch (%)")

# %% [markdown]
# ## Example predictions
#
# On validation tiles with the most landslide pixels in their sub-dataset (the central crop they were validated on,
# when `val_crop_size` is set): green pixels are found landslides, red are false alarms, blue are missed landslides.

# %%
display(Markdown(f"Models trained on {settings.shown_group}, seed {seeds[0]}."))
shown = [r for r in runs if r.group == settings.shown_group and r.seed == seeds[0]]
examples = prediction_examples(shown, shown_validation_tiles(run.data_root, runs_dir, settings), device=device,
                               crop_size=val_crop_size)

# %% [markdown]
# ## What this shows

# %%
display(Markdown(summary(scores, comparison, settings, synthetic=run.synthetic, data_root=run.data_root)))
