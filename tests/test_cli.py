"""The command line: `python -m landslide_core` and the `landslide-core` script, --help on every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from landslide_core.cli import build_parser, main

COMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001


def test_every_command_is_listed():
    assert COMMANDS == ["book", "demo-data", "download", "evaluate", "grid", "leakage", "new-event", "predict", "qc", "replica", "results", "split", "tile",
                        "train",
                        "validate"]


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]])
def test_help_works_for_every_command(command, capsys):
    """In this process: a fresh interpreter per command cost seconds of imports each; the two tests below run the
    module and the installed script in their own processes."""
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage: landslide-core")


@pytest.mark.slow
def test_installed_script_runs():
    script = Path(sys.executable).parent / "landslide-core"  # installed beside this interpreter
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.startswith("landslide-core ")


@pytest.mark.slow
def test_usage_errors_exit_2():
    result = subprocess.run([sys.executable, "-m", "landslide_core", "tile"], capture_output=True, text=True)
    assert result.returncode == 2 and "the following arguments are required: scene, --out" in result.stderr


def test_a_missing_data_root_is_named_with_both_ways_to_give_it(capsys):
    assert main(["validate"]) == 1
    assert capsys.readouterr().err.startswith("error: this command needs the data root (ROOT), or --images and --masks")
    assert main(["validate", "--images", "pictures"]) == 1
    assert "the folder source needs both --images DIR and --masks DIR" in capsys.readouterr().err
    assert main(["validate", "/data", "--source", "bijie", "--mask-colour", "red"]) == 1
    assert "--images, --masks, --mask-colour, … set the folder source, not 'bijie'" in capsys.readouterr().err


def test_datasets_without_a_direct_download_say_where_to_get_them(capsys):
    assert main(["download", "--source", "sichuan", "--root", "somewhere"]) == 1
    err = capsys.readouterr().err
    assert "has no direct download" in err and "https://doi.org/10.11922/sciencedb.j00001.00222" in err
