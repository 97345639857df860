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
# # From tiles to an inventory
#
# **Overview.** The paper motivates the CAS dataset by inventory maps (Background & Summary): “it is crucial to
# obtain a precise and comprehensive landslide inventory map that accurately records the occurrences and
# characteristics of landslides”; its tables, though, stop at tile metrics. This page takes the next step: a model trained on the
# benchmarks page is run over a whole post-event scene with `landslide-core predict`. The scene is read window by
# window, overlapping tiles are blended into one probability map, and the mask is vectorized into polygons a GIS
# opens. The map is then judged as inventories are: pixel by pixel over the whole scene, and landslide by landslide.
# Cells that only set up or record are folded away: click a cell's toggle to see its code.

# %% tags=["parameters", "hide-input"]
# CAS data root of the benchmarks page's runs. None: the synthetic demo
# data.
data_root = None
# Parameter profile of this run (set by `landslide-core book --profile`).
profile = "demo"
# The benchmarks page's run whose checkpoint predicts the scene.
model = "unet"
group = "SAT"
seed = 0
# Any training checkpoint instead (best.pt or last.pt). None: the run
# above.
checkpoint = None
# A scene (GeoTIFF or any raster GDAL reads) and its inventory (polygons).
# None: the building page's synthetic scene of `scene_subdataset` and its
# inventory.
scene = None
reference = None
scene_subdataset = "hokkaido"
# A value that marks no data where every band holds it (the demo scene's
# white collar); None: the demo scene's, or only the scene's nodata.
fill = None
tile = 512
overlap = 128
batch_size = 4
threshold = 0.5
# Polygons smaller than this many m² are dropped (2 pixels of 3 m).
min_area = 18.0
# IoU a predicted polygon needs to count as finding a landslide.
iou_threshold = 0.5
device = "cpu"
# Block-bootstrap resamples for the 95 % intervals, and the seed of their
# draws.
resamples = 10000
interval_seed = 0

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from landslide_core.book import open_section
from landslide_core.book.runner import shown_path
from landslide_core.predict.assess import describe
from landslide_core.scoring.intervals import BootstrapSettings
from landslide_core.sections.benchmarks import no_checkpoints_note
from landslide_core.sections.inventory import (
    benchmark_checkpoint,
    checkpoint_label,
    cloud_share,
    cost_table,
    demo_scene,
    map_figure,
    model_label,
    object_frame,
    pixel_interval_record,
    pixel_interval_table,
    pixel_intervals,
    pixel_table,
    scene_inventory,
    summary,
    tile_scores,
)

parameters = {
    "data_root": data_root, "model": model, "group": group, "seed": seed,
    "checkpoint": checkpoint, "scene": scene, "reference": reference,
    "scene_subdataset": scene_subdataset, "fill": fill, "tile": tile,
    "overlap": overlap, "batch_size": batch_size, "threshold": threshold,
    "min_area": min_area, "iou_threshold": iou_threshold,
    "resamples": resamples, "interval_seed": interval_seed,
}
intervals = BootstrapSettings(resamples, interval_seed)
own = checkpoint is not None and scene is not None
run = open_section("inventory", profile=profile, parameters=parameters,
                   data_root=data_root, scan=False, device=device,
                   banner=not own)
folder = None
if checkpoint is None:
    checkpoint, folder = benchmark_checkpoint(profile, model, group, seed,
                                              data_root)
demo = None
if scene is None:
    demo = demo_scene(profile, scene_subdataset, seed=seed)
    scene, reference = demo.scene, demo.labels
    fill = demo.fill_value if fill is None else fill
    display(Markdown(
        f"The scene is **synthetic**: the building page's drawing of "
        f"{scene_subdataset} ({demo.crs}), with its planted landslides as "
        "the reference inventory. Numbers below describe the synthetic "
        "scene, not real imagery."))
