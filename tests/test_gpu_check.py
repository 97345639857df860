"""benchmarks/gpu_check.sh without a GPU: --dry-run lists every step within 8 minutes; a real run needs CUDA."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"
STEP = re.compile(r"^step (\d) (\S+) \(limit (\d+) s\): (.+)$")


def _run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_dry_run_lists_each_step_with_its_time_limit_within_eight_minutes(tmp_path):
    done = _run("--dry-run", "--out", "results-here", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    steps = [STEP.match(line).groups() for line in done.stdout.splitlines() if STEP.match(line)]
    assert [name for _, name, _, _ in steps] == ["cuda-tests", "throughput", "batch-fit", "table5", "scene-scale"]
    limits = {name: int(limit) for _, name, limit, _ in steps}
    total = sum(limits.values())
    assert total == 450 and f"time limits summing to {total} s" in done.stdout
    assert limits["scene-scale"] == 60
    commands = {name: command for _, name, _, command in steps}
    out = tmp_path / "results-here"  # relative to where the script was called from
    assert "-m pytest -m cuda tests" in commands["cuda-tests"]
    assert f"--junitxml {out}/pytest-<device>.xml" in commands["cuda-tests"].replace("\\", "")
    assert "benchmarks/throughput.py --device cuda" in commands["throughput"] and f"--out {out}" in commands["throughput"]
    assert "benchmarks/batch_fit.py --device cuda" in commands["batch-fit"]
    table5 = commands["table5"]
    assert "demo-data data/demo" in table5  # no --data-root: the demo data
    assert "book --profile paper --section benchmarks" in table5
    for parameter in ("device cuda", "epochs 1", "crop_size null", "train true", "data_root data/demo"):
        assert f"-p {parameter}" in table5
    scale = commands["scene-scale"]
    assert "benchmarks/scene_scale.py --device cuda --model unet --sizes 2048 8192" in scale
    assert f"--out-dir {out}" in scale
    assert not (tmp_path / "results-here").exists()  # a dry run writes nothing


def test_dry_run_passes_the_data_root_to_the_pipeline_and_table5(tmp_path):
    done = _run("--dry-run", "--data-root", str(tmp_path / "CAS"), "--python", "/opt/py/bin/python")
    assert done.returncode == 0, done.stderr
    commands = {m.group(2): m.group(4) for m in map(STEP.match, done.stdout.splitlines()) if m}
    assert f"--data-root {tmp_path}/CAS" in commands["throughput"]
    assert f"-p data_root {tmp_path}/CAS" in commands["table5"] and "demo-data" not in commands["table5"]
    assert all(command.startswith("/opt/py/bin/python ") for command in commands.values())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_without_cuda_a_real_run_stops_at_once_and_says_why(tmp_path):
    done = _run("--out", str(tmp_path / "out"))
    assert done.returncode != 0
    assert "CUDA is not available" in done.stderr and "--dry-run" in done.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_options_are_refused_with_the_usage():
    done = _run("--dryrun")
    assert done.returncode == 2 and "unknown option --dryrun" in done.stderr and "usage:" in done.stderr
