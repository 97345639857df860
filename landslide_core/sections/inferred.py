"""What the appendix page "The paper quoted, our choices named" computes and lists.

The page is the registry (:mod:`landslide_core.paper`) made readable: each interpretation with the words of the paper, the
evidence and the parameter that changes it; its inner mismatches; every statement quoted in the book. Where
the evidence is arithmetic on the paper's published numbers (the reading of "F1 score"), it is computed here.
"""

from __future__ import annotations

import pandas as pd

from ..eval.paper import paper_values
from ..paper import inferences, mismatches, quotes
from ..paper.mismatches import NATIVE_RESOLUTION
from ..sources.cas.registry import subdatasets
from .cross_dataset import short_label

__all__ = ["f1_readings", "f1_verdict", "inferences_markdown", "mismatches_markdown", "quotes_table", "resolution_table"]


def _class_f1(iou: pd.Series) -> pd.Series:
    """F1 of one class from its IoU: F1 = 2·IoU / (1 + IoU), both fractions."""
    return 2 * iou / (1 + iou)


def f1_readings() -> pd.DataFrame:
    """Each published row's "F1 score" beside the two readings of it, in percent.

    ``Eq. 3`` is 2PR/(P+R) from the row's precision and recall (the landslide-class F1 the equation defines);
    ``two-class mean`` is the mean of the landslide F1 and the background F1, each from its class IoU, with the
    background IoU read from the printed mIoU (mIoU = (IoU_landslide + IoU_background) / 2).
    """
    values = paper_values()
    precision, recall = values["precision"] / 100, values["recall"] / 100
    iou = values["iou"] / 100
    background_iou = 2 * values["miou"] / 100 - iou
    eq3 = 100 * 2 * precision * recall / (precision + recall)
    mean = 100 * (_class_f1(iou) + _class_f1(background_iou)) / 2
    row = (values["group"] + ", " + values["model"]).where(values["table"] == 5, values["dataset"].map(short_label))
    return pd.DataFrame({
        "Table": values["table"], "Row": row,
        "F1 printed": values["f1"], "Eq. 3 (2PR/(P+R))": eq3.round(3), "two-class mean": mean.round(3),
        "two-class mean − printed": (mean - values["f1"]).round(3),
        "Eq. 3 − printed": (eq3 - values["f1"]).round(3),
    }).set_index(["Table", "Row"])


def f1_verdict(readings: pd.DataFrame) -> str:
    """One sentence on which reading the printed values follow, from :func:`f1_readings`."""
    mean_off = readings["two-class mean − printed"].abs().max()
    eq3_off = readings["Eq. 3 − printed"].abs()
    return (f"Over all {len(readings)} published rows, the two-class mean is within {mean_off:.3f} points of the "
            f"printed F1, while Eq. 3 is {eq3_off.min():.2f} to {eq3_off.max():.2f} points away: the printed "
            "values follow the two-class mean.")


def _quoted(text: str) -> str:
    return " ".join(text.split())


def inferences_markdown() -> str:
    """Every interpretation of ours as a Markdown section: the words of the paper, evidence, our choice, the parameter."""
    parts = []
    for item in inferences():
        words = "\n".join(f"> “{_quoted(q.text)}” ({q.where})\n>" for q in item.quotes).rstrip(">").rstrip()
        parts.append(
            f"### {item.title}\n\n**Quoted from the paper.**\n\n{words}\n\n**Evidence.** {_quoted(item.evidence)}\n\n"
            f"**Our choice.** {_quoted(item.choice)}\n\n**Parameter.** {item.parameter}\n"
        )
    return "\n".join(parts)


def mismatches_markdown() -> str:
    """Inner mismatches of the paper, one bullet each, both numbers computed from its tables."""
    return "\n".join(f"- {m.line()}" for m in mismatches().values())


def resolution_table() -> pd.DataFrame:
    """Table 2 rows whose ground resolution is not the sensor's native one: Table 2's value beside the native one."""
    rows = [{"Sub-dataset": s.name, "Sensor (Table 2)": s.sensor, "Ground resolution (m, Table 2)": s.resolution_m,
             "Sensor's native resolution (ours)": NATIVE_RESOLUTION[s.sensor]}
            for s in subdatasets() if s.sensor in NATIVE_RESOLUTION]
    return pd.DataFrame(rows).set_index("Sub-dataset")


def quotes_table() -> pd.DataFrame:
    """Every statement of the paper that the book quotes, where it is, and its key in ``quotes.yaml``."""
    return pd.DataFrame([{"Key": q.key, "Where in the paper": q.where, "The words of the paper": f"“{_quoted(q.text)}”"}
                         for q in quotes().values()]).set_index("Key")
