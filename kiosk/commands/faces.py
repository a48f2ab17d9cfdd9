"""``kiosk faces detect|embed|verify|identify``: the recognition engine from the shell."""

from __future__ import annotations

import argparse
from typing import Any

from common.errors import ErrorCode
from common.paths import absolute_path
from kiosk.commands.output import EXIT_BAD_INPUT, EXIT_OK, emit_json
from kiosk.config import KioskConfig
from kiosk.errors import ImageError, KioskError
from kiosk.recognition.engine import FaceEngine
from kiosk.recognition.images import read_image_file

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


def register(sub: argparse._SubParsersAction) -> None:
    faces = sub.add_parser("faces", help="detect, embed, verify and identify faces in images")
    fsub = faces.add_subparsers(dest="faces_command", required=True)
    p = fsub.add_parser("detect", help="boxes, landmarks and quality per image")
    p.add_argument("images", nargs="+", type=absolute_path)
    p.add_argument("--json", action="store_true", help="one JSON line per image")
    p.set_defaults(func=cmd_detect)
    p = fsub.add_parser("embed", help="one JSON line with the template per image")
    p.add_argument("images", nargs="+", type=absolute_path)
    p.set_defaults(func=cmd_embed)
    p = fsub.add_parser("verify", help="1:1 - are these two images the same person?")
    p.add_argument("image_a", type=absolute_path)
    p.add_argument("image_b", type=absolute_path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)
    p = fsub.add_parser("identify", help="1:N - who in a gallery folder is this?")
    p.add_argument("image", type=absolute_path)
    p.add_argument("--gallery", type=absolute_path, required=True,
                   help="folder of <person>/<image files>")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_identify)


def _box(values: Any) -> list[float]:
    return [round(float(v), 1) for v in values]


def cmd_detect(args: argparse.Namespace, config: KioskConfig) -> int:
    engine = FaceEngine.from_config(config)
    status = EXIT_OK
    for path in args.images:
        try:
            analysis = engine.analyse(read_image_file(path), embed=False)
        except ImageError as exc:
            status = EXIT_BAD_INPUT
            _report(args, {"image": str(path), "error": exc.code, "message": exc.message})
            continue
        primary = analysis.quality.face
        faces = [
            {"box": _box(d.box), "score": round(d.score, 3),
             "landmarks": [_box(p) for p in d.landmarks], "primary": d is primary}
            for d in sorted(analysis.detections, key=lambda d: -d.area)
        ]
        metrics = {k: round(v, 1) for k, v in analysis.quality.metrics.items()}
        _report(args, {"image": str(path), "faces": faces, "count": len(faces),
                       "quality": {"ok": analysis.quality.ok,
                                   "reasons": list(analysis.quality.reasons),
                                   "metrics": metrics}})
    return status


def _report(args: argparse.Namespace, row: dict[str, Any]) -> None:
    if getattr(args, "json", False):
        emit_json(row)
    elif "error" in row:
        print(f"{row['image']}: error {row['error']}: {row['message']}")
    else:
        verdict = "ok" if row["quality"]["ok"] else ", ".join(row["quality"]["reasons"])
        print(f"{row['image']}: {row['count']} face(s); quality: {verdict}")


def cmd_embed(args: argparse.Namespace, config: KioskConfig) -> int:
    engine = FaceEngine.from_config(config)
    status = EXIT_OK
    for path in args.images:
        try:
            template = engine.template_for(read_image_file(path), strict=False)
        except KioskError as exc:
            status = EXIT_BAD_INPUT
            emit_json({"image": str(path), "error": exc.code, "message": exc.message})
            continue
        emit_json({"image": str(path), **template.to_dict()})
    return status


def cmd_verify(args: argparse.Namespace, config: KioskConfig) -> int:
    engine = FaceEngine.from_config(config)
    a = engine.template_for(read_image_file(args.image_a), strict=False)
    b = engine.template_for(read_image_file(args.image_b), strict=False)
    score = a.similarity(b)
    result = {"score": round(score, 4), "threshold": engine.policy.threshold,
              "match": score >= engine.policy.threshold, "pack": engine.pack}
    if args.json:
        emit_json(result)
    else:
        verdict = "same person" if result["match"] else "different people"
        print(f"{verdict}: score {score:.3f} (threshold {engine.policy.threshold}, "
              f"pack {engine.pack})")
    return EXIT_OK


def cmd_identify(args: argparse.Namespace, config: KioskConfig) -> int:
    engine = FaceEngine.from_config(config)
    probe = engine.template_for(read_image_file(args.image), strict=False)
    gallery = engine.new_gallery()
    skipped: list[dict[str, str]] = []
    if not args.gallery.is_dir():
        raise ImageError(ErrorCode.GALLERY_NOT_A_FOLDER, f"{args.gallery}: not a folder")
    for person_dir in sorted(p for p in args.gallery.iterdir() if p.is_dir()):
        for image in sorted(person_dir.iterdir()):
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                gallery.add(person_dir.name, engine.template_for(read_image_file(image),
                                                                 strict=False), str(image))
            except KioskError as exc:
                skipped.append({"image": str(image), "error": exc.code})
    decision = engine.identify(probe, gallery)
    best = decision.best
    result = {
        "decision": decision.outcome,
        "person": best.person_id if best and decision.outcome != "no_match" else None,
        "score": round(best.score, 4) if best else None,
        "margin": round(decision.gap, 4) if decision.gap is not None else None,
        "threshold": engine.policy.threshold,
        "required_margin": engine.policy.margin,
        "candidates": [{"person": c.person_id, "score": round(c.score, 4)}
                       for c in decision.candidates],
        "gallery": {"persons": gallery.person_count, "templates": len(gallery)},
        "skipped": skipped,
        "pack": engine.pack,
    }
    if args.json:
        emit_json(result)
    else:
        who = result["person"] or "nobody"
        print(f"{decision.outcome}: {who} (score {result['score']}, gap {result['margin']}; "
              f"{gallery.person_count} persons, {len(skipped)} image(s) skipped)")
    return EXIT_OK
