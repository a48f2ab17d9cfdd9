"""``kiosk demo``: recognition on bundled real faces (until the UI issue replaces it).

Enrols the people in insightface's group photo t1.jpg, Tom Hanks and scikit-image's
astronaut, then identifies altered frames of some of them, as a kiosk camera would see them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from device.opencv import cv2
from kiosk.config import KioskConfig
from kiosk.recognition.engine import FaceEngine
from kiosk.recognition.geometry import align_face
from kiosk.recognition.images import read_image_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demo on bundled images")
    p.set_defaults(func=cmd_demo)


def insightface_image(name: str) -> Path:
    import insightface

    return Path(insightface.__file__).resolve().parent / "data" / "images" / name


def _crop_second_face(engine: FaceEngine, group: np.ndarray) -> np.ndarray:
    det = sorted(engine.detect(group), key=lambda d: d.box[0])[1]
    x1, y1, x2, y2 = (int(v) for v in det.box)
    pad = (x2 - x1) // 2
    crop = group[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad]
    return np.ascontiguousarray(crop[:, ::-1])


def cmd_demo(args: argparse.Namespace, config: KioskConfig) -> int:
    from skimage import data

    engine = FaceEngine.from_config(config)
    gallery = engine.new_gallery()
    group = read_image_file(insightface_image("t1.jpg"))
    for i, det in enumerate(sorted(engine.detect(group), key=lambda d: d.box[0])):
        gallery.add(f"t1-person-{i + 1}", engine.embed_aligned(align_face(group, det.landmarks)))
    hanks = read_image_file(insightface_image("Tom_Hanks_54745.png"))
    astronaut = np.ascontiguousarray(data.astronaut()[..., ::-1])
    gallery.add("tom-hanks", engine.template_for(hanks, strict=False))
    gallery.add("astronaut", engine.template_for(astronaut, strict=False))
    print(f"enrolled {gallery.person_count} people from bundled images (pack {engine.pack})")
    probes = {
        "astronaut, mirrored and darker": cv2.convertScaleAbs(astronaut[:, ::-1], alpha=0.7),
        "Tom Hanks, JPEG-recompressed": cv2.imdecode(
            cv2.imencode(".jpg", hanks, [cv2.IMWRITE_JPEG_QUALITY, 40])[1], cv2.IMREAD_COLOR),
        "t1 person 2, cut from the group photo, mirrored": _crop_second_face(engine, group),
    }
    for label, frame in probes.items():
        template = engine.template_for(frame, strict=False)
        decision = engine.identify(template, gallery)
        best = decision.best
        assert best is not None
        print(f"  {label:45s} -> {decision.outcome:9s} {best.person_id:14s} "
              f"score {best.score:.3f} (gap {decision.gap:.3f})")
    return 0
