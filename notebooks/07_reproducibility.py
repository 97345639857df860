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
# # Reproducibility
#
# **Overview.** How this book was built and how to rebuild it: the software environment of this build, the
# parameter profiles, how to run a section on the full CAS data and on a GPU, and the measured throughput and
# memory benchmarks. Everything below is read from this build's environment and files, not typed in. Cells
# that only set up are folded away: click a cell's toggle to see its code.

# %% tags=["parameters", "hide-input"]
# Parameter profile this run belongs to (set by
# `landslide-core book --profile`).
profile = "demo"

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import Markdown, display

from landslide_core.book import repository_root
from landslide_core.book.profiles import profiles, profiles_table
from landslide_core.sections.rehearsal import (
    is_rehearsal,
    rehearsal_summary,
    rehearsal_table,
)
from landslide_core.sections.replica_record import (
    is_replica,
    replica_summary,
    replica_table,
)
from landslide_core.sections.reproducibility import (
    environment_table,
    is_scene_scale,
    pipeline_rate_summary,
    record_view,
    scene_scale_summary,
    throughput_records,
)

# targets and notes are sentences: show them whole
pd.set_option("display.max_colwidth", None)
root = repository_root()

# %% [markdown]
# ## Environment of this build
#
# The pinned environment is `requirements.txt` (pip) or `environment.yml` (conda); `make book` and `make test`
# create `.venv` from `requirements.txt`. These are the versions this page was executed with:

# %%
environment_table(profile)

# %% [markdown]
# ## Parameter profiles
#
# `landslide_core/book/profiles.yaml` defines the profiles; `landslide-core book --profile NAME` picks one and
# `-p NAME VALUE` overrides any parameter. A section receives only the parameters its `parameters` cell declares.

# %%
for p in profiles().values():
    display(Markdown(f"**{p.name}** — {p.description}"))
profiles_table()

# %% [markdown]
# ## Running on the full data and on a GPU
#
# ```bash
# # the 16 sub-datasets and the study areas, md5-checked, resumable
# .venv/bin/landslide-core download --root /data/CAS
# # one line per problem, exit 1 if any
# .venv/bin/landslide-core validate /data/CAS
# # every section, at paper scale
# .venv/bin/landslide-core book --profile paper -p data_root /data/CAS
# # one section
# .venv/bin/landslide-core book --profile paper --section benchmarks \
#     -p data_root /data/CAS
# ```
#
# The `paper` profile expects a CUDA GPU (`device: cuda`). A section that has run is not executed again while its
# source, parameters, code and data are unchanged; `--force` reruns it. Records of every table are written under
# `results/<profile>/<section>/`.

# %% [markdown]
# ## Benchmarks: throughput, memory, the data pipeline, the leakage audit and tiling
#
# Four scripts write these records (see `benchmarks/README.md`): `benchmarks/throughput.py` measures training and
# inference images/s and peak memory of each model at 512×512, the data pipeline's tiles/s, and the targets
# (`pipeline-*`, `targets-*`, `throughput-*`); `benchmarks/pipeline.py` measures on one core, in one run, how fast
# image and mask decode (with PIL, the yardstick, and with our rasterio reader) beside how fast a training
# item is made, and their ratio against the target of at least one half (`pipeline-rate-*`, said in a sentence
# above its table); `benchmarks/leakage_audit.py` runs the leakage audit on at least
# 20,000 generated 512×512 tiles with planted overlaps and records whether every planted group was found, the time
# and the peak memory (`leakage-audit-*`); `benchmarks/tiling_memory.py` records the peak memory of tiling a scene
# larger than GDAL's block cache against two baselines (`tiling-memory-*`). The records are shown as they were
# written, each with the device and run it came from, laid out to fit the page: a record of one row is turned on
# its side (one line per column), values that are the same in every row are said once above the table, and a
# table still too wide for the page shows one column per row. Numbers from a shared 2-core CPU say that the code
# runs and how things compare; they say nothing about GPU speed.
# The scene-prediction records (`scene-scale-*`), the replica's
# (`replica-*`) and the rehearsal at paper scale (`rehearsal-*`) have
# their own subsections below.

