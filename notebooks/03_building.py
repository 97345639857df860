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
# # Building the dataset
#
# **Overview.** The workflow of Fig. 2 in the paper, run: georeferenced scenes are cut into 512×512 tiles with a
# stride of 256 (as the CAS production code did, so neighbouring tiles overlap by half), every tile is scored for the
# four challenges Table 3 names (image boundary, label pixel proportion, cloud, seam) and flagged by the rules of the
# "Building the dataset" prose (quoted below, with what is ours), flagged tiles are rejected, and the kept tiles form
# the dataset. The public CAS production code has no quality-control code; the tiler, the scores and the leakage
# audit below are this project's (`landslide-core tile`, `qc`, `leakage`). Unlike the
# published tiles, ours keep their georeferencing. The last part audits which tiles share pixels, which a random
# 7:3 split then puts on both sides. Cells that only set up or record are folded away: click a cell's toggle to
# see its code.

# %% tags=["parameters", "hide-input"]
# Data root of published tiles to audit as well (e.g. the real CAS
# dataset). None or the synthetic demo tiles: only the demo scenes below.
data_root = None
# Parameter profile this run belongs to (set by
# `landslide-core book --profile`); names the records folder.
profile = "demo"
# Seed of the synthetic demo scenes and of the random split the leakage
# audit scores.
seed = 0
# Tiling: tile side, stride and edge handling ("shift": last row/column
# flush with the edge, as the production code).
tile_size = 512
stride = 256
edge = "shift"
# Quality-control thresholds: flag fill > 30 %, landslide pixels < 0.1 %,
# cloud > 80 % (the numbers of the rules quoted on the page; flagging on
# cloud share alone is ours, clarity is left to the reviewer); seam None:
# our calibrated default.
fill_threshold = 0.30
label_threshold = 0.001
cloud_threshold = 0.80
seam_threshold = None
# Validation share of the random split the leakage audit scores.
val_fraction = 0.3
# Also show the part on the real sample shipped in data/sample (24 CAS
# Hokkaido Iburi-Tobu tiles, CC BY 4.0); False: leave it out.
real_sample = True

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from landslide_core.book import open_section
from landslide_core.book.page import results_folder
from landslide_core.building.tiling import TilingOptions
from landslide_core.sections.building import (
    build_dataset,
    challenge_gallery,
    disagreements,
    flag_counts,
    planted_truth,
    published_root,
    qc_against_truth,
    qc_rules,
    scene_overview,
    scene_table,
    score_distributions,
    thresholds_from,
    truth_summary,
)
from landslide_core.sections.leakage import (
    audit_summary,
    leakage_tables,
    overlapping_pairs,
    pair_figure,
    published_note,
    published_tiles_audit,
    removed_note,
    removed_table,
    sample_leakage,
    sample_scope,
)

thresholds = thresholds_from(fill_threshold, label_threshold,
                             cloud_threshold, seam_threshold)
options = TilingOptions(size=tile_size, stride=stride, edge=edge)
work = results_folder(profile, "building") / "work"

# %%
built = build_dataset(work, seed=seed, options=options,
                      thresholds=thresholds)

# %% tags=["hide-input"]
parameters = {
    "data_root": data_root, "seed": seed, "tile_size": tile_size,
    "stride": stride, "edge": edge, "fill_threshold": fill_threshold,
    "label_threshold": label_threshold,
    "cloud_threshold": cloud_threshold,
    "seam_threshold": thresholds.seam, "val_fraction": val_fraction,
    "real_sample": real_sample,
}
run = open_section("building", profile=profile, parameters=parameters,
                   data_root=built.tiles_root, scan=False)

# %% [markdown]
# ## Scenes and tiles
#
# Four synthetic satellite scenes, one per SAT sub-dataset below, placed at their study regions in UTM at the
# sub-dataset's ground resolution. Each was drawn with one planted defect per rule, and the truth about each defect
# was written beside it: a corner outside the image footprint (filled white, black nodata or grey), landslides only
# in an event zone (plus one tiny scar elsewhere), a dense cloud bank, and a second acquisition meeting the first
# along a straight seam. Dots mark tile centres: green for kept tiles, squares for each rule that flags the tile.

# %%
run.show(scene_table(built), "scenes", precision=1,
         caption="Scenes cut into tiles (computed from the files and the "
                 "tile index)")
overview = scene_overview(built.scenes, built.flags, built.index)

# %% [markdown]
# ## Quality-control scores
#
# Each tile gets one score per rule; the dashed line is the threshold that flags it. Fill is the share of pixels
# outside the image (nodata, or white, black or one constant colour reaching the tile border), landslide share comes
# from the mask, cloud is the share of bright, unsaturated, untextured pixels, and the seam score is the largest jump
# in brightness, colour or texture across a straight horizontal or vertical line, relative to the tile's typical
# line-to-line change (how each is computed, and where it fails: `landslide_core.building.qc`). The rules the
# scores are flagged by, quoted, with what is ours:

# %%
display(Markdown(qc_rules(thresholds)))
distributions = score_distributions(built.flags, thresholds)
run.show(flag_counts(built.flags), "flags_per_subdataset", precision=1,
         caption="Tiles flagged by each rule, per sub-dataset")

# %% [markdown]
# ## Paper Table 3: the four challenges
#
# For each rule, the tile it flags most clearly (highest score; lowest landslide share), landslide outlines in pink.

# %%
challenges = challenge_gallery(built.flags, built.records)

# %% [markdown]
# ## The flags against the planted truth
#
# The scenes were drawn with known defects, so each rule can be checked: tiles that truly break it (fill or cloud
# share over the threshold from the truth rasters, landslide share under it from the mask, a seam line crossing
# the tile at least 16 pixels from its edges), tiles flagged, and the disagreements, listed under the table with
# their scores: a rule is only as good as the tiles it gets right here, and its misses say where it fails.

