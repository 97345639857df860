"""The command line: `python -m landslide_core` and the `landslide-core` script, --help on every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from landslide_core.cli import build_parser

COMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001


def test_every_command_is_listed():
    assert COMMANDS == ["book", "demo-data", "download", "evaluate", "leakage", "qc", "split", "tile", "train", "validate"]


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]])
def test_help_works_for_every_command(command):
    result = subprocess.run([sys.executable, "-m", "landslide_core", *command, "--help"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: landslide-core")


def test_installed_script_runs():
    script = Path(sys.executable).parent / "landslide-core"  # installed beside this interpreter
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.startswith("landslide-core ")


def test_usage_errors_exit_2():
    result = subprocess.run([sys.executable, "-m", "landslide_core", "validate"], capture_output=True, text=True)
    assert result.returncode == 2 and "the following arguments are required: root" in result.stderr
