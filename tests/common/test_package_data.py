"""Package data is found without importing the package: a command that only wants the
demo's photos must not pay insightface's import (onnx, ml_dtypes: about a second)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.package_data import package_file


def test_the_photos_insightface_ships_are_found_without_importing_it():
    probe = ("import sys\nfrom common.package_data import package_file\n"
             "path = package_file('insightface', 'data', 'images', 't1.jpg')\n"
             "print(path.is_file(), 'insightface' in sys.modules, 'onnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "False", "False"]


def test_a_package_that_is_not_installed_is_named():
    with pytest.raises(FileNotFoundError, match="no_such_package_here"):
        package_file("no_such_package_here", "data")
