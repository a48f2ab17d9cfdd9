"""Shared fixtures: real face images shipped by packages, and the installed default pack."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from common.package_data import package_file
from kiosk.config import KioskConfig
from kiosk.recognition.images import read_image_file

pytest_plugins = ["tests.device_fakes", "tests.sd_notify"]

IMAGES = package_file("insightface", "data", "images")


def _pytests(handler: logging.Handler) -> bool:
    return type(handler).__module__.startswith("_pytest")


@pytest.fixture(autouse=True)
def root_logging_restored() -> Iterator[None]:
    """The product's one logging set-up (``kiosk`` run in-process, the demo) points the root
    logger at the test's captured stderr; a later test's threads must not log to that stream
    once it is closed, nor a file handler keep its log slot. pytest's own handlers are left
    to pytest."""
    root = logging.getLogger()
    level = root.level
    before = [h for h in root.handlers if not _pytests(h)]
    yield
    for handler in root.handlers[:]:
        if not _pytests(handler) and handler not in before:
            root.removeHandler(handler)
            handler.close()
    for handler in before:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


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
