"""``kiosk faces`` and ``kiosk models calibrate`` as real subprocesses: JSON and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.opencv import cv2


def kiosk(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120, check=False)


@pytest.fixture(scope="module")
def faces_dir(tmp_path_factory, images_dir, astronaut) -> Path:
    root = tmp_path_factory.mktemp("faces")
    cv2.imwrite(str(root / "astronaut.png"), astronaut)
    cv2.imwrite(str(root / "astronaut_flip.jpg"), astronaut[:, ::-1])
    shutil.copy(images_dir / "Tom_Hanks_54745.png", root / "hanks.png")
    hanks = cv2.imread(str(images_dir / "Tom_Hanks_54745.png"))
    cv2.imwrite(str(root / "hanks_dark.jpg"), cv2.convertScaleAbs(hanks, alpha=0.7))
    shutil.copy(images_dir / "t1.jpg", root / "group.jpg")
    (root / "notes.txt").write_text("not an image")
    cv2.imwrite(str(root / "blank.png"), np.full((200, 200, 3), 90, np.uint8))
    return root


def test_verify_json_fields(faces_dir: Path):
    same = kiosk("faces", "verify", str(faces_dir / "astronaut.png"),
                 str(faces_dir / "astronaut_flip.jpg"), "--json")
    assert same.returncode == 0, same.stderr
    out = json.loads(same.stdout)
    assert {"score", "threshold", "match", "pack"} <= set(out)
    assert out["match"] is True and out["pack"] == "opencv-zoo-sface"
    diff = kiosk("faces", "verify", str(faces_dir / "astronaut.png"),
                 str(faces_dir / "hanks.png"), "--json")
    assert diff.returncode == 0
    assert json.loads(diff.stdout)["match"] is False


def test_bad_input_is_one_line_and_nonzero(faces_dir: Path):
    for args in (["faces", "verify", str(faces_dir / "notes.txt"), str(faces_dir / "hanks.png")],
                 ["faces", "verify", str(faces_dir / "group.jpg"), str(faces_dir / "hanks.png")],
                 ["faces", "verify", str(faces_dir / "blank.png"), str(faces_dir / "hanks.png")],
                 ["faces", "verify", str(faces_dir / "missing.jpg"), str(faces_dir / "hanks.png")]):
        proc = kiosk(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("kiosk: error:"), proc.stderr
        assert "Traceback" not in proc.stderr


def test_detect_and_embed_one_json_line_per_image(faces_dir: Path):
    proc = kiosk("faces", "detect", "--json", str(faces_dir / "group.jpg"),
                 str(faces_dir / "notes.txt"), str(faces_dir / "hanks.png"))
    assert proc.returncode == 2  # one bad image, the others still answered
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r.get("count") for r in rows] == [6, None, 1]
    assert rows[1]["error"] == "image.not_an_image"
    assert "multiple_faces" in rows[0]["quality"]["reasons"]
    proc = kiosk("faces", "embed", str(faces_dir / "hanks.png"), str(faces_dir / "astronaut.png"))
    assert proc.returncode == 0
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["dim"] for r in rows] == [128, 128]


def test_identify_against_a_gallery_folder(faces_dir: Path, tmp_path: Path):
    for person, files in {"ann": ["astronaut.png"], "tom": ["hanks.png"],
                          "crowd": ["group.jpg", "notes.txt"]}.items():
        (tmp_path / person).mkdir()
        for f in files:
            shutil.copy(faces_dir / f, tmp_path / person / f)
    proc = kiosk("faces", "identify", str(faces_dir / "hanks_dark.jpg"), "--gallery",
                 str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["decision"] == "match" and out["person"] == "tom"
    assert out["gallery"] == {"persons": 2, "templates": 2}
    assert [s["error"] for s in out["skipped"]] == ["face.multiple_faces"]


def test_calibrate_reports_rates_and_lists_unusable_images(faces_dir: Path, tmp_path: Path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "image_a,image_b,same\n"
        "astronaut.png,astronaut_flip.jpg,1\n"
        "hanks.png,hanks_dark.jpg,yes\n"
        "astronaut.png,hanks.png,0\n"
        "astronaut_flip.jpg,hanks_dark.jpg,no\n"
        "blank.png,hanks.png,0\n"
    )
    proc = kiosk("models", "calibrate", str(pairs), "--images", str(faces_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["genuine_pairs"] == 2 and out["impostor_pairs"] == 2
    assert out["fmr"] == 0.0 and out["fnmr"] == 0.0
    assert out["unusable_images"] == [{"image": "blank.png", "reason": "face.no_face"}]
    assert "warning" in out  # two impostor pairs cannot resolve FMR 0.001
    bad = tmp_path / "bad.csv"
    bad.write_text("a.png,b.png,maybe\n")
    proc = kiosk("models", "calibrate", str(bad))
    assert proc.returncode == 2 and "label must be yes/no" in proc.stderr


def test_calibrate_reads_lfw_pairs_txt_and_named_csv_columns(faces_dir: Path, tmp_path: Path):
    lfw = tmp_path / "lfw"
    for person, number, image in (("Eileen_Collins", 1, "astronaut.png"),
                                  ("Eileen_Collins", 2, "astronaut_flip.jpg"),
                                  ("Tom_Hanks", 1, "hanks.png"),
                                  ("Tom_Hanks", 2, "hanks_dark.jpg")):
        (lfw / person).mkdir(parents=True, exist_ok=True)
        (lfw / person / f"{person}_{number:04d}.jpg").write_bytes((faces_dir / image).read_bytes())
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1\t2\nEileen_Collins\t1\t2\nTom_Hanks\t1\t2\n"
                     "Eileen_Collins\t1\tTom_Hanks\t1\nEileen_Collins\t2\tTom_Hanks\t2\n")
    proc = kiosk("models", "calibrate", str(pairs), "--images", str(lfw), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["genuine_pairs"], out["impostor_pairs"], out["fnmr"], out["fmr"]) == (2, 2, 0, 0)
    named = tmp_path / "named.csv"
    named.write_text("id,left,right,verdict\n1,astronaut.png,astronaut_flip.jpg,same\n"
                     "2,astronaut.png,hanks.png,different\n")
    proc = kiosk("models", "calibrate", str(named), "--images", str(faces_dir), "--json")
    assert proc.returncode == 2 and "--columns A,B,LABEL" in proc.stderr
    proc = kiosk("models", "calibrate", str(named), "--images", str(faces_dir), "--json",
                 "--columns", "left,right,verdict")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["genuine_pairs"] == 1
    proc = kiosk("models", "calibrate", str(named), "--columns", "left,right")
    assert proc.returncode == 2 and "three names" in proc.stderr