# %%
records = throughput_records(root / "benchmarks" / "results")
own = (is_scene_scale, is_rehearsal, is_replica)
for record in records:
    if any(kind(record) for kind in own):
        continue  # shown in their own subsections below
    view = record_view(record, root)
    display(Markdown(view.note))
    summary = pipeline_rate_summary(record)
    if summary:
        display(Markdown(summary))
    display(view.table)
    display(Markdown(f"<small>{record.provenance.line()}</small>"))
if not records:
    display(Markdown("No benchmark results yet: no script in "
                     "`benchmarks/` has been run in this checkout."))

# %% [markdown]
# ## Scene prediction at scale
#
# `benchmarks/scene_scale.py` writes synthetic scenes of growing size
# window by window (a rendered demo texture with landslides, mirrored
# tile by tile) and predicts each with the code behind
# `landslide-core predict` in a fresh process, which reads its own peak
# resident memory (`VmHWM`) at its end. The models are a fixed 1×1
# convolution, whose cost is the pipeline's own (reading, blending,
# writing the COGs, vectorizing), and untrained networks, which cost what
# trained ones do. Memory bounded by a few chunks shows as a peak that
# does not grow with the scene and stays far below the scene's size as
# one array; linear time as a ratio of seconds per megapixel near 1. The
# models, sizes and device below are read from the record.

# %%
scale_records = [record for record in records if is_scene_scale(record)]
for record in scale_records:
    view = record_view(record, root)
    display(Markdown(view.note))
    display(Markdown(scene_scale_summary(record)))
    display(view.table)
    display(Markdown(f"<small>{record.provenance.line()}</small>"))
if not scale_records:
    display(Markdown("No scene-scale record yet: run "
                     "`benchmarks/scene_scale.py`."))

# %% [markdown]
# ## Every stage before training, rehearsed at paper scale
#
# `benchmarks/rehearsal.py` runs each stage a user's run makes before
# training (scan and validate, statistics, QC scores, the leakage audit
# and grouped split, the baselines on every validation tile, data
# loading, reading the public datasets of Table 7, intervals, the status
# board, results pack and unpack) on a synthetic replica with the CAS
# dataset's layout and size, and on a quarter of its tiles, each in a
# fresh process that reads its own peak resident memory. The replica is
# synthetic: its times and memory are real measurements of this code at
# the dataset's size; its pixels are not data. A stage meets the targets
# when its peak memory (its process and those it starts) stays within a
# bound and its time at full size within a multiple of its time on the
# quarter; both limits, the stages and the device are read from the
# record. The model is timed on a few tiles on the CPU only (tiles/s):
# on every validation tile it is GPU work.
#
# First, writing the replica (`landslide-core replica`, timed by
# `benchmarks/replica.py`): per part, the samples and files written,
# their size on disk, the CPU seconds and the peak memory of the part's
# largest process (on the total row, the main process's); then the
# stages.

# %%
def show(kind, summary, table, script):
    """Each record of ``kind``: its sentence, table and provenance."""
    chosen = [record for record in records if kind(record)]
    for record in chosen:
        display(Markdown(summary(record)))
        display(table(record))
        line = record.provenance.line()
        display(Markdown(f"<small>{line}</small>"))
    if not chosen:
        display(Markdown(f"No record yet: run `{script}`."))


show(is_replica, replica_summary, replica_table,
     "benchmarks/replica.py")

# %%
show(is_rehearsal, rehearsal_summary, rehearsal_table,
     "benchmarks/rehearsal.py")

# %% [markdown]
# ## What this shows
#
# The table of versions above is the environment this page was built in; the profiles are read from the same file
# the runner uses, so the settings shown are the settings run.
