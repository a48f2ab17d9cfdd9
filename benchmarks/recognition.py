"""Recognition benchmark: model load, per-frame detect/align/embed, and 1:N search at scale.

Run with ``kiosk bench recognition`` (or ``python -m benchmarks.recognition``). Prints a
Markdown table (pasted into README) and writes JSON for tracking over time.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import itertools
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from common.argtypes import positive_int
from common.errors import ErrorCode
from common.opencv import cv2
from common.package_data import package_file
from kiosk.config import KioskConfig
from kiosk.errors import FaceNotUsable, ModelError
from kiosk.recognition.detection import Detection, YuNetDetector
from kiosk.recognition.engine import FaceEngine
from kiosk.recognition.gallery import Gallery
from kiosk.recognition.geometry import align_face
from kiosk.recognition.template import Template

SEARCH_SIZES = (10_000, 100_000, 316_800, 1_000_000)


def demo_frame() -> np.ndarray:
    """A 640x480 BGR frame with one real face (scikit-image's astronaut) at kiosk distance."""
    from skimage import data

    face = data.astronaut()[..., ::-1]
    frame = np.full((480, 640, 3), 90, dtype=np.uint8)
    scaled = cv2.resize(face, (420, 420), interpolation=cv2.INTER_AREA)
    frame[30:450, 110:530] = scaled
    return frame


def stats(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples)
    return {"median": float(np.median(arr)), "p90": float(np.percentile(arr, 90)),
            "p95": float(np.percentile(arr, 95)), "n": len(samples)}


class NoFaceToMeasure(ModelError):
    """The configured detection finds no face in the benchmark's frames (a detection scale
    or quality.min_face_px beyond what they hold): nothing to time or score."""

    code = ErrorCode.BENCH_NO_FACES


def largest_face(engine: FaceEngine, found: list[Detection]) -> Detection:
    """The demo frame's face, or why there is nothing to time."""
    if not found:
        raise NoFaceToMeasure(
            "no face found in the demo frame (a face about 200 px high) at detect_min_face_px "
            f"= {engine.config.recognition.detect_min_face_px}: nothing to time",
            detect_min_face_px=engine.config.recognition.detect_min_face_px)
    return max(found, key=lambda d: d.area)


def bench_pipeline(config: KioskConfig, frames: int) -> dict[str, object]:
    t0 = time.perf_counter()
    engine = FaceEngine.from_config(config)
    load_ms = (time.perf_counter() - t0) * 1000
    frame = demo_frame()
    for _ in range(5):
        engine.analyse(frame)
    detect, align, embed, total = [], [], [], []
    for _ in range(frames):
        a = time.perf_counter()
        dets = engine.detect(frame)
        b = time.perf_counter()
        face = largest_face(engine, dets)
        aligned = align_face(frame, face.landmarks)
        c = time.perf_counter()
        engine.embed_aligned(aligned)
        d = time.perf_counter()
        detect.append((b - a) * 1000)
        align.append((c - b) * 1000)
        embed.append((d - c) * 1000)
        total.append((d - a) * 1000)
    result = {"pack": engine.pack, "model_load_ms": load_ms, "detect_ms": stats(detect),
              "align_ms": stats(align), "embed_ms": stats(embed), "total_ms": stats(total),
              "detect_min_face_px": config.recognition.detect_min_face_px}
    if config.recognition.detect_min_face_px:
        full = at_min_face(config, 0)
        for _ in range(5):
            full.detect(frame)
        times = []
        for _ in range(frames):
            a = time.perf_counter()
            full.detect(frame)
            times.append((time.perf_counter() - a) * 1000)
        result["detect_full_res_ms"] = stats(times)
    return result


def at_min_face(config: KioskConfig, min_face: int) -> FaceEngine:
    """The engine of ``config`` with ``detect_min_face_px`` set to ``min_face``."""
    recognition = dataclasses.replace(config.recognition, detect_min_face_px=min_face)
    return FaceEngine.from_config(dataclasses.replace(config, recognition=recognition))


def package_people() -> dict[str, np.ndarray]:
    """One photo each of eight people that packages ship: the astronaut, Hanks, and the six
    faces of insightface's t1.jpg cut out with a margin."""
    from skimage import data

    from kiosk.recognition.images import read_image_file

    images = package_file("insightface", "data", "images")
    people = {"astronaut": np.ascontiguousarray(data.astronaut()[..., ::-1]),
              "hanks": read_image_file(images / "Tom_Hanks_54745.png")}
    group = read_image_file(images / "t1.jpg")
    probe = at_min_face(KioskConfig(), 0)  # the same people whatever the default
    for i, det in enumerate(sorted(probe.detect(group), key=lambda d: d.box[0])):
        x1, y1, x2, y2 = (int(v) for v in det.box)
        pad = int(0.6 * (x2 - x1))
        people[f"t1_{i}"] = np.ascontiguousarray(
            group[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad])
    return people


def _variants(img: np.ndarray) -> list[np.ndarray]:
    """Second shots of the same person: mirrored, darker, heavy JPEG."""
    jpeg = cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 35])[1],
                        cv2.IMREAD_COLOR)
    return [np.ascontiguousarray(img[:, ::-1]), cv2.convertScaleAbs(img, alpha=0.6), jpeg]


