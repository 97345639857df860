"""Data-loader workers by default: as many as the cores allow, never more than the cores."""

from __future__ import annotations

import logging

import pytest
import torch

from landslide_core.errors import ConfigError
from landslide_core.runtime import workers
from landslide_core.runtime.workers import MAX_WORKERS, available_cores, default_num_workers, resolve_num_workers

CUDA, CPU = torch.device("cuda", 0), torch.device("cpu")


@pytest.fixture
def cores(monkeypatch):
    """Fake the process's CPU affinity: ``cores(n)`` makes it ``n`` cores."""

    def fake(count: int) -> None:
        monkeypatch.setattr(workers.os, "sched_getaffinity", lambda pid: set(range(count)), raising=False)

    return fake


@pytest.mark.parametrize(("count", "expected"), [(1, 0), (2, 1), (3, 2), (16, MAX_WORKERS), (64, MAX_WORKERS)])
def test_one_gpu_process_takes_all_cores_but_its_own_up_to_the_cap(cores, count, expected):
    cores(count)
    assert available_cores() == count
    assert default_num_workers(CUDA) == expected
    assert default_num_workers(CUDA) <= count  # a 2-core machine never gets 4


@pytest.mark.parametrize(("count", "processes", "expected"), [(16, 8, 1), (16, 4, 3), (16, 2, 7), (64, 8, 7),
                                                              (4, 8, 0), (2, 2, 0)])
def test_processes_on_one_node_share_its_cores(cores, count, processes, expected):
    cores(count)
    assert default_num_workers(CUDA, processes_per_node=processes) == expected


@pytest.mark.parametrize(("count", "expected"), [(1, 0), (2, 1), (16, 1)])
def test_on_the_cpu_one_worker_at_most_leaves_the_cores_to_the_model(cores, count, expected):
    cores(count)
    assert default_num_workers(CPU) == expected


def test_without_an_affinity_mask_the_machines_count_is_used(monkeypatch):
    monkeypatch.delattr(workers.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 6)
    assert available_cores() == 6 and default_num_workers(CUDA) == 5


def test_auto_follows_torchruns_local_world_size_and_is_logged(cores, monkeypatch, caplog):
    cores(16)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    workers._log_once.cache_clear()  # said once per setting: forget what other tests made it say
    with caplog.at_level(logging.INFO, logger="landslide_core.runtime.workers"):
        assert resolve_num_workers("auto", CUDA) == 3
    assert "num_workers auto → 3 data-loader process(es) (16 core(s) available, 4 process(es) on this node, cuda)" \
        in caplog.text
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    assert resolve_num_workers("auto", CUDA) == MAX_WORKERS


@pytest.mark.parametrize("count", [0, 3, 12])
def test_a_count_is_taken_as_it_is(cores, count):
    cores(2)
    assert resolve_num_workers(count, CUDA) == count


@pytest.mark.parametrize("value", [-1, "four", 2.5, True])
def test_anything_else_is_refused(value):
    with pytest.raises(ConfigError, match="num_workers must be 'auto' or a count of 0 or more"):
        resolve_num_workers(value, CPU)


@pytest.mark.parametrize("command", [["train", "root", "--out", "run"], ["evaluate", "best.pt", "root"]])
def test_the_cli_defaults_to_auto_and_takes_a_count(command, capsys):
    from landslide_core.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(command).num_workers == "auto"
    assert parser.parse_args([*command, "--num-workers", "3"]).num_workers == 3
    with pytest.raises(SystemExit):
        parser.parse_args([*command, "--num-workers", "-1"])
    assert "expected auto or a count of 0 or more, got '-1'" in capsys.readouterr().err
