"""Quality control on real CAS tiles: the 24 Hokkaido pairs shipped in data/sample (every clone) and the 29 originals
(beside the team's checkout only) passed the paper's QC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from landslide_core.building.qc import QCThresholds, fill_fraction, flag, removed_from_names, score_root
from landslide_core.io.raster import read_raster
from tests.conftest import ORIGINALS, SAMPLE, requires_originals

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def hokkaido_flags():
    return flag(score_root(SAMPLE, progress=False))


@pytest.fixture(scope="module")
def original_flags():
    return flag(score_root(ORIGINALS, progress=False)).set_index("name")


def test_the_24_hokkaido_pairs_pass_every_rule(hokkaido_flags) -> None:
    flags = hokkaido_flags
    assert len(flags) == 24 and set(flags["subdataset"]) == {"hokkaido"} and set(flags["group"]) == {"SAT"}
    assert flags["label_share"].between(0.003, 0.37).all()  # README: 0.3 % to 37 %
    assert (flags["fill_fraction"] == 0).all()
    assert not flags[["flag_fill", "flag_label", "flag_cloud", "flag_seam"]].to_numpy().any()
    assert flags["seam_score"].max() < QCThresholds().seam * 0.65  # the calibration's margin (max 4.8)
    assert (flags["reasons"] == "").all()


@requires_originals
def test_the_29_originals_are_scored_without_masks(original_flags) -> None:
    flags = original_flags
    assert len(flags) == 29
    assert flags["label_share"].isna().all() and not flags["flag_label"].any()
    assert flags["reasons"].str.contains("label: needs a mask").all()
    assert flags.loc["Hokkaido0017", "subdataset"] == "hokkaido"
    assert flags.loc["Haiti_Planet043", "subdataset"] == "tiburon-planet"
    assert flags.loc["Haiti146", "subdataset"] == "tiburon-sentinel"
    assert flags.loc["Luding_1m_UAV014", ["subdataset", "group"]].tolist() == ["moxitaidi-uav-1m", "UAV"]
    assert flags["subdataset"].nunique() == 10


@requires_originals
def test_which_originals_are_flagged_and_why(original_flags) -> None:
    """Two published tiles are flagged: Lombok043's top 39 % is white fill beyond the scene footprint (the
    paper's person kept it, or its fill count differs), and Palu0117 holds a strip from another acquisition
    between two vertical seams. No other original comes near the seam threshold."""
    flags = original_flags
    assert sorted(flags.index[flags["flagged"]]) == ["Lombok043", "Palu0117"]
    assert flags.loc["Lombok043", "fill_fraction"] == pytest.approx(0.392, abs=0.002)
    assert flags.loc["Lombok043", "reasons"] == "fill 39.2 % > 30 %; label: needs a mask"
    assert flags.loc["Palu0117", "flag_seam"] and flags.loc["Palu0117", "seam_score"] > 2 * QCThresholds().seam
    assert flags.drop(index="Palu0117")["seam_score"].max() < QCThresholds().seam * 0.75


@requires_originals
def test_real_fill_edges_count_and_clipped_content_does_not(original_flags) -> None:
    flags = original_flags
    # white wedges beyond the footprint at the tile edge
    assert flags.loc["Haiti146", "fill_fraction"] == pytest.approx(0.078, abs=0.002)
    assert flags.loc["Hokkaido0017", "fill_fraction"] == pytest.approx(0.075, abs=0.002)
    # 27 % of pure white in a bright scar, 22 % of pure black in mountain shadows: content, not fill
    for name, colour, share in (("jiuzzhaigou_0.2m_UVA0664", 255, 0.25), ("Haiti_Planet286", 0, 0.2)):
        image = read_raster(next(ORIGINALS.glob(f"{name}.tif*")))
        assert (image == colour).all(axis=0).mean() > share
        assert fill_fraction(image) == 0
        assert flags.loc[name, "fill_fraction"] == 0


def test_numbering_of_the_real_sample() -> None:
    """The names are a third party's (100NN, see data/sample/LICENCE.md): this checks the reading, not the dataset."""
    removed = removed_from_names(SAMPLE).set_index("subdataset")
    assert removed.loc["hokkaido", ["present", "highest number"]].tolist() == [24, 10785]


@requires_originals
def test_numbering_of_the_originals() -> None:
    originals = removed_from_names(ORIGINALS).set_index("subdataset")
    assert originals.loc["jiuzhai-0.2m", ["present", "highest number"]].tolist() == [8, 5388]
    assert originals.loc["hokkaido", ["present", "highest number", "missing"]].tolist() == [4, 1238, 1234]


@requires_originals
def test_scores_do_not_depend_on_the_file_suffix(tmp_path: Path) -> None:
    """The same pixels read from .tif and .tiff give the same scores (jiuzhai ships both)."""
    source = next(ORIGINALS.glob("jiuzzhaigou_0.2m_UVA0155.tif"))
    (tmp_path / "jiuzzhaigou_0.2m_UVA0155.tiff").write_bytes(source.read_bytes())
    (tmp_path / "copy0001.tif").write_bytes(source.read_bytes())
    scores = score_root(tmp_path, progress=False)
    assert scores["subdataset"].tolist() == [tmp_path.name, "jiuzhai-0.2m"]
    assert np.allclose(scores.iloc[0, 5:].astype(float), scores.iloc[1, 5:].astype(float), equal_nan=True)
