"""Packages load their names on first use: the command line and the book runner start without torch, and every name a
package lists still resolves to its module's object."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

LAZY = ["landslide_core.book", "landslide_core.data", "landslide_core.eval", "landslide_core.experiments",
        "landslide_core.runtime", "landslide_core.scoring", "landslide_core.train"]


@pytest.mark.parametrize("package", LAZY)
def test_every_listed_name_is_its_modules_object_and_an_unknown_one_is_an_attribute_error(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        home = getattr(value, "__module__", None)
        if home:  # classes and functions: the object of the module that defines them
            assert getattr(importlib.import_module(home), value.__name__) is value
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        module.nothing_here  # noqa: B018


def test_the_command_line_and_the_book_runner_start_without_torch() -> None:
    probe = ("import sys, landslide_core.cli, landslide_core.book.runner, landslide_core.book.page; "
             "print(sorted(m for m in ('torch', 'torchvision', 'segmentation_models_pytorch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_models_import_torchvision_only_to_build_a_network_of_it() -> None:
    """Pages that read runs back import training and evaluation without building a model: no torchvision for them."""
    probe = ("import sys, landslide_core.models, landslide_core.experiments.table5, landslide_core.experiments.table7; "
             "before = sorted(m for m in ('torchvision', 'segmentation_models_pytorch') if m in sys.modules); "
             "landslide_core.models.build_model('fcn', fc_channels=8); print(before, 'torchvision' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[] True"
