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
# # The dataset at a glance
#
# **Overview.** This page regenerates the counts of paper Table 2 from the tiles found on disk, shows one tile of
# each sub-dataset with its landslide mask as paper Table 1 does, and measures something no table of the paper
# reports: the share of landslide pixels in each sub-dataset. Every number below is computed by this run from the
# data root named in the next cell (the part on the real sample: from the real tiles shipped in `data/sample`);
# only the column "Tiles (paper)" and the notes under that table come from the paper's tables. Cells that only set
# up or record are folded away: click a cell's toggle to see its code.

# %% tags=["parameters", "hide-input"]
# Data root holding <sub-dataset>/{img,label,mask}/. None: the embedded
# synthetic demo data.
data_root = None
# Sub-datasets to include (any spelling, e.g. ["Hokkaido Iburi-Tobu",
# "palu"]). None: all found.
subdatasets = None
# Parameter profile this run belongs to (set by
# `landslide-core book --profile`); names the records folder.
profile = "demo"
# Also show the part on the real sample shipped in data/sample (24 CAS
# Hokkaido Iburi-Tobu tiles, CC BY 4.0); False: leave it out.
real_sample = True

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from landslide_core.book import open_section
from landslide_core.data.statistics import tile_statistics
from landslide_core.sections.dataset import (
    COUNT_COLUMNS,
    gallery,
    landslide_shares,
    representative_tiles,
    sample_comparison,
    sample_statistics,
    share_chart,
    spread_tiles,
    summary,
    table2,
    table2_notes,
)

run = open_section("dataset", profile=profile,
                   parameters={"data_root": data_root,
                               "subdatasets": subdatasets,
                               "real_sample": real_sample},
                   data_root=data_root, subdatasets=subdatasets)
found = run.found

# %% [markdown]
# ## Sub-datasets: paper Table 2 beside the files found
#
# "Tiles (paper)" is quoted from paper Table 2; "Group" is ours (UAV where Table 2's sensor is UAV, else SAT);
# "Tiles on disk" is counted by this run (image/mask pairs), and "Folder on disk" names the folder they were found
# in. The sensor, ground resolution and acquisition dates of each sub-dataset are in paper Table 2 on the
# {doc}`study-areas page <01_study_areas>`. Under the table: the SAT total beside Table 6's, and the licences.

# %%
counts = table2(found)
run.show(counts[list(COUNT_COLUMNS)], "table2_counts", precision=0)
display(Markdown(table2_notes()))

# %% tags=["remove-input"]
# NBVAL_CHECK_OUTPUT
found_subdatasets = sorted({r.subdataset for r in found.records})
display(Markdown(f"{len(found.records)} tiles in {len(found_subdatasets)} "
                 f"of 16 sub-datasets: {', '.join(found_subdatasets)}"))

# %% [markdown]
# ## One tile per sub-dataset (as paper Table 1)
#
# For each sub-dataset, the tile whose landslide share is closest to that sub-dataset's median; right: the mask
# (1 = landslide) drawn in red over the image.

# %%
stats = tile_statistics(found.records, progress=False)
figure = gallery(representative_tiles(found.records, stats))

# %% [markdown]
# ## Landslide pixel share
#
# Landslides cover a small part of most tiles. The pixel share pools all pixels of a sub-dataset, which is what
# the pixel-level scores of the later sections see (the pooling is ours); the tile statistics show how the share
# varies between tiles. The last column is the share of tiles below 0.1 % landslide pixels, the paper's threshold
# (Methods, Building the dataset, Label pixel proportion): “we established a threshold to exclude data in which the
# proportion of labelled pixels in a single image falls below 0.1%”.

# %%
shares = landslide_shares(stats)
run.show(shares, "landslide_shares")

# %%
chart = share_chart(shares)

# %% [markdown]
# ## The real sample beside the demo
#
# The repository also ships 24 real tiles of one sub-dataset, Hokkaido Iburi-Tobu (`data/sample`, CC BY 4.0). The
# table sets their landslide shares and brightness (the mean of the three bands, pooled over every pixel) beside
# the tiles above, one column each; the row "tiles are" says which are synthetic and which real. Under it: four
# real tiles spread over the range of landslide shares, lowest first, and the comparison in words.

# %%
if real_sample:
    sample = run.on_sample()
    sample.banner()
    sample_stats = tile_statistics(sample.records, progress=False)
    beside = sample_statistics(found.records, sample.records,
                               synthetic=run.synthetic, main_stats=stats,
                               sample_stats=sample_stats)
    sample.show(beside.T, "sample_statistics", precision=1,
                caption="Real sample beside this page's tiles")
    real_tiles = gallery(spread_tiles(sample.records, sample_stats))
else:
    display(Markdown("The part on the real sample was left out of this "
                     "run (`real_sample = False`)."))

# %%
if real_sample:
    display(Markdown(sample_comparison(beside, sample.records)))

# %% [markdown]
# ## What this shows

# %%
display(Markdown(summary(found, shares, synthetic=run.synthetic)))
