"""Parameter profiles: one readable file says how the book runs on the demo data and at paper scale.

``profiles.yaml`` (next to this module) holds one entry per profile with
``parameters`` for every section, ``sections`` overrides per section and
``required`` parameters. A section receives only the parameters its
``parameters`` cell declares, so a profile can set ``device`` once for all
sections that train, and a typo on the command line is an error, not a silently
ignored setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd
import yaml

from ..errors import ProfileError

__all__ = ["DEFAULT_PROFILE", "Profile", "get_profile", "profiles", "profiles_table", "section_key", "section_parameters"]

PROFILES_FILE = "profiles.yaml"
DEFAULT_PROFILE = "demo"



@dataclass(frozen=True)
class Profile:
    """One entry of ``profiles.yaml``: the parameters the book's sections run with.

    Attributes:
        name: The profile's key in ``profiles.yaml``.
        description: Its description, on one line.
        parameters: Parameters for every section that declares them.
        sections: Parameters for one section, by :func:`section_key`, overriding ``parameters``.
        required: Parameters that must have a value wherever a section declares them.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    sections: dict[str, dict[str, Any]]
    required: tuple[str, ...]


def _profiles_path() -> str:
    return str(resources.files(__package__).joinpath(PROFILES_FILE))


@cache
def profiles() -> dict[str, Profile]:
    """All profiles in ``profiles.yaml``, by name."""
    document = yaml.safe_load(resources.files(__package__).joinpath(PROFILES_FILE).read_text(encoding="utf-8"))
    return {
        name: Profile(
            name=name,
            description=" ".join(str(entry.get("description", "")).split()),
            parameters=dict(entry.get("parameters") or {}),
            sections={section_key(k): dict(v or {}) for k, v in (entry.get("sections") or {}).items()},
            required=tuple(entry.get("required") or ()),
        )
        for name, entry in document.items()
    }


def get_profile(name: str) -> Profile:
    """The profile of that name in ``profiles.yaml``, whose parameters the book's sections run with.

    Raises:
        ProfileError: No profile has that name.
    """
    try:
        return profiles()[name]
    except KeyError:
        raise ProfileError(f"unknown profile '{name}'; profiles in {_profiles_path()}: {', '.join(profiles())}") from None


def section_key(name: str) -> str:
    """A section's short name: ``01_study_areas``, ``study-areas`` and ``Study_Areas`` all give ``study_areas``."""
    return re.sub(r"^\d+_", "", name.strip().lower().replace("-", "_"))


def section_parameters(
    profile: Profile, section: str, declared: Mapping[str, Any], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The parameters one section runs with: profile, then its section entry, then ``overrides``.

    Only parameters the section declares are passed (``overrides`` the section does
    not declare are left to the caller to report). ``profile`` is set to the
    profile's name when declared.

    Args:
        profile: The profile to take parameters from.
        section: The section's name, in any spelling :func:`section_key` accepts.
        declared: The parameters the section's ``parameters`` cell declares.
        overrides: Parameters that win over the profile's (e.g. ``-p NAME VALUE`` on the command line).

    Raises:
        ProfileError: The profile sets a parameter for this section that the section does not declare, or a
            required parameter the section declares has no value.
    """
    key = section_key(section)
    from_section = profile.sections.get(key, {})
    undeclared = sorted(set(from_section) - set(declared))
    if undeclared:
        raise ProfileError(
            f"{_profiles_path()}: profile '{profile.name}' sets {', '.join(undeclared)} for section '{key}', which its "
            f"parameters cell does not declare (it declares {', '.join(declared) or 'nothing'}); fix the profile or the notebook"
        )
    values = {k: v for k, v in profile.parameters.items() if k in declared}
    values.update(from_section)
    values.update({k: v for k, v in overrides.items() if k in declared})
    if "profile" in declared:
        values["profile"] = profile.name
    missing = [k for k in profile.required if k in declared and values.get(k) in (None, "")]
    if missing:
        hint = " ".join(f"-p {k} VALUE" for k in missing)
        raise ProfileError(f"profile '{profile.name}' needs {', '.join(missing)} for section '{key}': add {hint} "
                           f"(e.g. -p data_root /data/CAS after `landslide-core download --root /data/CAS`)")
    return values


def profiles_table() -> pd.DataFrame:
    """Every profile's parameters, one row per (profile, section, parameter), for the reproducibility appendix."""
    rows = [
        {"Profile": p.name, "Section": section or "(all)", "Parameter": key,
         "Value": "required" if value is None and key in p.required else repr(value)}
        for p in profiles().values()
        for section, values in [("", p.parameters), *p.sections.items()]
        for key, value in values.items()
    ]
    return pd.DataFrame(rows).set_index(["Profile", "Section", "Parameter"])
