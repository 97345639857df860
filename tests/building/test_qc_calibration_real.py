"""The seam threshold's calibration on real tiles, as QCThresholds documents it: clean below, synthetic seams above."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from landslide_core.building.qc import QCThresholds, seam_score
from landslide_core.io.raster import read_raster
from tests.conftest import HOKKAIDO, ORIGINALS, requires_originals

THRESHOLD = QCThresholds().seam


def second_half(image: np.ndarray, kind: str, axis: int) -> np.ndarray:
    out = image.astype(np.float32)
    half = (slice(None), slice(None), slice(256, None)) if axis else (slice(None), slice(256, None))
    if kind == "colour 16":
        out[(0, *half[1:])] += 16
        out[(2, *half[1:])] -= 16
    elif kind == "blur 2 px":
        out[half] = ndimage.gaussian_filter(out, (0, 2, 2))[half]
    else:
        out[half] *= {"exposure -40 %": 0.6, "exposure -30 %": 0.7}[kind]
    return np.clip(out, 0, 255).round().astype(np.uint8)


def hokkaido_images() -> list[np.ndarray]:
    """The 24 real Hokkaido Iburi-Tobu images shipped in data/sample."""
    return [read_raster(p) for p in sorted((HOKKAIDO / "img").glob("*.tif"))]


@pytest.mark.real_data
def test_the_real_sample_scores_below_the_seam_threshold() -> None:
    highest = max(seam_score(image) for image in hokkaido_images())
    assert highest == pytest.approx(4.8, abs=0.05) and highest < THRESHOLD


@pytest.mark.slow
@pytest.mark.real_data
@requires_originals
def test_clean_real_tiles_and_synthetic_seams_on_them() -> None:
    hokkaido = hokkaido_images()
    originals = {p.stem: read_raster(p) for p in sorted(ORIGINALS.glob("*.tif*"))}
    scores = {name: seam_score(image) for name, image in originals.items()}
    assert scores.pop("Palu0117") == pytest.approx(17.7, abs=0.05)
    assert max(scores.values()) == pytest.approx(5.9, abs=0.05)
    clean = hokkaido + [originals[name] for name in scores]
    rates = {kind: np.mean([seam_score(second_half(image, kind, axis)) > THRESHOLD
                            for image in clean for axis in (0, 1)])
             for kind in ("colour 16", "blur 2 px", "exposure -40 %", "exposure -30 %")}
    assert {kind: round(100 * rate) for kind, rate in rates.items()} == {
        "colour 16": 92, "blur 2 px": 68, "exposure -40 %": 67, "exposure -30 %": 40}
