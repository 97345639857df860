"""Profiles: the demo, paper and rehearsal settings, and how a section's parameters are resolved from them."""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import pytest

from landslide_core.book.profiles import (
    Profile,
    ProfileError,
    get_profile,
    profiles,
    profiles_table,
    section_key,
    section_parameters,
)
from landslide_core.book.runner import section_source, sections
from landslide_core.sections.cross_dataset import DATA_ROOT_FIELD, PUBLIC_DATASETS
from landslide_core.sources.cas.replica import STAND_INS_FOLDER

REPO = Path(__file__).resolve().parents[2]

PROFILE = Profile(
    name="test", description="", parameters={"data_root": None, "device": "cpu"},
    sections={"benchmarks": {"epochs": 2}}, required=("data_root",),
)


def test_the_shipped_profiles_are_demo_paper_and_rehearsal():
    assert set(profiles()) == {"demo", "paper", "rehearsal"}
    demo, paper = get_profile("demo"), get_profile("paper")
    assert demo.parameters["device"] == "cpu" and paper.parameters["device"] == "cuda"
    assert "data_root" in paper.required and not demo.required
    assert paper.sections["benchmarks"]["pretrained"] is True and demo.sections["benchmarks"]["pretrained"] is False
    assert ("paper", "benchmarks", "epochs") in profiles_table().index


def test_an_unknown_profile_names_the_valid_ones():
    with pytest.raises(ProfileError, match="unknown profile 'gpu'.*demo, paper"):
        get_profile("gpu")


@pytest.mark.parametrize("spelling", ["01_study_areas", "study-areas", "Study_Areas", "study_areas"])
def test_section_names_are_matched_loosely(spelling):
    assert section_key(spelling) == "study_areas"


def test_a_section_gets_only_what_it_declares_and_overrides_win():
    declared = {"data_root": None, "epochs": 1, "profile": "demo"}
    values = section_parameters(PROFILE, "05_benchmarks", declared, {"data_root": "/data/CAS", "seed": 3})
    assert values == {"data_root": "/data/CAS", "epochs": 2, "profile": "test"}
    assert section_parameters(PROFILE, "05_benchmarks", declared, {"data_root": "/d", "epochs": 7})["epochs"] == 7


def test_a_required_parameter_must_be_given():
    with pytest.raises(ProfileError, match="profile 'test' needs data_root for section 'benchmarks': add -p data_root"):
        section_parameters(PROFILE, "benchmarks", {"data_root": None, "epochs": 1}, {})


def test_a_profile_setting_an_undeclared_parameter_is_a_profile_error():
    with pytest.raises(ProfileError, match="sets epochs for section 'benchmarks', which its parameters cell does not"):
        section_parameters(PROFILE, "benchmarks", {"data_root": None}, {"data_root": "/d"})


def declared(name: str) -> dict[str, object]:
    """The names a section's ``parameters`` cell assigns, read from its jupytext source without executing it."""
    cells = jupytext.read(section_source(REPO, name)).cells
    cell = next(c for c in cells if "parameters" in c.metadata.get("tags", []))
    return {target.id: None for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)
            for target in node.targets}


@pytest.mark.parametrize("name", sorted(profiles()))
def test_every_section_accepts_what_each_profile_gives_it(name):
    profile, names = get_profile(name), sections(REPO)
    assert set(profile.sections) <= {section_key(n) for n in names}  # no entry for a section the book lacks
    for section in names:
        values = section_parameters(profile, section, declared(section), {"data_root": "/data/replica"})
        assert profile.sections.get(section_key(section), {}).items() <= values.items()


REHEARSAL_CHANGES = {
    "benchmarks": {"epochs", "crop_size", "val_crop_size", "seeds", "pretrained", "train"},
    "validation": {"epochs", "crop_size", "val_crop_size", "pretrained"},
    "cross_dataset": {"datasets", "epochs", "crop_size", "val_crop_size", "seeds", "pretrained"},
    "new_event": {"epochs", "finetune_epochs", "crop_size", "val_crop_size", "seeds", "pretrained", "train"},
}
"""What the rehearsal changes of the paper profile per section: each change is commented in profiles.yaml."""


def test_the_rehearsal_keeps_the_paper_profile_but_what_a_cpu_cannot_run():
    paper, rehearsal = get_profile("paper"), get_profile("rehearsal")
    assert rehearsal.required == paper.required == ("data_root",)
    assert rehearsal.parameters == {"data_root": None, "device": "cpu", "steps_per_epoch": 1}
    assert rehearsal.sections.keys() == paper.sections.keys() == REHEARSAL_CHANGES.keys()
    for section, changed in REHEARSAL_CHANGES.items():
        own, theirs = rehearsal.sections[section], paper.sections[section]
        assert own.keys() == theirs.keys()
        assert {k for k in own if own[k] != theirs[k]} == changed
        assert own["epochs"] == 1 and own["pretrained"] is False and own["crop_size"] == own["val_crop_size"] == 32
    assert rehearsal.sections["benchmarks"]["train"] is True
    for section in ("04_validation", "05_benchmarks", "06_cross_dataset", "10_new_event"):
        values = section_parameters(rehearsal, section, declared(section), {"data_root": "/data/replica"})
        assert (values["steps_per_epoch"], values["device"], values["profile"]) == (1, "cpu", "rehearsal")


def test_the_rehearsal_names_its_stand_ins_where_the_replica_writes_them():
    datasets = get_profile("rehearsal").sections["cross_dataset"]["datasets"]
    assert datasets == {name: f"{DATA_ROOT_FIELD}/{STAND_INS_FOLDER}/{name}" for name in PUBLIC_DATASETS}
