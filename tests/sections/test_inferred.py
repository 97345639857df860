"""The appendix page's computed evidence, checked by hand on one published row."""

from __future__ import annotations

import pytest

from landslide_core.paper import inferences
from landslide_core.sections.inferred import f1_readings, f1_verdict, inferences_markdown, resolution_table


def test_f1_readings_of_table5_uav_fcn_match_a_hand_computation():
    # Paper Table 5, UAV, FCN: P 75.045, R 84.016, IoU 65.057, F1 86.724, mIoU 77.456.
    p, r, iou, miou = 0.75045, 0.84016, 0.65057, 0.77456
    background = 2 * miou - iou
    mean = 100 * (2 * iou / (1 + iou) + 2 * background / (1 + background)) / 2
    row = f1_readings().loc[(5, "UAV, FCN")]
    assert row["F1 printed"] == pytest.approx(86.724)
    assert row["Eq. 3 (2PR/(P+R))"] == pytest.approx(200 * p * r / (p + r), abs=1e-3)
    assert row["two-class mean"] == pytest.approx(mean, abs=1e-3)


def test_the_verdict_says_which_reading_the_printed_values_follow():
    readings = f1_readings()
    assert len(readings) == 21
    assert "within 0.129 points" in f1_verdict(readings) and "follow the two-class mean" in f1_verdict(readings)


def test_every_interpretation_is_on_the_page_with_its_quote_and_parameter():
    text = inferences_markdown()
    for item in inferences():
        assert f"### {item.title}" in text and item.parameter in text
        assert all(" ".join(q.text.split()) in text for q in item.quotes)


def test_resolution_footnotes_cover_the_rows_the_issue_names():
    table = resolution_table()
    assert set(table.index) == {"Palu", "Lombok", "Tiburon Peninsula (Sentinel)", "Moxitaidi (SAT)",
                                         "Longxi River (SAT)", "Wenchuan"}
    assert table.loc["Wenchuan", "Ground resolution (m, Table 2)"] == 5.0
    assert table.loc["Wenchuan", "Sensor's native resolution (ours)"].startswith("30 m")
