"""Quality control, as in the "Building the dataset" section: automated scores flag tiles, a person decides.

The paper says: “we first used automated metrics to identify and quantify issues such as the image boundary,
target size, and occlusion percentage. Images failing to meet certain thresholds were flagged. We then
manually inspected the flagged images to make the final rejection or retention decision.” The four rules and
their numbers are in that prose, not in Table 3 (which names the challenges); :mod:`.flags` quotes them.
Ours: the cloud rule flags on the cloud share alone (the rule's second condition, “the clarity of landslide
pixels is compromised”, is left to the person who reviews the flags), and the seam threshold is ours. The
public production code has no quality-control code, so the scores are designed here:

- :mod:`.metrics`: the four scores of one tile (fill, label share, cloud, seam) and their failure modes;
- :mod:`.flags`: thresholds (:class:`QCThresholds`), flags and their reasons;
- :mod:`.scan`: scoring a whole root, and the tiles removed as read from the gaps in the numbering (our reading);
- :mod:`.gallery`: pictures of the flagged tiles and an HTML index to review them;
- :mod:`.decisions`: the decisions file a person edits, read back strictly, and the tiles kept;
- :mod:`.report`: all of it as one run (``landslide-core qc``).
"""

from .decisions import (
    DECISIONS,
    DECISIONS_COLUMNS,
    KEPT_COLUMNS,
    kept_records,
    kept_table,
    read_decisions,
    write_decisions_template,
)
from .flags import CRITERIA, SCORE_COLUMNS, QCThresholds, flag
from .gallery import GALLERY_INDEX, gallery_name, tile_figure, write_gallery
from .metrics import cloud_fraction, cloud_mask, fill_fraction, fill_mask, label_share, score_tile, seam_score
from .report import DECISIONS_FILE, GALLERY_FOLDER, KEPT_FILE, SCORES_FILE, QCRun, run_qc
from .scan import IMAGE_SUFFIXES, REMOVED_COLUMNS, list_images, removed_from_names, score_root, summarise

__all__ = [
    "CRITERIA", "DECISIONS", "DECISIONS_COLUMNS", "DECISIONS_FILE", "GALLERY_FOLDER", "GALLERY_INDEX",
    "IMAGE_SUFFIXES", "KEPT_COLUMNS", "KEPT_FILE", "REMOVED_COLUMNS", "SCORES_FILE", "SCORE_COLUMNS", "QCRun",
    "QCThresholds", "cloud_fraction", "cloud_mask", "fill_fraction", "fill_mask", "gallery_name", "kept_records",
    "kept_table", "label_share", "list_images", "read_decisions", "removed_from_names", "run_qc", "score_root",
    "score_tile", "seam_score", "summarise", "tile_figure", "write_decisions_template", "write_gallery", "flag",
]
