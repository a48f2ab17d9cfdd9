"""Shared fixtures: real face images shipped by packages, and the installed default pack."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.package_data import package_file
from kiosk.config import KioskConfig
from kiosk.recognition.images import read_image_file

pytest_plugins = ["tests.device_fakes", "tests.sd_notify"]

IMAGES = package_file("insightface", "data", "images")


@pytest.fixture(scope="session")
def images_dir() -> Path:
    return IMAGES


@pytest.fixture(scope="session")
def group_photo() -> np.ndarray:
    """insightface's t1.jpg: six different people."""
    return read_image_file(IMAGES / "t1.jpg")


@pytest.fixture(scope="session")
def hanks() -> np.ndarray:
    return read_image_file(IMAGES / "Tom_Hanks_54745.png")


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[..., ::-1])


@pytest.fixture(scope="session")
def engine():
    from kiosk.recognition.engine import FaceEngine

    return FaceEngine.from_config(KioskConfig())
