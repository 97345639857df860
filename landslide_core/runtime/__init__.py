"""Where and how models run: device, precision and memory format, and several processes as one.

Below both training and scoring: each validates and evaluates on the device and
process layout this layer sets up.
"""

from .device import PRECISIONS, Runtime, algorithm_settings, resolve_device, resolve_precision
from .distributed import Session, current_session, run_local, session, sync_batchnorm

__all__ = [
    "PRECISIONS", "Runtime", "Session", "algorithm_settings", "current_session", "resolve_device",
    "resolve_precision", "run_local", "session", "sync_batchnorm",
]
