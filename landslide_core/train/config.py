"""What a training run is: every setting that decides its result, in one serialisable record.

The paper (Technical Validation) states the backbones (“the DeepLabV3+, U-net, and
MFFENet models utilize ResNet50 as the underlying backbone network, and FCN utilizes
VGG16 as the backbone network”), the optimiser (“employing the SGD optimizer with a
learning rate of 0.01, a momentum of 0.9, and a weight decay of 0.0005”) and the loss
(“we utilized the Dice loss as our loss function”); the defaults ``lr``, ``momentum``,
``weight_decay`` and ``loss`` are those. It does not state epochs, batch size,
schedule, augmentation or how the backbones were initialised. Those defaults are
ours: poly decay (power 0.9, per iteration) as in DeepLab, ImageNet backbones
(``pretrained=True``, what such papers almost always use), flips and 90° rotations.
The config is saved in every checkpoint and a run only resumes under the same one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError
from ..io.atomic import write_text_atomic
from ..sources import TileSource, get_source

__all__ = ["CONFIG_FILE", "RESULT_NEUTRAL", "TrainConfig"]

CONFIG_FILE = "config.json"
"""A run folder's settings and identity (:func:`landslide_core.train.train` writes it as training starts)."""

Auto = Literal["auto"]

RESULT_NEUTRAL = frozenset({"num_workers", "checkpoint_every"})
"""Settings that cannot change a run's numbers (data order is seeded per tile), so a run may resume under new ones."""



@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (defaults: the optimiser and loss from the paper, quoted above; ours elsewhere)."""

    model: str = "deeplabv3plus"
    """Registry name (``fcn``, ``unet``, ``deeplabv3plus``, ``mffenet``) or ``smp:<Architecture>/<encoder>``."""
    model_options: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for :func:`landslide_core.models.build_model`."""
    pretrained: bool | str = True
    """ImageNet backbone weights (``True``), none (``False``, demo runs) or a path to local backbone weights."""
    loss: str = "dice"
    epochs: int = 50
    batch_size: int = 8
    """Images per optimiser step over all processes (each of N processes takes ``batch_size / N``)."""
    crop_size: int | None = None
    """Random square training crops; ``None`` trains on the full 512×512 tiles."""
    val_crop_size: int | None = None
    """Validate on the central square of this size; ``None`` on full 512×512 tiles. For CPU demo runs."""
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    seed: int = 0
    """Seeds the split, model initialisation, data order, crops and flips."""
    val_fraction: float = 0.3
    num_workers: int | Auto = "auto"
    """Data-loader processes for training and validation; ``auto`` follows the cores this process may use
    (:func:`landslide_core.runtime.workers.default_num_workers`), and the number it becomes is logged."""
    device: str = "auto"
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:1``, …"""
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    """Autocast in the forward pass: ``auto`` = bf16 on a GPU with native bf16, fp16 (with a gradient scaler) on
    other GPUs, fp32 on the CPU; ``bf16`` and ``fp16`` need a CUDA GPU. A resumed run keeps its checkpoint's."""
    channels_last: bool | Auto = "auto"
    """NHWC memory format (faster convolutions on tensor cores); ``auto`` = on CUDA."""
    compile: bool = False
    """Wrap the model in ``torch.compile``."""
    sync_batchnorm: bool = True
    """Synchronise batch-norm statistics across processes (only matters with more than one)."""
    augment: bool = True
    source: str = "cas"
    """Tile source the data root is read with (:func:`landslide_core.sources.get_source`)."""
    source_options: dict[str, Any] = field(default_factory=dict)
    """The source's own settings (e.g. the folder source's ``masks`` and ``mask_colour``)."""
    group: str = "UAV&SAT"
    """A group of the source; for CAS the sensor groups of paper Table 5: ``UAV``, ``SAT`` or ``UAV&SAT``."""
    subdatasets: tuple[str, ...] | None = None
    """Restrict to these sub-datasets (any spelling); ``None`` = every one found under the data root."""
    val_every: int = 1
    """Validate every this many epochs (and always after the last)."""
    steps_per_epoch: int | None = None
    """Stop each epoch after this many optimisation steps; ``None`` = every batch of the training tiles. The
    ``rehearsal`` profile sets 1: every other stage of a run (loading, validation of every tile, checkpoints,
    scores) then runs in full while the training costs next to nothing."""
    init_weights: str | None = None
    """A checkpoint of this project (``best.pt`` or ``last.pt``) whose model weights start the run: fine-tuning a
    trained model (the new-event page's k-shot runs). ``None``: :attr:`pretrained` decides. A run's identity
    (:class:`~landslide_core.experiments.runs.RunSpec`) names the run the weights came from, not this path."""
    checkpoint_every: int = 1
    """Write ``last.pt`` every this many epochs (and after the last, and whenever an epoch is the best): an
    interrupted run repeats at most this many epochs. Each write of FCN-8s's is 1 GB with the optimizer state."""

    def __post_init__(self) -> None:
        from .losses import check_loss  # here, not at the top: the CLI reads these defaults without importing torch

        self.tile_source().check_group(self.group)
        check_loss(self.loss)
        for name in ("epochs", "batch_size", "val_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name, everything in (("crop_size", "full tiles"), ("val_crop_size", "full tiles"),
                                 ("steps_per_epoch", "every batch")):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive or None ({everything}), got {getattr(self, name)}")
        if self.precision not in ("auto", "bf16", "fp16", "fp32"):
            raise ConfigError(f"precision must be auto, bf16, fp16 or fp32, got {self.precision!r}; "
                              "auto picks bf16 or fp16 on a GPU and fp32 on the CPU")
        if self.channels_last not in (True, False, "auto"):
            raise ConfigError(f"channels_last must be true, false or 'auto', got {self.channels_last!r}")
        if self.subdatasets is not None:
            object.__setattr__(self, "subdatasets", tuple(self.subdatasets))

    def tile_source(self) -> TileSource:
        """The source the run reads its tiles with, made with :attr:`source_options`."""
        return get_source(self.source, **self.source_options)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (tuples become lists), so a saved and a fresh config compare equal."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuild a config from :meth:`to_dict`'s output, e.g. the one saved in a checkpoint.

        A checkpoint saved before ``precision`` replaced ``amp`` loads with ``amp`` read as the precision it chose
        (``auto``; ``true``: bf16; ``false``: fp32).

        Raises:
            ConfigError: ``values`` holds a key that is not a setting, or a value the config rejects.
        """
        if "amp" in values and "precision" not in values:
            values = {**values, "precision": {"auto": "auto", True: "bf16", False: "fp32"}.get(values["amp"], "?")}
            del values["amp"]
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown training setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        return cls(**values)

    def to_json(self, path: str | Path) -> Path:
        """Write the config to ``path`` as indented JSON (for :meth:`from_json`) and return ``path``."""
        return write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        """The config in a JSON file such as :meth:`to_json` writes."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def differences(self, other: TrainConfig) -> list[str]:
        """``name: this → other`` for each setting that can change the result and differs."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [f"{k}: {mine[k]!r} → {theirs[k]!r}" for k in mine if k not in RESULT_NEUTRAL and mine[k] != theirs[k]]
