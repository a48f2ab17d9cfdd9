"""``python -m benchmarks.liveness`` and ``kiosk bench liveness``: run the evaluation, print
its tables (APCER, BPCER, the threshold sweep) and write every outcome as JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.liveness.evaluation import (
    BONA_DOUBLE,
    BONA_MEASURED,
    OTHER_FAMILIES,
    PLANAR_FAMILIES,
    Evaluation,
    Outcome,
    run_evaluation,
    sweep,
    upper_bound,
)
from common.argtypes import positive_int

FAMILY_NOTES = {
    "flat_tilt_yaw": "flat print tilted about its vertical axis, 15-60°",
    "flat_tilt_pitch": "flat print tilted about its horizontal axis, 15-50°",
    "flat_rotate": "flat print rotated in plane 10-30°, slight tilt",
    "flat_perspective": "flat print 22-32 cm from the lens, tilted both ways",
    "flat_scale": "flat print moved 0.6-1.5x nearer/farther, slight tilt",
    "jpeg": "flat print tilted, each frame JPEG q25-60 and blurred",
    "screen": "photo on a screen (RGB sub-pixels, optics blur, pixel sampling), tilted",
    "bend_small": "print bent round a vertical cylinder r=120-300 mm, tilted",
    "bend_strong": "print bent round r=50-120 mm (a half-mask), tilted",
    "relief": "photo as a 3-D relief turning like a head (3-D mask stand-in)",
}


# --------------------------------------------------------------------------- tables
def _rate(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}" if n else "-"


def _reasons(rows: list[Outcome]) -> str:
    counts = Counter(o.reason for o in rows if not o.accepted)
    return ", ".join(f"{r.removeprefix('liveness.')} {c}" for r, c in counts.most_common(4))



def render_tables(ev: Evaluation) -> str:
    cfg = ev.config
    lines = [
        f"Liveness evaluation, seed {ev.seed}, {ev.n} presentations per attack family, "
        f"{ev.seconds:.0f} s. Thresholds: min_turn_deg {cfg.min_turn_deg}, min_parallax "
        f"{cfg.min_parallax}, min_texture_parallax {cfg.min_texture_parallax}. Landmark "
        f"jitter of the detector (measured): {ev.noise_iod:.3f} inter-ocular distances.",
        "",
        "Attack presentations (APCER = attacks accepted; bound = one-sided 95% upper limit)",
        "",
        "| attack family | n | accepted | APCER % | bound % | rejected by |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for family in (*PLANAR_FAMILIES, "**all planar attacks**", "bend_strong", "relief"):
        rows = (ev.rows(PLANAR_FAMILIES) if family.startswith("**") else ev.rows([family]))
        if not rows:
            continue
        k = sum(o.accepted for o in rows)
        note = FAMILY_NOTES.get(family, "flat prints, screens and small bends together")
        lines.append(f"| {family}: {note} | {len(rows)} | {k} | {_rate(k, len(rows))} | "
                     f"{100 * upper_bound(k, len(rows)):.1f} | {_reasons(rows)} |")
    lines += [
        "",
        "Bona fide presentations (BPCER = bona fide rejected)",
        "",
        "| bona fide set | n | rejected | BPCER % | bound % | rejected by |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    relief = ev.rows(["relief"])
    for group, sigma in ((BONA_MEASURED, ev.noise_iod), (BONA_DOUBLE, 2 * ev.noise_iod)):
        rows = ev.rows([group])
        k = sum(not o.accepted for o in rows)
        lines.append(f"| {group} (σ {sigma:.3f} IOD), mean 3-D face | {len(rows)} | {k} | "
                     f"{_rate(k, len(rows))} | {100 * upper_bound(k, len(rows)):.1f} | "
                     f"{_reasons(rows)} |")
    if relief:
        k = sum(not o.accepted for o in relief)
        lines.append(f"| real photos as 3-D reliefs turning, real detector | {len(relief)} | {k} "
                     f"| {_rate(k, len(relief))} | {100 * upper_bound(k, len(relief)):.1f} | "
                     f"{_reasons(relief)} |")
    groups = [BONA_MEASURED] + (["relief"] if relief else [])
    parallaxes = (0.0, 0.07, 0.10, 0.15)
    textures = (0.0, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04)
    grid = sweep(ev, parallaxes, textures, groups)
    lines += [
        "",
        f"Thresholds swept (APCER on all planar attacks / BPCER on {' + '.join(groups)}), %",
        "",
        "| min_texture_parallax \\ min_parallax | "
        + " | ".join(f"{p:.2f}" for p in parallaxes) + " |",
        "| ---: |" + " ---: |" * len(parallaxes),
    ]
    for x in textures:
        cells = [f"{100 * g['apcer']:.1f} / {100 * g['bpcer']:.1f}" for g in grid
                 if g["min_texture_parallax"] == x]
        lines.append(f"| {x:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_json(ev: Evaluation) -> dict[str, Any]:
    return {"seed": ev.seed, "n": ev.n, "seconds": ev.seconds, "noise_iod": ev.noise_iod,
            "config": dataclasses.asdict(ev.config),
            "outcomes": [dataclasses.asdict(o) for o in ev.outcomes]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--n", type=positive_int, default=40,
                        help="presentations per attack family")
    parser.add_argument("--bona-fide", type=positive_int, help="synthetic turns per noise level")
    parser.add_argument("--families", nargs="*", default=list(PLANAR_FAMILIES + OTHER_FAMILIES))
    parser.add_argument("--out", type=Path, default=Path("bench-results/liveness.json"))


def run(args: argparse.Namespace) -> int:
    ev = run_evaluation(args.seed, args.n, families=args.families, bona_fide=args.bona_fide,
                        progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(to_json(ev), indent=1))
    print(render_tables(ev))
    print(f"\nJSON written to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.liveness")
    add_arguments(parser)
    return run(parser.parse_args(argv))
