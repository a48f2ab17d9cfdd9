"""``kiosk config validate|show``: check a config file the way IT edits it, by hand."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from common.config_loader import ConfigError
from common.paths import absolute_path
from kiosk.commands.output import EXIT_OK, EXIT_SETUP
from kiosk.config import KioskConfig, load_config


def register(sub: argparse._SubParsersAction) -> None:
    cfg = sub.add_parser("config", help="validate or show the kiosk configuration")
    csub = cfg.add_subparsers(dest="config_command", required=True)
    p = csub.add_parser("validate", help="report every error with its line, or OK")
    p.add_argument("file", type=absolute_path, nargs="?", help="default: --config / $KIOSK_CONFIG")
    p.set_defaults(func=cmd_validate)
    p = csub.add_parser("show", help="the effective configuration (defaults filled in)")
    p.set_defaults(func=cmd_show)


def cmd_validate(args: argparse.Namespace, config: KioskConfig) -> int:
    path = args.file or (Path(config.source) if config.source else None)
    if path is None:
        print("no config file given: the built-in defaults are in effect (valid)")
        return EXIT_OK
    try:
        load_config(path)
    except ConfigError as exc:
        for line in exc.context.get("errors") or [exc.message]:
            sys.stderr.write(f"{line}\n")
        return EXIT_SETUP
    print(f"{path}: OK")
    return EXIT_OK


def cmd_show(args: argparse.Namespace, config: KioskConfig) -> int:
    """Effective values: the match thresholds the model pack supplies are filled in, not
    shown as their "use the pack's" placeholders."""
    from kiosk.recognition.manifest import get_pack

    th = get_pack(config.models.pack).thresholds
    recognition = config.recognition
    effective = dataclasses.replace(config, recognition=dataclasses.replace(
        recognition, match=recognition.match.resolved(th.match, th.candidate, th.margin)))
    print(json.dumps(dataclasses.asdict(effective), indent=2, ensure_ascii=False))
    return EXIT_OK