if own:
    judged_against = reference and shown_path(reference)
    display(Markdown(f"The scene `{shown_path(scene)}`, judged against "
                     f"`{judged_against}`, predicted with the checkpoint "
                     f"`{shown_path(checkpoint)}`."))
label = (model_label(model, group, seed) if checkpoint is None
         else checkpoint_label(checkpoint))
judged = checkpoint is not None and reference is not None
tiles = None if folder is None else tile_scores(folder, scene_subdataset)

# %% [markdown]
# ## Prediction over the whole scene
#
# `predict_scene` cuts the scene into `tile`-px tiles that overlap by `overlap` px and predicts them in batches.
# Each tile's probabilities are weighted by a window that fades out as `sin²` over its outer `overlap` px, so
# neighbouring tiles cross-fade and no seam shows. The scene is walked in 2,048-px chunks, each written as soon as
# it is blended, so memory does not grow with the scene, and an interrupted run resumes from its last finished
# chunk. Pixels without data (the scene's nodata, or `fill` in every band) get no prediction.

# %%
if checkpoint is None:
    display(Markdown(no_checkpoints_note(
        [f"{label} on the benchmarks page"],
        left_out="No inventory map")))
else:
    result = scene_inventory(
        scene, checkpoint, run.results_dir / "maps", reference=reference,
        device=device, iou_threshold=iou_threshold, tile=tile,
        overlap=overlap, batch_size=batch_size, threshold=threshold,
        min_area=min_area, fill=fill)
    figure = map_figure(result)

# %% [markdown]
# Cyan outlines are the reference inventory, yellow ones the predicted polygons; blank in (b) is no data.

# %%
if checkpoint is not None:
    clouded = None if demo is None else cloud_share(result, demo.truth)
    pixel_judged = (pixel_intervals(result, label, size=tile,
                                    settings=intervals)
                    if judged else None)
    display(Markdown(summary(result, label, tiles, clouded=clouded,
                             intervals=pixel_judged)))

# %% [markdown]
# ## Pixel by pixel, over the whole scene
#
# The six metrics of the paper's tables (in %), from one confusion matrix over every pixel with data. Beside them: calling every such
# pixel a landslide, on the same pixels, and the model's own scores on its validation tiles from the benchmarks
# page. Below them, the scene's scores with their 95 % intervals: the scene is cut into `tile`-px windows and the
# windows are resampled whole (neighbouring pixels err together), the model and all landslide with the same draws.

# %%
if judged:
    run.show(pixel_table(result, label, tiles), "pixel_scores",
             caption="Pixel scores over the scene (%)", precision=1)
    display(Markdown(f"Intervals: {intervals.describe()}, over the "
                     f"scene's {tile}-px windows."))
    display(pixel_interval_table(pixel_judged).style.set_caption(
        "Pixel scores over the scene (%) [95 % interval]"))

# %% tags=["hide-input"]
if judged:
    run.record(pixel_interval_record(pixel_judged), "pixel_intervals",
               caption="Pixel scores over the scene with 95 % intervals "
                       "(%)")

# %% [markdown]
# ## Landslide by landslide
#
# Inventories are compared per landslide: how many mapped landslides the map finds, how many it misses, and how
# many of its polygons match none. The count depends on the rule, so both common ones are given.

# %%
if judged:
    run.show(object_frame(result), "object_scores",
             caption="Landslides detected, missed and false (%)",
             precision=1)
    for rule in ("iou", "centroid"):
        display(Markdown(f"- **{rule}**: {describe(rule, iou_threshold)}"))

# %% [markdown]
# ## What the run cost
#
# Measured during this run: the time of each step and the peak resident memory of the process, sampled while it
# ran. The scale benchmark in the reproducibility appendix measures how both grow with the scene's size.

# %%
if checkpoint is not None:
    run.show(cost_table(result.report), "cost", caption="Time and memory")
    display(Markdown(
        "Outputs: " + ", ".join(f"`{p.name}`" for key, p in
                                result.outputs.items() if key != "work")
        + f" in `{shown_path(run.results_dir / 'maps')}`."))
