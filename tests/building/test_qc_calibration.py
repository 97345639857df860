"""The seam threshold's calibration on synthetic demo tiles, as QCThresholds documents it."""

from __future__ import annotations

import pytest

from landslide_core.building.qc import QCThresholds, seam_score
from landslide_core.sources.cas import subdatasets
from landslide_core.sources.cas.demo import generate_tile

THRESHOLD = QCThresholds().seam


@pytest.mark.slow
def test_synthetic_demo_tiles_above_the_threshold() -> None:
    scores = {(sd.key, i): seam_score(generate_tile(0, sd.key, i).image) for sd in subdatasets() for i in range(5)}
    assert sorted(key for key, score in scores.items() if score > THRESHOLD) == [
        ("longxi-sat", 1), ("moxi-town-0.2m", 1), ("moxi-town-0.2m", 4), ("moxitaidi-uav-0.6m", 1)]
