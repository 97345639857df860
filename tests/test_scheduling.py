"""The order ``make test`` runs the unit tests in: the tests marked slow start first, under xdist as ``make`` calls it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MANY = """import time


def _started(name):
    with open({log!r}, "a") as log:
        log.write(name + "\\n")
    time.sleep(0.2)
"""


def unit_test_command() -> list[str]:
    """The unit-tests step of ``make test`` as ``make -n`` prints it: its pytest options."""
    printed = subprocess.run(["make", "-n", "unit-tests"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    line = next(line for line in printed.splitlines() if " -m pytest " in line)
    return line.split(" -m pytest ", 1)[1].replace("\\", " ").split()


def test_a_slow_test_starts_first_though_other_modules_hold_more_tests(tmp_path: Path) -> None:
    log = tmp_path / "started.txt"
    for module in ("a", "b", "c"):  # three modules of five quick tests each: xdist's own order would put them first
        tests = "".join(f"\n\ndef test_{module}{i}():\n    _started('{module}{i}')\n" for i in range(5))
        (tmp_path / f"test_{module}.py").write_text(MANY.format(log=str(log)) + tests)
    (tmp_path / "test_z.py").write_text(MANY.format(log=str(log)) + (
        "\n\nimport pytest\n\n\n@pytest.mark.slow(seconds=100)\nclass TestLong:\n"
        "    def test_long(self):\n        _started('long')\n"))
    command = unit_test_command()
    dist = command[command.index("--dist"):command.index("--dist") + 2]
    reorder = [option for option in command if option.endswith("loadscope-reorder")]
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.scheduling", "-n", "2", *dist, *reorder,
                           "-o", "markers=slow",
                           "-p", "no:cacheprovider", "-q", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "long" in log.read_text().split()[:2], log.read_text()