# Face heights (px) in a 640x480 frame: a patient at the kiosk, and one near `too_far`.
KIOSK_FACE_HEIGHTS = (200, 100)


def kiosk_frame(image: np.ndarray, face_height: int, probe: FaceEngine) -> np.ndarray:
    """``image`` scaled so its largest face is ``face_height`` px high and centred in a grey
    640x480 frame: the geometry the kiosk's camera sees, whatever size the photo was."""
    face = max(probe.detect(image), key=lambda d: d.area)
    scale = face_height / face.height
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interp)
    frame = np.full((480, 640, 3), 90, dtype=np.uint8)
    ox = int(320 - (face.box[0] + face.box[2]) / 2 * scale)
    oy = int(240 - (face.box[1] + face.box[3]) / 2 * scale)
    x0, y0 = max(0, ox), max(0, oy)
    x1, y1 = min(640, ox + scaled.shape[1]), min(480, oy + scaled.shape[0])
    frame[y0:y1, x0:x1] = scaled[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    return frame


def bench_accuracy(config: KioskConfig) -> list[dict[str, object]]:
    """Genuine and impostor scores on the package photos seen as the kiosk sees them (each
    face in a 640x480 frame, at each of KIOSK_FACE_HEIGHTS), with detection at full
    resolution and on a shrunk frame (``detect_min_face_px`` 40 and the configured value);
    how probes at each setting score against a gallery enrolled at full resolution; and how
    steadily the landmarks follow a face that moves, from the best anchor alone and voted."""
    people = package_people()
    probe = at_min_face(config, 0)  # frames laid out alike for every setting measured
    rows = []
    for height in KIOSK_FACE_HEIGHTS:
        firsts = {n: kiosk_frame(img, height, probe) for n, img in people.items()}
        seconds = [(n, kiosk_frame(v, height, probe)) for n, img in people.items()
                   for v in _variants(img)]
        enrolled: dict[str, Template] = {}
        for min_face in sorted({0, 40, config.recognition.detect_min_face_px}):
            engine = at_min_face(config, min_face)
            row, templates, probes = _score(engine, firsts, seconds)
            enrolled = enrolled or templates
            across = [t.similarity(enrolled[n]) for n, t in probes if n in enrolled]
            row.update(face_height=height, detect_min_face_px=min_face,
                       detect_scale=min(engine.detect_scale, 1.0),
                       min_genuine_vs_full_res_enrolment=min(across),
                       false_non_matches_vs_full_res_enrolment=sum(
                           g < engine.policy.threshold for g in across),
                       landmark_jitter_px=_landmark_jitter(engine, firsts.values()))
            rows.append(row)
    return rows


# Horizontal moves (px) of a face between two camera frames, for the landmark jitter.
SHIFTS = tuple(range(2, 24, 2))


def _landmark_jitter(engine: FaceEngine, frames: Iterable[np.ndarray],
                     ) -> dict[str, dict[str, float]] | None:
    """How far the primary face's landmarks land from where they should after the frame moves
    by SHIFTS (median / p90, frame px), from the best anchor alone and voted; None for the
    SCRFD packs (insightface's own post-processing) or when no shifted face was found."""
    detector = engine.detector
    if not isinstance(detector, YuNetDetector):
        return None
    errors: dict[bool, list[float]] = {False: [], True: []}
    for frame in frames:
        for voting in errors:
            seen = detector.candidates(frame).detections(voting)
            if not seen:
                continue
            base = max(seen, key=lambda d: d.area)
            for shift in SHIFTS:
                moved = np.full_like(frame, 90)
                moved[:, shift:] = frame[:, :-shift]
                found = detector.candidates(moved).detections(voting)
                if found:  # a face at the edge of what the setting finds may drop out
                    face = max(found, key=lambda d: d.area)
                    errors[voting].append(
                        float(np.abs(face.landmarks - base.landmarks - [shift, 0]).max()))
    if not errors[False] or not errors[True]:
        return None  # no face seen in any shifted frame at this setting
    return {"best_anchor": stats(errors[False]), "voted": stats(errors[True])}


def _score(engine: FaceEngine, firsts: dict[str, np.ndarray],
           seconds: list[tuple[str, np.ndarray]],
           ) -> tuple[dict[str, object], dict[str, Template], list[tuple[str, Template]]]:
    def template(image: np.ndarray) -> Template | None:
        try:
            return engine.template_for(image, strict=False)
        except FaceNotUsable:
            return None

    found = {n: template(img) for n, img in firsts.items()}
    templates = {n: t for n, t in found.items() if t is not None}
    again = [(n, template(img)) for n, img in seconds]
    probes = [(n, t) for n, t in again if t is not None]
    genuine = [t.similarity(templates[n]) for n, t in probes if n in templates]
    impostor = [templates[a].similarity(templates[b])
                for a, b in itertools.combinations(templates, 2)]
    if not genuine or not impostor:
        raise NoFaceToMeasure(
            "the package photos at kiosk geometry give no genuine or impostor pair at "
            f"detect_min_face_px = {engine.config.recognition.detect_min_face_px} (too few "
            "faces pass quality.min_face_px / the detection scale): nothing to score",
            detect_min_face_px=engine.config.recognition.detect_min_face_px,
            templates=len(templates), probes=len(probes))
    threshold = engine.policy.threshold
    return {
        "refused_images": len(found) - len(templates) + len(again) - len(probes),
        "genuine_pairs": len(genuine), "impostor_pairs": len(impostor),
        "min_genuine": min(genuine), "median_genuine": float(np.median(genuine)),
        "max_impostor": max(impostor),
        "false_non_matches": sum(g < threshold for g in genuine),
        "false_matches": sum(i >= threshold for i in impostor),
    }, templates, probes


class PeerMissing(ModelError):
    code = ErrorCode.BENCH_PEER_MISSING


PEER_INSTALL = ("pip install dlib-bin && pip install --no-deps face-recognition "
                "face_recognition_models  (wheels, no compiler; the suite never needs them)")


def bench_compare(config: KioskConfig, frames: int) -> dict[str, object]:
    """Ours against ``face_recognition`` (dlib: HOG detector + ResNet encoder) on the same
    frames, interleaved call by call so both see the same machine load."""
    try:
        import face_recognition  # type: ignore[import-not-found]
    except ImportError as exc:
        raise PeerMissing(f"--compare needs face_recognition: {PEER_INSTALL}") from exc
    frame = demo_frame()
    rgb = np.ascontiguousarray(frame[..., ::-1])
    t0 = time.perf_counter()
    engine = FaceEngine.from_config(config)

    def ours() -> None:
        face = largest_face(engine, engine.detect(frame))
        engine.embed_aligned(align_face(frame, face.landmarks))

    def peer() -> None:
        face_recognition.face_encodings(rgb, face_recognition.face_locations(rgb))

    ours()
    ours_load = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    peer()  # the first call loads dlib's models
    peer_load = (time.perf_counter() - t0) * 1000

    ours_ms, peer_ms = [], []
    for i in range(frames + 3):
        for run, out in ((ours, ours_ms), (peer, peer_ms)):
            t = time.perf_counter()
            run()
            if i >= 3:  # warm-up
                out.append((time.perf_counter() - t) * 1000)
    ratios = np.asarray(peer_ms) / np.asarray(ours_ms)
    return {"frames": frames, "ours_load_ms": ours_load, "peer_load_ms": peer_load,
            "ours_ms": stats(ours_ms), "peer_ms": stats(peer_ms),
            "peer_over_ours_median": float(np.median(ratios))}


def render_compare(c: dict) -> str:
    o, p = c["ours_ms"], c["peer_ms"]
    return "\n".join([
        f"{c['frames']} frames 640x480, interleaved; detect+align+embed per frame.",
        "",
        "| engine | load + first frame ms | median ms | p95 ms |",
        "| --- | ---: | ---: | ---: |",
        f"| ours (YuNet + SFace, ONNX Runtime) | {c['ours_load_ms']:.0f} | {o['median']:.1f} | "
        f"{o['p95']:.1f} |",
        f"| face_recognition (dlib HOG + ResNet) | {c['peer_load_ms']:.0f} | "
        f"{p['median']:.1f} | {p['p95']:.1f} |",
        "",
        f"face_recognition / ours, median of per-frame ratios: "
        f"{c['peer_over_ours_median']:.2f}x",
    ])


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def bench_search(dim: int, sizes: tuple[int, ...], queries: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(7)
    rows = []
    for n in sizes:
        gc.collect()
        before = _rss_mb()
        vectors = rng.standard_normal((n, dim), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        gallery = Gallery("bench", dim, capacity=n)
        gallery.bulk_load(vectors, [f"p{i}" for i in range(n)])
        del vectors
        gc.collect()
        after = _rss_mb()
        probes = [Template.create("bench", rng.standard_normal(dim)) for _ in range(queries)]
        for p in probes[:3]:
            gallery.search(p, 5)
        times = []
        for p in probes:
            t = time.perf_counter()
            gallery.search(p, 5)
            times.append((time.perf_counter() - t) * 1000)
        s = stats(times)
        rows.append({"templates": n, "median_ms": s["median"], "p95_ms": s["p95"],
                     "matrix_mb": gallery.nbytes / 1e6,
                     "bytes_per_template": gallery.nbytes / n,
                     "process_mb_delta": after - before})
        del gallery
    return rows


def _jitter_cell(jitter: dict | None) -> str:
    if jitter is None:
        return "n/a"
    one, voted = jitter["best_anchor"], jitter["voted"]
    return (f"{one['median']:.1f} / {one['p90']:.1f} → "
            f"{voted['median']:.1f} / {voted['p90']:.1f}")


def render(result: dict) -> str:
    p = result["pipeline"]
    lines = [
        f"Machine: {result['machine']}; pack `{p['pack']}`; {p['total_ms']['n']} frames 640x480.",
        "",
        "| stage | median ms | p95 ms |",
        "| --- | ---: | ---: |",
        f"| model load (once) | {p['model_load_ms']:.0f} | |",
    ]
    stages = [("detect_ms", f"detect (`detect_min_face_px = {p['detect_min_face_px']}`)"),
              ("align_ms", "align"), ("embed_ms", "embed"),
              ("total_ms", "**detect+align+embed**")]
    if "detect_full_res_ms" in p:
        stages.append(("detect_full_res_ms", "detect at full resolution, for reference"))
    for key, label in stages:
        lines.append(f"| {label} | {p[key]['median']:.1f} | {p[key]['p95']:.1f} |")
    lines += [
        "",
        "| face px | detection | images refused | genuine pairs, min / median score "
        "| impostor pairs, max score | false non-matches / matches "
        "| genuine vs full-res enrolment, min (false non-matches) "
        "| landmark jitter px, median / p90: best anchor → voted |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for a in result["accuracy"]:
        label = ("full resolution" if not a["detect_min_face_px"] else
                 f"min face {a['detect_min_face_px']} px (scale {a['detect_scale']:.2f})")
        lines.append(f"| {a['face_height']} | {label} | {a['refused_images']} | "
                     f"{a['genuine_pairs']}, {a['min_genuine']:.3f} / "
                     f"{a['median_genuine']:.3f} | "
                     f"{a['impostor_pairs']}, {a['max_impostor']:.3f} | "
                     f"{a['false_non_matches']} / {a['false_matches']} | "
                     f"{a['min_genuine_vs_full_res_enrolment']:.3f} "
                     f"({a['false_non_matches_vs_full_res_enrolment']}) | "
                     f"{_jitter_cell(a['landmark_jitter_px'])} |")
    lines += [
        "",
        "| 1:N search, templates | median ms | p95 ms | matrix MB | bytes/template "
        "| process MB (with index) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["search"]:
        lines.append(f"| {r['templates']:,} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | "
                     f"{r['matrix_mb']:.0f} | {r['bytes_per_template']:.0f} | "
                     f"{r['process_mb_delta']:.0f} |")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=positive_int, default=200)
    parser.add_argument("--queries", type=positive_int, default=50)
    parser.add_argument("--sizes", type=positive_int, nargs="*", default=list(SEARCH_SIZES))
    parser.add_argument("--out", type=Path, default=Path("bench-results/recognition.json"))
    parser.add_argument("--compare", action="store_true",
                        help="also time face_recognition (dlib) on the same frames, "
                             "interleaved (optional: " + PEER_INSTALL + ")")


def run(args: argparse.Namespace, config: KioskConfig) -> int:
    comparison = bench_compare(config, args.frames) if args.compare else None
    engine_dim = FaceEngine.from_config(config).manifest.embedding_dim
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}, threads {config.models.threads}",
        "pipeline": bench_pipeline(config, args.frames),
        "accuracy": bench_accuracy(config),
        "search": bench_search(engine_dim, tuple(args.sizes), args.queries),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if comparison is not None:
        result["compare"] = comparison
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(render(result))
    if comparison is not None:
        print("\n" + render_compare(comparison))
    print(f"\nJSON written to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recognition")
    add_arguments(parser)
    return run(parser.parse_args(argv), KioskConfig())


if __name__ == "__main__":
    sys.exit(main())