# %%
truth = planted_truth(built.index, built.scenes)
checked = qc_against_truth(built.flags, truth, thresholds)
run.show(checked, "qc_against_truth", precision=0,
         caption="Quality-control flags against the planted defects "
                 "(tiles)")
display(Markdown(truth_summary(checked)))
disagree = disagreements(built.flags, truth, thresholds)
run.show(disagree.set_index(["rule", "tile"]), "qc_disagreements",
         precision=3,
         caption="Tiles where a flag and the planted truth disagree "
                 "(shares as fractions)")

# %% [markdown]
# ## What quality control removed
#
# Here every flagged tile is rejected, with no one to review the flags (`landslide-core qc ROOT --out DIR` writes a
# review gallery and a decisions file to edit, and reads it back). Our kept tiles keep their names, so the numbering
# has gaps where tiles were rejected, and the table reads the removed count per sub-dataset from those gaps. Reading
# the published dataset's gaps the same way is our inference, said under the table.

# %%
run.show(removed_table(built.filtered_root), "removed_from_names",
         precision=1,
         caption="Tiles removed, read from the gaps in the kept tiles' "
                 "numbering")
display(Markdown(removed_note()))

# %% [markdown]
# ## Leakage audit: tiles that share pixels
#
# The production code's stride of 256, with the last row and column moved flush with the scene edge, makes tiles share
# pixels at many offsets, and its random 7:3 split then puts tiles that share pixels on both sides. The audit finds
# the pairs three ways: by footprint, every two of our georeferenced tiles that overlap on the map; by content, every
# two tiles that share a 64×64-pixel square at any offset, flipped or rotated too; and through the places of the tiles
# so linked, the thinner overlaps between them (down to the 1-px strip a flush edge can leave). It checks the pairs
# found by content or placement against the pixels, and counts, for a random split seeded by `seed`, the validation
# tiles and pixels that also occur in training. A grouped split keeps every linked group on one side, or cuts a group
# too large for the validation set along its links and leaves the tiles that share pixels with its validation part out
# of training (the "left out" column). The tiles here keep their georeferencing, so the audit finds every overlap, and
# in the grouped split no validation tile shares a pixel with a training tile.

# %%
audit, random_report, grouped_report = leakage_tables(
    built.filtered_root, seed=seed, val_fraction=val_fraction)
display(Markdown(audit_summary(audit)))
run.show(random_report, "leakage_random_split", precision=1,
         caption="Random 7:3 split of the kept tiles: validation "
                 "content also in training")
run.show(grouped_report, "leakage_grouped_split", precision=1,
         caption="Grouped split of the kept tiles: validation content "
                 "also in training")

# %% [markdown]
# ## The real sample: quality control and leakage on real tiles
#
# The same scores and audit on the real tiles shipped in `data/sample`: tiles of the published dataset, so they
# passed its quality control, and without coordinates, so only their content links them. Below: the flags per rule
# and the score distributions, the audit, every pair of tiles it found sharing pixels (the offset places tile b's
# top-left corner at row dy, column dx of tile a), both tiles of each pair with the shared part outlined, and the
# leakage of a random and of a grouped split (the same `seed` and `val_fraction` as above).

# %%
if real_sample:
    sample = run.on_sample()
    sample.banner()
    checked = published_tiles_audit(
        sample.data_root, thresholds, seed=seed,
        val_fraction=val_fraction, removed=False)
    display(Markdown(sample_scope(checked)))
    sample.show(checked.flag_counts, "sample_flags", precision=1,
                caption="Real sample: tiles flagged by each rule")
    sample_scores = score_distributions(checked.flags, thresholds)
else:
    display(Markdown("The part on the real sample was left out of this "
                     "run (`real_sample = False`)."))

# %%
if real_sample:
    display(Markdown(audit_summary(checked.audit)))
    sample.show(overlapping_pairs(checked.audit),
                "sample_overlapping_pairs", precision=1,
                caption="Real sample: every pair of tiles that share "
                        "pixels")
    sample_pairs = pair_figure(checked.audit, sample.records)

# %%
if real_sample:
    sample.show(checked.report, "sample_leakage_random_split",
                precision=1,
                caption="Real sample, random split: validation content "
                        "also in training")
    sample.show(checked.grouped, "sample_leakage_grouped_split",
                precision=1,
                caption="Real sample, grouped split: validation content "
                        "also in training")
    display(Markdown(sample_leakage(checked, seed=seed,
                                    val_fraction=val_fraction)))

# %% [markdown]
# ## The published tiles
#
# The same scores and audit on the data root given as `data_root` (for the real dataset: tiles that already passed
# quality control, without coordinates, so only their content links them: two tiles that share a strip
# narrower than 64 px and are linked to nothing else may be missed).

# %%
published = published_root(data_root)
if published is None:
    display(Markdown(published_note(
        len(sample.records) if real_sample else None)))
else:
    on_published = run.on_data(published)
    on_published.banner()
    published_audit = published_tiles_audit(
        published, thresholds, seed=seed, val_fraction=val_fraction)
    on_published.show(published_audit.flag_counts, "published_flags",
                      precision=1,
                      caption="Published tiles flagged by each rule")
    on_published.show(published_audit.removed,
                      "published_removed_from_names", precision=1,
                      caption="Published tiles: removed count read from "
                              "the numbering gaps")
    display(Markdown(audit_summary(published_audit.audit)))
    on_published.show(published_audit.report,
                      "published_leakage_random_split", precision=1,
                      caption="Published tiles, random 7:3 split: "
                              "validation content also in training")
