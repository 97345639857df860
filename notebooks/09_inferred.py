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
# # The paper quoted, our choices named
#
# **Overview.** The paper leaves some things unsaid and says a few things twice with different numbers. This page
# lists every interpretation the book rests on, each with the words it starts from (quoted, with their section or table),
# the evidence, the choice we made, and the parameter that changes it; then where the paper's own numbers
# disagree; then every statement of the paper the book quotes. All of it is read from one place in the package,
# `landslide_core/paper/` (`quotes.yaml`, `inferences.yaml`, the published tables), which the pages, the README
# and the docstrings take their quotes from; the tests check each quote against the text of the paper. This page shows
# no model results and reads no tiles: it depends on the paper alone. Cells that only set up are folded away.

# %% tags=["parameters", "hide-input"]
# Parameter profile this run belongs to (set by
# `landslide-core book --profile`); names the records folder.
profile = "demo"

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import Markdown, display

from landslide_core.book import open_section
from landslide_core.sections.inferred import (
    f1_readings,
    f1_verdict,
    inferences_markdown,
    mismatches_markdown,
    quotes_table,
    resolution_table,
)

# quotes are sentences: show them whole
pd.set_option("display.max_colwidth", None)
run = open_section("inferred", profile=profile, parameters={},
                   data_root=None, scan=False, banner=False)

# %% [markdown]
# ## The evidence for reading "F1 score" as a two-class mean
#
# Eq. 3 defines F1 from precision and recall, 2PR/(P+R). Each published row below is set beside that
# value and beside the mean of the landslide and background F1 (each class's F1 = 2·IoU/(1 + IoU), the
# background IoU from the printed mIoU), all computed from the paper's published scores.

# %%
readings = f1_readings()
run.show(readings, "f1_readings", precision=3,
         caption="The paper's printed F1 beside Eq. 3 and the two-class "
                 "mean, from its own precision, recall, IoU and mIoU "
                 "(percent)")
display(Markdown(f1_verdict(readings)))

# %% [markdown]
# ## Interpretations

# %%
display(Markdown(inferences_markdown()))

# %% [markdown]
# ## Where the paper's numbers disagree with each other
#
# Computed from the paper's Tables 2, 6 and 7; the pages that show these numbers print both values.

# %%
display(Markdown(mismatches_markdown()))

# %% [markdown]
# Table 2's ground resolutions are quoted as published. For these rows the value is not the sensor's native
# resolution (from the sensors' specifications, ours), so the tiles were most likely resampled.

# %%
run.show(resolution_table(), "table2_resolutions",
         caption="Table 2 rows whose ground resolution is not the "
                 "sensor's native one")

# %% [markdown]
# ## Every statement of the paper this book quotes

# %%
run.show(quotes_table(), "quotes",
         caption="Quoted in this book: the words of the paper, with where "
                 "they are (landslide_core/paper/quotes.yaml)")
