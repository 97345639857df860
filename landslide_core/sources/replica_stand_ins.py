"""The public datasets of paper Table 7 as stand-ins at their real sizes, for the full-size replica.

A module of its own beside the sources: the CAS replica writer may not import the other sources, which import the
CAS demo painter.
"""

from __future__ import annotations

from . import bijie, hrgldd, landslide4sense, sichuan
from .cas.replica import StandIn, table7_count

__all__ = ["replica_stand_ins"]


def replica_stand_ins() -> tuple[StandIn, ...]:
    """The public datasets of paper Table 7 as stand-ins at their real sizes, for ``landslide-core replica``.

    Table 7's counts for Bijie (its landslide samples), Sichuan and Landslide4Sense (its training patches), and all
    three HR-GLDD arrays' rows as the Zenodo record has them. Counts Table 7 leaves out (Bijie's non-landslide
    samples, Landslide4Sense's ValidData) keep the writers' defaults.
    """
    return (
        StandIn(bijie.BijieSource.name, bijie.write_stand_in, {"landslide": table7_count("Bijie")}),
        StandIn(sichuan.SichuanSource.name, sichuan.write_stand_in,
                {"count": table7_count("Sichuan and Surrounding Areas Landslide Dataset")}),
        StandIn(hrgldd.HRGLDDSource.name, hrgldd.write_stand_in, dict(hrgldd.SPLIT_ROWS)),
        StandIn(landslide4sense.Landslide4SenseSource.name, landslide4sense.write_stand_in,
                {"train": table7_count("Landslide4Sense")}),
    )
