"""How a page's models were trained, in words, read from the runs' own ``config.json``.

A page's parameters say what was asked for; a run's ``config.json`` says what
trained it (:class:`landslide_core.experiments.runs.RunSpec`). The sentence a page
prints about training is built from the latter only, so it cannot describe runs
that were made under other settings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..experiments.table5 import paper_name
from ..paper import quote

__all__ = ["PAPER_LR", "describe_training", "initialisation"]

PAPER_LR = 0.01
"""SGD's initial learning rate as the paper gives it (Technical Validation): “employing the SGD optimizer with a
learning rate of 0.01”."""
_PAPER_RATE = quote("optimiser").text.partition(",")[0]
"""The paper's words for that rate: “employing the SGD optimizer with a learning rate of 0.01”."""
_SPLITS = {
    "random": f"a random 7:3 split per sub-dataset, as the paper says: “{quote('random_split').text}”",
    "grouped": "a grouped 7:3 split (every group of tiles the leakage audit finds sharing pixels on one side)",
    "held-out part": "scored after the last epoch on every dataset's held-out part",
}


def initialisation(pretrained: bool | str) -> str:
    """How a model's weights started, in words: ImageNet, a weights file, or at random."""
    if pretrained is True:
        return "ImageNet-pretrained"
    return f"initialised from `{pretrained}`" if pretrained else "randomly initialised"


_DEFAULT_OPTIONS = "built with the model's default options"
"""Not said where most runs are: a model's own options are given as its exception."""


def _phrases(config: Mapping[str, Any]) -> dict[str, str]:
    """One phrase per setting of a run, in the sentence's order."""
    crop, val_crop, every = config["crop_size"], config["val_crop_size"], config["val_every"]
    steps = config.get("steps_per_epoch")  # absent from runs made before the setting existed: every batch
    rate = f"SGD from learning rate {config['lr']:g}"
    device = config["device"]
    options = config.get("model_options") or {}
    return {
        "options": ("built with " + ", ".join(f"{k}={v}" for k, v in sorted(options.items())) if options
                    else _DEFAULT_OPTIONS),
        "initialisation": f"{initialisation(config['pretrained'])} weights",
        "epochs": f"{config['epochs']} epoch(s)" + ("" if steps is None else f" of only {steps} optimisation step(s) "
                                                    "each (not a full pass over the training tiles)"),
        "batch": f"of batch {config['batch_size']}",
        "crops": "on full tiles" if crop is None else f"on {crop}-px crops",
        "lr": rate + (f", as the paper says: “{_PAPER_RATE}”" if config["lr"] == PAPER_LR
                      else f" (ours; the paper: “{_PAPER_RATE}”)"),
        "validation": ("validated" + ("" if every == 1 else f" every {every} epochs")
                       + (" on full tiles" if val_crop is None else f" on the central {val_crop}-px crop")),
        "split": _SPLITS.get(config.get("split", ""), f"split: {config.get('split', 'not recorded')}"),
        "device": "on the CPU" if device == "cpu" else f"on device `{device}`",
    }


def describe_training(configs: Sequence[Mapping[str, Any]]) -> str:
    """The runs' settings in one sentence: what most runs share, then each model's exceptions and groups.

    Epochs cut short (``steps_per_epoch``, as in the ``rehearsal`` profile) are said so, with their steps.

    A setting that differs between the runs of one model (e.g. the split of Table 6's arms) is given as its values
    joined by "or", marked "by run", in the shared part.

    Args:
        configs: The runs' own ``config.json`` contents (:attr:`landslide_core.experiments.runs.GridRun.config`).

    Raises:
        ValueError: ``configs`` is empty: there is no run to describe.
    """
    if not configs:
        raise ValueError("no run to describe")
    phrases = [_phrases(c) for c in configs]
    models = list(dict.fromkeys(c["model"] for c in configs))
    by_model = {m: [p for p, c in zip(phrases, configs, strict=True) if c["model"] == m] for m in models}
    common, per_model = {}, set()
    for key in phrases[0]:
        values = list(dict.fromkeys(p[key] for p in phrases))
        if all(len({p[key] for p in own}) == 1 for own in by_model.values()):
            common[key] = (_DEFAULT_OPTIONS if key == "options" and _DEFAULT_OPTIONS in values  # options: exceptions
                           else Counter(p[key] for p in phrases).most_common(1)[0][0])
            per_model.add(key)
        else:
            common[key] = " or ".join(values) + " (by run)"
    groups = list(dict.fromkeys(c["group"] for c in configs))
    seeds = sorted({int(c["seed"]) for c in configs})
    exceptions = []
    for model, own in by_model.items():
        differing = [own[0][key] for key in common if key in per_model and own[0][key] != common[key]]
        own_groups = list(dict.fromkeys(c["group"] for c in configs if c["model"] == model))
        if own_groups != groups:
            differing.append(f"on {', '.join(own_groups)} only")
        if differing:
            exceptions.append(f"{paper_name(model)} {', '.join(differing)}")
    names = ", ".join(paper_name(m) for m in models)
    text = (f"{names}; {common['initialisation']}; {common['epochs']} {common['batch']} {common['crops']}, "
            f"{common['lr']}, {common['validation']}; {common['split']}; {len(seeds)} seed(s) "
            f"({', '.join(map(str, seeds))}); {common['device']}")
    if common["options"] != _DEFAULT_OPTIONS:  # every run built with the same options
        text += f"; {common['options']}"
    return text + "".join(f"; {e}" for e in exceptions)
