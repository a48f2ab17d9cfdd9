"""Imports hold the declared direction (README, "Layout"), read with ``ast`` from the sources.

ui -> kiosk -> device -> common; kiosk.protocol (the wire, shared with the platform) imports
only common; the platform (server_stub) imports only kiosk.protocol and common of the kiosk
side; common and models import nothing of the project; only the ``kiosk bench`` command reaches
up into benchmarks. Inside kiosk no two modules or subpackages import each other round a
circle (``kiosk.config`` -> ``kiosk.liveness`` -> ``kiosk.recognition`` -> ``kiosk.config``
was one). Every import counts, deferred ones inside functions too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "models", "device", "kiosk", "ui", "server_stub", "benchmarks")

# layer -> the layers it may import besides itself; a layer is a package, or a package's
# subpackage named on its own (the more specific name wins)
ALLOWED: dict[str, set[str]] = {
    "common": set(),
    "models": set(),
    "device": {"common"},
    "kiosk.protocol": {"common"},
    "kiosk": {"kiosk.protocol", "device", "models", "common"},
    "ui": {"kiosk", "kiosk.protocol", "device", "models", "common"},
    "server_stub": {"kiosk.protocol", "common"},
    "benchmarks": {"kiosk", "kiosk.protocol", "device", "models", "common", "server_stub"},
}
# a module's own exception: `kiosk bench` runs the benchmarks
ALSO: dict[str, set[str]] = {"kiosk.commands.bench": {"benchmarks"}}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        name = ".".join(parts[:depth])
        if name in ALLOWED:
            return name
    return None


def module_name(root: Path, file: Path) -> str:
    parts = file.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(root: Path, file: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module) of every import in ``file``; ``from x import y`` names both
    ``x`` and ``x.y`` (y may be a submodule)."""
    package = module_name(root, file).split(".")
    if file.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def sources(root: Path) -> Iterator[Path]:
    for package in PACKAGES:
        folder = root / package
        if folder.is_dir():
            yield from sorted(folder.rglob("*.py"))


def violations(root: Path) -> list[str]:
    found = []
    for file in sources(root):
        module = module_name(root, file)
        source = layer_of(module)
        assert source is not None
        allowed = ALLOWED[source] | ALSO.get(module, set())
        for line, target in imports(root, file):
            if target.split(".")[0] not in PACKAGES:
                continue
            layer = layer_of(target)
            if layer and layer != source and layer not in allowed:
                found.append((file.relative_to(root), line, source, target))
    first: dict[tuple[Path, int], str] = {}
    for path, line, source, target in found:  # one line per import statement
        first.setdefault((path, line), f"{path}:{line}: {source} may not import {target}")
    return sorted(first.values())


def unit_of(module: str, root: Path) -> str | None:
    """The folder-level unit inside kiosk: ``kiosk.<module or subpackage>``."""
    parts = module.split(".")
    if parts[0] != "kiosk" or len(parts) < 2:
        return None
    here = root / "kiosk" / parts[1]
    return f"kiosk.{parts[1]}" if here.is_dir() or here.with_suffix(".py").is_file() else None


def kiosk_circles(root: Path) -> list[list[str]]:
    """Strongly connected groups of more than one unit in kiosk's unit-level import graph."""
    graph: dict[str, set[str]] = {}
    for file in (root / "kiosk").rglob("*.py"):
        source = unit_of(module_name(root, file), root)
        if source is None:
            continue
        for _line, target in imports(root, file):
            unit = unit_of(target, root)
            if unit and unit != source:
                graph.setdefault(source, set()).add(unit)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_the_tree_holds_the_declared_direction() -> None:
    assert violations(ROOT) == []


def test_no_folder_level_import_circle_inside_the_kiosk() -> None:
    assert kiosk_circles(ROOT) == []


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(("files", "expected"), [
    ({"server_stub/api.py": "from device.config import DevicesConfig\n"},
     "server_stub/api.py:1: server_stub may not import device.config"),
    ({"server_stub/api.py": "def f():\n    import kiosk.config\n"},
     "server_stub/api.py:2: server_stub may not import kiosk.config"),
    ({"kiosk/protocol/schemas.py": "from ..errors import KioskError\n"},
     "kiosk/protocol/schemas.py:1: kiosk.protocol may not import kiosk.errors"),
    ({"common/logs.py": "from kiosk.protocol import schemas\n"},
     "common/logs.py:1: common may not import kiosk.protocol"),
    ({"device/camera.py": "from ui import theme\n"},
     "device/camera.py:1: device may not import ui"),
    ({"kiosk/app.py": "from ui.app import main\n"}, "kiosk/app.py:1: kiosk may not import ui.app"),
    ({"kiosk/flow.py": "from benchmarks import recognition\n"},
     "kiosk/flow.py:1: kiosk may not import benchmarks"),
])
def test_a_violation_in_a_tree_is_named(tmp_path: Path, files: dict[str, str],
                                        expected: str) -> None:
    root = write(tmp_path, {"kiosk/__init__.py": "", **files})
    assert expected in violations(root)


def test_the_allowed_directions_pass_in_a_tree(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "ui/app.py": "from kiosk.flow import machine\nfrom device.config import X\n",
        "kiosk/flow.py": "from kiosk.protocol.schemas import PaymentMethod\nimport numpy\n",
        "kiosk/commands/bench.py": "from benchmarks import recognition\n",
        "server_stub/api.py": "from kiosk.protocol import schemas\nfrom common import logs\n",
        "device/camera.py": "from common.opencv import cv2\n"})
    assert violations(root) == []


def test_a_circle_between_kiosk_modules_is_found(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "kiosk/__init__.py": "",
        "kiosk/config.py": "from kiosk.liveness.config import LivenessConfig\n",
        "kiosk/liveness/__init__.py": "from kiosk.liveness.check import Check\n",
        "kiosk/liveness/check.py": "from kiosk.recognition.engine import Engine\n",
        "kiosk/recognition/__init__.py": "",
        "kiosk/recognition/engine.py": "from kiosk.config import KioskConfig\n",
        "kiosk/errors.py": "",
        "kiosk/client.py": "from kiosk.errors import KioskError\n"})
    assert kiosk_circles(root) == [["kiosk.config", "kiosk.liveness", "kiosk.recognition"]]
