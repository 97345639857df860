"""The training sentence is read from the runs' own configurations, never from a page's parameters."""

from __future__ import annotations

import pytest

from landslide_core.sections.benchmarks import GridSettings, grid_configs
from landslide_core.sections.training_text import describe_training
from landslide_core.train.config import TrainConfig
from tests.attribution import registry_attributions

RATE = "SGD from learning rate 0.01, as the paper says: “employing the SGD optimizer with a learning rate of 0.01”"
OTHER = "(ours; the paper: “employing the SGD optimizer with a learning rate of 0.01”)"
RANDOM = ("a random 7:3 split per sub-dataset, as the paper says: “randomly split each subdataset into training and "
          "validation sets at a 7:3 ratio”")
DEMO = dict(models=["fcn", "unet"], groups=["UAV", "SAT", "UAV&SAT"], epochs=2, batch_size=8, crop_size=64,
            val_crop_size=128, seeds=[0], pretrained=False, device="cpu", num_workers=0, keep_checkpoints=False)


def saved(settings: GridSettings) -> list[dict]:
    """What each run of ``settings``' grid saves in its ``config.json`` (settings and the kind of split)."""
    return [{**config.to_dict(), "split": settings.split} for config in grid_configs(settings)]


def test_the_sentence_says_what_every_run_shares():
    assert describe_training(saved(GridSettings(**DEMO))) == (
        f"FCN, U-Net; randomly initialised weights; 2 epoch(s) of batch 8 on 64-px crops, {RATE}, validated on the "
        f"central 128-px crop; {RANDOM}; 1 seed(s) (0); on the CPU")
    paper = GridSettings(**{**DEMO, "pretrained": True, "device": "cuda", "crop_size": None, "val_crop_size": None,
                            "seeds": [0, 1, 2]})
    assert describe_training(saved(paper)) == (
        f"FCN, U-Net; ImageNet-pretrained weights; 2 epoch(s) of batch 8 on full tiles, {RATE}, validated on full "
        f"tiles; {RANDOM}; 3 seed(s) (0, 1, 2); on device `cuda`")
    assert "initialised from `/w/resnet50.pth` weights" in describe_training(
        saved(GridSettings(**{**DEMO, "pretrained": "/w/resnet50.pth"})))
    grouped = describe_training(saved(GridSettings(**{**DEMO, "split": "grouped"})))
    assert "a grouped 7:3 split (every group of tiles the leakage audit finds sharing pixels on one side)" in grouped


def test_each_models_exceptions_and_groups_are_named():
    reduced = GridSettings(**{**DEMO, "lr": 0.05, "val_every": 5,
                              "per_model": {"fcn": {"groups": ["UAV&SAT"], "epochs": 1},
                                            "unet": {"epochs": 3, "lr": 0.01}}})
    text = describe_training(saved(reduced))
    # U-Net's three runs against FCN's one: what the majority shares is the common phrase, FCN's differences follow.
    assert text.startswith(f"U-Net, FCN; randomly initialised weights; 3 epoch(s) of batch 8 on 64-px crops, {RATE}, "
                           "validated every 5 epochs on")
    assert text.endswith(f"; on the CPU; FCN 1 epoch(s), SGD from learning rate 0.05 {OTHER}, on UAV&SAT only")
    normed = describe_training(saved(GridSettings(**{**DEMO, "per_model": {"fcn": {"model_options":
                                                                                 {"batch_norm": True}}}})))
    assert normed.endswith("; on the CPU; FCN built with batch_norm=True")  # an option only FCN has is its exception
    small = describe_training(saved(GridSettings(**{**DEMO, "per_model": {"fcn": {"crop_size": 32}}})))
    assert "on 32-px crops" in small and small.endswith("; on the CPU; U-Net on 64-px crops")  # a tie: the first


def test_the_sentence_follows_the_saved_configuration_not_the_asked_one():
    runs = saved(GridSettings(**DEMO))
    runs[0]["epochs"] = 7  # e.g. a run made under other settings
    assert "; 7 epoch(s) or 2 epoch(s) (by run) of batch 8" in describe_training(runs)
    arms = [{**runs[1], "split": split} for split in ("random", "random", "grouped")]  # one model, as Table 6's arms
    assert describe_training(arms).startswith(
        f"U-Net; randomly initialised weights; 2 epoch(s) of batch 8 on 64-px crops, {RATE}, validated on the central "
        f"128-px crop; {RANDOM} or a grouped 7:3 split (every group of tiles the leakage audit finds sharing pixels on "
        "one side) (by run); 1 seed(s) (0)")
    one = {**TrainConfig(model="deeplabv3plus", group="SAT", epochs=4, lr=0.02).to_dict(), "split": "held-out part"}
    assert describe_training([one]).startswith("DeepLabV3+; ImageNet-pretrained weights; 4 epoch(s) of batch 8 on "
                                               f"full tiles, SGD from learning rate 0.02 {OTHER}")
    assert "scored after the last epoch on every dataset's held-out part" in describe_training([one])
    with pytest.raises(ValueError, match="no run to describe"):
        describe_training([])


def test_epochs_cut_to_a_few_steps_are_never_described_as_a_full_training():
    cut = " of only 1 optimisation step(s) each (not a full pass over the training tiles)"
    rehearsal = describe_training(saved(GridSettings(**{**DEMO, "epochs": 1, "steps_per_epoch": 1})))
    assert f"; 1 epoch(s){cut} of batch 8 on 64-px crops, " in rehearsal
    longer = describe_training(saved(GridSettings(**{**DEMO, "steps_per_epoch": 1,
                                                     "per_model": {"fcn": {"epochs": 3}}})))
    assert longer.endswith(f"; on the CPU; U-Net 2 epoch(s){cut}")  # a model's own epochs keep the cut
    assert "optimisation step" not in describe_training(saved(GridSettings(**DEMO)))
    older = [{k: v for k, v in c.items() if k != "steps_per_epoch"} for c in saved(GridSettings(**DEMO))]
    assert describe_training(older) == describe_training(saved(GridSettings(**DEMO)))  # runs made before the setting


def test_every_phrase_that_names_the_paper_quotes_it():
    for settings in (GridSettings(**DEMO), GridSettings(**{**DEMO, "lr": 0.05, "split": "grouped"})):
        assert registry_attributions(describe_training(saved(settings)) + ".") == []
