"""The paper registry holds the paper's words verbatim, every interpretation in full, and computes its mismatches."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from landslide_core.errors import PaperStatementError
from landslide_core.paper import inferences, mismatches, quote, quotes, says, silences, unstated
from tests.attribution import unquoted_attributions

PAPER_DIR = Path(__file__).resolve().parents[2] / "landslide_core" / "paper"


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<sup>.*?</sup>", "", text)).strip()


def test_every_quote_is_the_papers_own_words(paper_text):
    text = _normal(paper_text)
    missing = [key for key, q in quotes().items() if _normal(q.text) not in text]
    assert not missing, f"not verbatim in the paper: {missing}"


def test_every_silence_is_one_the_paper_keeps(paper_text):
    text = paper_text.lower()
    spoken = {key: [w for w in s.absent if w.lower() in text] for key, s in silences().items()}
    assert not any(spoken.values()), f"the paper does use these words: {spoken}"
    assert all(s.what.startswith("no ") for s in silences().values())


def test_unstated_names_the_file_for_an_unknown_silence():
    assert unstated("augmentation") == "The paper states no data augmentation"
    with pytest.raises(PaperStatementError, match=r"silences\.yaml"):
        unstated("nothing")


def test_every_quote_names_where_it_is():
    sections = ("Abstract", "Background", "Methods", "Data Records", "Technical Validation", "Usage Notes", "Table")
    assert all(q.where.startswith(sections) for q in quotes().values())


def test_says_quotes_and_an_unknown_key_names_the_file_and_the_fix():
    assert says("optimiser") == (
        "The paper says (Technical Validation): “employing the SGD optimizer with a learning rate of 0.01, a "
        "momentum of 0.9, and a weight decay of 0.0005”")
    with pytest.raises(PaperStatementError, match=r"quotes\.yaml.*add the words of the paper"):
        quote("no such statement")


REQUIRED = ("f1_two_class_mean", "resize_not_tile", "pooled_confusion_matrix", "split_per_subdataset",
            "unfiltered_own_split", "binary_dice", "one_learning_rate", "label_rule_empty_tiles", "numbering_gaps",
            "cloud_second_condition", "hrgldd_channels", "table7_training_sets")


def test_every_interpretation_the_issue_names_has_quote_evidence_choice_and_parameter():
    by_key = {i.key: i for i in inferences()}
    assert set(REQUIRED) <= set(by_key)
    for item in by_key.values():
        assert item.quotes and item.evidence and item.parameter, item.key
        assert "ours" in item.choice.lower(), f"{item.key}: the choice is not called ours"


def _table2() -> list[dict[str, str]]:
    with (PAPER_DIR / "table2_subdatasets.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_mismatches_are_the_papers_numbers(paper_text):
    # Summed here from the paper's text, not from the registry the module reads.
    rows = [line.split("\t") for line in paper_text.splitlines() if line.count("\t") == 6]
    sat_sensors = {"WorldView2/3", "SAT", "Sentinel-2/L2A", "Planet", "SuperView-1", "GF-1", "Landsat"}
    amounts = {r[0]: int(r[1]) for r in rows if r[1].isdigit()}
    sat = sum(int(r[1]) for r in rows if r[1].isdigit() and r[4] in sat_sensors)
    uav = sum(int(r[1]) for r in rows if r[1].isdigit() and r[4] == "UAV")
    assert (sat, uav) == (7422, 13443) and len(amounts) == 16
    found = mismatches()
    assert f"sum to {sat:,} tiles" in found["sat_tiles"].line() and "7,413" in found["sat_tiles"].line()
    moxi_sat, moxi_uav = 652, 984 + 483
    assert amounts["Moxitaidi (SAT)"] == moxi_sat
    assert f"gives {uav - moxi_uav:,} and {sat - moxi_sat:,}" in found["table7_cas_rows"].line()
    assert "OA +0.424 and IoU +1.862" in found["one_percent"].line()


@pytest.mark.parametrize(("text", "flagged"), [
    ("The split is 7:3, as the paper did.", True),
    ("Trained with the paper's protocol: SGD with poly decay.", True),
    ("The paper states neither its epochs nor its batch size.", True),
    ("The paper's values are quoted from Table 5.", False),
    ("Split 7:3, as the paper says (Technical Validation): “randomly split each subdataset into training and "
     "validation sets at a 7:3 ratio”.", False),
    ("As the paper says: “we trained every model for 100 epochs”.", True),  # a quote the registry does not hold
    ("Poly decay is ours; the paper says “the SGD optimizer” and no schedule.", True),  # too short
    ("The paper states no data augmentation; flips are ours.", False),
    ("The paper states neither its epochs, batch size nor split.", True),  # a silence the registry does not hold
])
def test_the_attribution_check_flags_what_the_registry_does_not_hold(text, flagged):
    found = unquoted_attributions(text, [q.text for q in quotes().values()], [s.what for s in silences().values()])
    assert bool(found) is flagged


def test_sentences_are_not_split_inside_a_quotation():
    text = ("The paper says (Methods): “Images failing to meet certain thresholds were flagged. We then manually "
            "inspected the flagged images to make the final rejection or retention decision.” Next.")
    assert unquoted_attributions(text, [q.text for q in quotes().values()]) == []
    text = "As the paper's Eq. 3 says: “Whereas F1 takes both indices into account”."
    assert unquoted_attributions(text, [q.text for q in quotes().values()]) == []


def test_the_readme_and_plain_pages_quote_what_they_attribute_to_the_paper():
    """The README and book/*.md, checked before the book is built (the built pages: tests/built/test_fidelity.py)."""
    from tests.attribution import registry_attributions

    root = PAPER_DIR.parents[1]
    texts = {path.name: path.read_text(encoding="utf-8") for path in [root / "README.md", *(root / "book").glob("*.md")]}
    found = {name: registry_attributions(text) for name, text in texts.items()}
    assert not any(found.values()), found
