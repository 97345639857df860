"""Where and how models run: device, precision and memory format, and several processes as one.

Below both training and scoring: each validates and evaluates on the device and
process layout this layer sets up. Its names load on first use
(:func:`~landslide_core.io.lazy.lazy_names`): counting the usable cores (:mod:`.workers`) does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..io.lazy import lazy_names

if TYPE_CHECKING:
    from .device import PRECISIONS, Runtime, algorithm_settings, resolve_device, resolve_precision
    from .distributed import Session, current_session, run_local, session, sync_batchnorm

__all__ = [
    "PRECISIONS", "Runtime", "Session", "algorithm_settings", "current_session", "resolve_device",
    "resolve_precision", "run_local", "session", "sync_batchnorm",
]

__getattr__ = lazy_names(__name__, {
    **dict.fromkeys(["PRECISIONS", "Runtime", "algorithm_settings", "resolve_device", "resolve_precision"], ".device"),
    **dict.fromkeys(["Session", "current_session", "run_local", "session", "sync_batchnorm"], ".distributed"),
})
