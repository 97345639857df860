"""Checkpoints: written atomically, read back safely, and only resumed under the settings that wrote them.

A checkpoint is a dict of plain types and tensors (loaded with
``weights_only=True``): ``model``, ``optimizer``, ``scheduler`` and ``scaler`` state
dicts (the gradient scaler's is empty unless the run trains in fp16), ``precision``
(``bf16``, ``fp16`` or ``fp32``, as resolved on the device), ``epoch`` (epochs
completed), ``history`` (one dict per epoch), ``best`` (epoch and validation mIoU
of the best epoch so far), ``config`` (:meth:`TrainConfig.to_dict`),
``manifest`` and ``manifest_sha256`` (the split it was trained on), ``world_size``
and ``torch`` (version), and where its epoch validated, ``validation``: the data root,
the validation tiles' uids and their per-tile counts (:func:`validation_entry`), so
that scoring these weights on those tiles again need not read them again
(:func:`validated_counts`). It holds no RNG state: every epoch reseeds from
``(seed, epoch, rank)`` (see :mod:`landslide_core.train.loop`), so none is needed to
resume exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError
from ..io.atomic import atomic_path
from ..models import build_model
from ..tiles import TileRecord
from .config import TrainConfig

__all__ = [
    "BEST", "LAST", "check_config", "check_split", "checkpoint_config", "load_checkpoint", "load_initial_weights", "save_atomic", "trained_model",
    "validated_counts", "validation_entry",
]

LAST, BEST = "last.pt", "best.pt"



def save_atomic(payload: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``.

    A crash or error while writing leaves the previous checkpoint intact and no
    partial file behind.
    """
    path = Path(path)
    with atomic_path(path, durable=True) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint written by :func:`landslide_core.train.train`, on the CPU.

    Raises:
        CheckpointError: The file is missing, cannot be read, or is not a training checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "checkpoint not found", "pass the last.pt or best.pt of a training run")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a truncated or foreign file
        raise CheckpointError(path, f"cannot be read as a checkpoint ({type(error).__name__}: {error})",
                              "pass a checkpoint written by `landslide-core train`, or train again") from error
    if not isinstance(checkpoint, dict) or not {"model", "config", "epoch"} <= set(checkpoint):
        raise CheckpointError(path, "is not a landslide-core training checkpoint (no model/config/epoch)",
                              "pass the last.pt or best.pt written by `landslide-core train`")
    return checkpoint


def load_initial_weights(model: torch.nn.Module, path: Path, name: str) -> None:
    """Start ``model`` (registry name ``name``) from a checkpoint's weights: the model of a run to fine-tune.

    Raises:
        CheckpointError: The file is not a training checkpoint, or it holds another model's weights.
    """
    checkpoint = load_checkpoint(path)
    trained = checkpoint["config"].get("model")
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as error:
        raise CheckpointError(path, f"holds the weights of {trained!r}, which do not fit {name!r} ({error})",
                              "fine-tune from a checkpoint of the same model and options") from None


def checkpoint_config(checkpoint: dict[str, Any]) -> TrainConfig:
    """The config a loaded checkpoint was trained with."""
    return TrainConfig.from_dict(checkpoint["config"])


def _resume_fix(path: Path) -> str:
    return f"train into a new output directory, or pass --restart (restart=True) to discard the run in {path.parent}"


def check_config(checkpoint: dict[str, Any], path: Path, config: TrainConfig) -> None:
    """Raise unless ``checkpoint`` (read from ``path``) was written by a run with this config.

    Raises:
        CheckpointError: A setting that can change the result differs.
    """
    differences = checkpoint_config(checkpoint).differences(config)
    if differences:
        raise CheckpointError(path, "was written with other settings (saved → now: " + "; ".join(differences) + ")",
                              _resume_fix(path))


def check_split(checkpoint: dict[str, Any], path: Path, manifest_sha256: str) -> None:
    """Raise unless ``checkpoint`` was trained on the split whose manifest has this checksum.

    Raises:
        CheckpointError: The checkpoint's manifest checksum differs from ``manifest_sha256``.
    """
    if checkpoint.get("manifest_sha256") != manifest_sha256:
        raise CheckpointError(path, f"was trained on another split than the manifest {checkpoint.get('manifest')} "
                              "holds now", _resume_fix(path))


def trained_model(checkpoint: dict[str, Any]) -> tuple[nn.Module, TrainConfig]:
    """The model a loaded checkpoint holds (on the CPU, in eval mode) and the config it was trained with."""
    config = checkpoint_config(checkpoint)
    model = build_model(config.model, pretrained=False, **config.model_options)
    model.load_state_dict(checkpoint["model"])
    return model.eval(), config


def validation_entry(counts: np.ndarray, records: Sequence[TileRecord], data_root: str | Path) -> dict[str, Any]:
    """The ``validation`` of a checkpoint: which tiles its epoch's validation scored (data root, uids) and their counts.

    The counts are those of the checkpoint's own weights, on central crops of the run's ``val_crop_size`` (the crops
    every evaluation of it uses), made by its epoch's validation pass (for ``best.pt``, the pass that chose it).
    """
    return {"data_root": str(Path(data_root).resolve()), "uids": [r.uid for r in records],
            "counts": torch.as_tensor(np.asarray(counts, dtype=np.int64))}


def validated_counts(checkpoint: dict[str, Any], records: Sequence[TileRecord],
                     data_root: str | Path) -> np.ndarray | None:
    """The per-tile counts a loaded checkpoint's validation made, where it scored exactly ``records`` under ``data_root``.

    ``None`` where it kept none, or scored other tiles, in another order, or under another root.
    """
    entry = checkpoint.get("validation")
    if (entry is None or entry["data_root"] != str(Path(data_root).resolve())
            or entry["uids"] != [r.uid for r in records]):
        return None
    return entry["counts"].numpy()
