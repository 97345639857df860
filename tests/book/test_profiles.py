"""Profiles: the demo and paper settings, and how a section's parameters are resolved from them."""

from __future__ import annotations

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

PROFILE = Profile(
    name="test", description="", parameters={"data_root": None, "device": "cpu"},
    sections={"benchmarks": {"epochs": 2}}, required=("data_root",),
)


def test_the_shipped_profiles_are_demo_and_paper():
    assert set(profiles()) == {"demo", "paper"}
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
