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
# # Study areas
#
# **Overview.** The CAS Landslide Dataset joins 16 sub-datasets from nine regions in four countries, imaged by
# UAVs and satellites. This page redraws the location map of paper Fig. 1, quotes paper Tables 2 and 4 as
# published (from their CSV files in `landslide_core/paper/`, read by `landslide_core/sources/cas/registry.py`),
# with two columns of ours beside Table 2 marked "ours", and sets the tile count and ground resolution of each
# sub-dataset side by side. Map positions come from the official study-areas shapefile when it has been
# downloaded into the data root (`landslide-core download study-areas`); otherwise they are approximate, and the
# map says so. Tile counts "on disk" are counted by this run in the data root named below. Cells that only set
# up or record are folded away: click a cell's toggle to see its code.

# %% tags=["parameters", "hide-input"]
# Data root holding <sub-dataset>/{img,label,mask}/ and, if downloaded,
# study_areas/. None: the synthetic demo data.
data_root = None
# Parameter profile this run belongs to (set by
# `landslide-core book --profile`); names the records folder.
profile = "demo"
# Draw the official study-areas shapefile when the data root has it;
# False: always the approximate positions.
use_official_shapefile = True

# %% tags=["hide-input"]
from IPython.display import Markdown, display

from landslide_core.book import open_section
from landslide_core.sections.dataset import table2
from landslide_core.sections.study_areas import (
    region_map,
    study_areas,
    subdataset_chart,
    summary,
    table2_ours_note,
    table2_parts,
    table2_resolution_note,
    table4_published,
)

parameters = {"data_root": data_root,
              "use_official_shapefile": use_official_shapefile}
run = open_section("study_areas", profile=profile,
                   parameters=parameters, data_root=data_root)

# %% [markdown]
# ## Location map (paper Fig. 1)
#
# Marker colour gives the sensor group of a region's sub-datasets (half and half where a region has both).
# Panel (b) zooms on China, where five of the nine regions lie, four of them in western Sichuan.

# %%
areas = study_areas(run.data_root, use_shapefile=use_official_shapefile)
figure = region_map(areas)

# %%
display(Markdown(f"**Positions used:** {areas.note}."))
run.show(areas.positions(), "region_positions", precision=3,
         caption="Map position of each region and where it comes from "
                 "(not part of the paper)")

# %% [markdown]
# ## Paper Table 4: the regions, as published
#
# Quoted from the paper, not computed.

# %%
run.show(table4_published(), "table4",
         caption="Paper Table 4 as published: geological and "
                 "environmental characteristics of the study areas")

# %% [markdown]
# ## Paper Table 2: the sub-datasets, as published
#
# Quoted from the paper, not computed, in two parts so that each fits the page: what each sub-dataset is, then
# where it comes from. The last column of each part is ours (not in Table 2) and is marked so: it links a row to
# its sensor group (Table 5) and its region (Table 4); the note under the tables says how, and which links we
# inferred. Resolutions that are not the sensor's native one are quoted as published, with a note under part 1.
# The tiles found on disk are counted in the next section and in the chart below.

# %%
imagery, origin = table2_parts()
run.show(imagery, "table2_imagery", precision=1,
         caption="Paper Table 2 as published (1 of 2): tiles, "
                 "acquisition, sensor and resolution of each "
                 "sub-dataset; the group column is ours")
display(Markdown(table2_resolution_note()))
run.show(origin, "table2_origin",
         caption="Paper Table 2 as published (2 of 2): source and "
                 "licence of each sub-dataset; the study-area column "
                 "is ours")
display(Markdown(table2_ours_note()))

# %% [markdown]
# ## Tiles and ground resolution per sub-dataset
#
# Left: tiles per sub-dataset, paper (pale bar) and found on disk by this run (dark bar), on a log scale so that
# both show. Right: ground resolution as published (see the note under Table 2, part 1).

# %%
counts = table2(run.found)
chart = subdataset_chart(counts)

# %% tags=["hide-input"]
run.record(counts, "tiles_per_subdataset",
           caption="Tiles per sub-dataset: paper Table 2 and on disk "
                   "(chart data)")

# %% [markdown]
# ## What this shows

# %%
display(Markdown(summary(areas, counts, synthetic=run.synthetic)))
