"""The building page: demo scenes cut, flagged, checked against their planted truth, filtered and audited."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from landslide_core.building.qc import QCThresholds
from landslide_core.data.statistics import usable_cores
from landslide_core.paper import mismatches, quote
from landslide_core.sections import leakage, validation
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
    PAPER_REMOVED,
    leakage_tables,
    published_tiles_audit,
    removed_note,
    removed_table,
)
from landslide_core.sources import get_source
from tests.attribution import registry_attributions
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    return build_dataset(tmp_path_factory.mktemp("building"), seed=0)


@pytest.mark.slow
def test_every_scene_is_cut_into_a_five_by_five_grid_of_georeferenced_tiles(built) -> None:
    assert len(built.scenes) == 4 and len(built.index) == 100 and len(built.records) == 100
    table = scene_table(built)
    assert (table["tiles"] == 25).all() and (table["kept"] == table["tiles"] - flag_counts(built.flags)
                                              .drop("all")["flagged"].to_numpy()).all()
    assert set(table["CRS"]) >= {"EPSG:32654", "EPSG:32750"}
    assert str(built.index.crs) == "EPSG:4326"


def test_fill_and_label_flags_are_exactly_the_planted_truth_and_cloud_and_seam_nearly(built) -> None:
    truth = planted_truth(built.index, built.scenes)
    checked = qc_against_truth(built.flags, truth)
    fill, label, cloud, seam = (checked.iloc[i] for i in range(4))
    assert fill["breaks it (truth)"] == 4 and fill["missed"] == fill["false alarms"] == 0  # one corner per scene
    assert label["breaks it (truth)"] > 0 and label["missed"] == label["false alarms"] == 0
    assert cloud["both"] >= 1 and cloud["false alarms"] == 0 and cloud["missed"] <= 1
    assert seam["both"] >= 0.7 * seam["breaks it (truth)"] and seam["false alarms"] <= 0.1 * seam["flagged"]
    wrong = disagreements(built.flags, truth)
    assert len(wrong) == checked[["missed", "false alarms"]].to_numpy().sum()
    exact = int(((checked["missed"] == 0) & (checked["false alarms"] == 0)).sum())
    assert truth_summary(checked).startswith(f"{exact} of 4 rules flag exactly the tiles that break them (image boundary")


def test_the_tiny_scar_tiles_are_flagged_for_label_share_and_contain_a_landslide(built) -> None:
    flags = built.flags
    tiny = flags[(flags["label_share"] > 0) & (flags["label_share"] < 0.001)]
    assert len(tiny) >= 1 and tiny["flag_label"].all()


def test_the_filtered_root_holds_exactly_the_kept_tiles_under_their_names(built) -> None:
    kept = get_source("cas").list_tiles(built.filtered_root)
    assert {r.uid for r in kept} == built.kept
    assert len(built.kept) == 100 - int(built.flags["flagged"].sum())
    record = kept[0]
    original = built.tiles_root / record.image.relative_to(built.filtered_root)
    assert os.path.samefile(record.image, original)  # linked, not copied
    removed = removed_table(built.filtered_root)
    assert removed.loc["paper: SAT group (quoted)", "removed"] == PAPER_REMOVED["removed"]
    ours = removed.drop("paper: SAT group (quoted)")
    flagged = built.flags[built.flags["flagged"]]
    for key, row in ours.iterrows():  # every rejected tile numbered below the highest kept one is a gap
        numbers = [int(n[-4:]) for n in flagged.loc[flagged["subdataset"] == key, "name"]]
        assert row["removed"] == sum(n < row["highest number"] for n in numbers)


@pytest.mark.slow
def test_the_random_split_leaks_and_the_grouped_split_does_not(built) -> None:
    audit, random, grouped = leakage_tables(built.filtered_root, seed=0, val_fraction=0.3)
    assert audit.tiles["group_id"].nunique() == 4  # tiles cut with overlap: one linked group per scene
    assert random.loc["total", "share of validation pixels seen in training (%)"] > 50
    assert grouped.loc["total", "sharing pixels with training"] == 0
    assert (grouped.drop("total")["validation tiles"] > 0).all()
    left_out = "left out (share pixels with validation)"
    assert (random[left_out] == 0).all() and grouped.loc["total", left_out] > 0  # the price of a leakage-free split
    assert (grouped["training tiles"] + grouped[left_out] + grouped["validation tiles"]
            == random["training tiles"] + random["validation tiles"]).all()


@pytest.mark.slow
def test_the_pages_audits_read_on_every_core(built, tmp_path, monkeypatch) -> None:
    """The building page's audit (:func:`leakage_tables`) and the validation page's grouped split (``arms_for``)."""
    workers = []
    for page in (leakage, validation):
        monkeypatch.setattr(page, "grouped_split", lambda *a, real=page.grouped_split, **k:
                            workers.append(k["workers"]) or real(*a, **k))
    leakage_tables(built.filtered_root, seed=0, val_fraction=0.3)
    validation.arms_for(built.filtered_root, tmp_path, unfiltered_root=None, seed=0)
    assert workers == [usable_cores()] * 2


def test_the_rules_are_quoted_from_the_prose_and_what_is_ours_is_said() -> None:
    text = qc_rules(QCThresholds(cloud=0.9))
    for key in ("fill_rule", "label_rule", "cloud_rule", "seam_rule", "qc_scheme"):
        assert quote(key).text in text
    assert "cloud share > 90 %" in text and "share alone decides" in text and "not in Table 3" in text
    assert not registry_attributions(text)


def test_the_removed_count_is_quoted_beside_the_mismatch_and_the_gap_reading_is_ours() -> None:
    text = removed_note()
    assert quote("qc_removed").text in text and mismatches()["sat_tiles"].line() in text
    assert "**Ours: gaps in the tile numbering" in text and "8,658" in text and "7,413" in text
    assert not registry_attributions(text)


def test_figures_draw(built) -> None:
    for figure in (scene_overview(built.scenes, built.flags, built.index), score_distributions(built.flags),
                   challenge_gallery(built.flags, built.records)):
        assert figure.axes


def test_published_root_is_none_for_the_demo_tiles(tmp_path: Path) -> None:
    from landslide_core.sources.cas import is_replica
    from landslide_core.sources.cas.demo import write_demo_data

    demo = write_demo_data(tmp_path / "demo", subdatasets=["palu"], tiles_per_subdataset=1, progress=False)
    assert published_root(None) is None and published_root(demo) is None and not is_replica(demo)
    assert published_root(tmp_path) == tmp_path
    assert thresholds_from(0.3, 0.001, 0.8, None) == QCThresholds()


def test_the_published_real_tiles_pass_fill_and_label_and_leak_through_their_shared_quadrants() -> None:
    audit = published_tiles_audit(SAMPLE, QCThresholds(), seed=0, val_fraction=0.3)
    counts = audit.flag_counts.loc["all"]
    assert counts["tiles"] == 24 and counts["image boundary (fill)"] == 0 and counts["label pixel proportion"] == 0
    assert len(audit.flags) == 24 and not audit.flags["flagged"].any()
    assert len(audit.audit.pairs) == 4
    assert isinstance(audit.report, pd.DataFrame) and audit.report.loc["total", "validation tiles"] == 7
    assert audit.report.loc["total", "sharing pixels with training"] > 0
    assert audit.grouped.loc["total", "sharing pixels with training"] == 0
    assert isinstance(audit.removed, pd.DataFrame)  # asked for: read from the names, whatever they mean


def test_the_papers_removed_count_is_table_6s_difference_and_the_quoted_number():
    from landslide_core.paper import quote

    assert PAPER_REMOVED == {"removed": 8658 - 7413, "before": 8658}  # Table 6's "Original SAT" and "SAT"
    assert f"{PAPER_REMOVED['removed']:,}" in quote("qc_removed").text
