"""``kiosk``: the one command-line entry point (IT, cashiers' tools, demos, benchmarks).

Exit codes: 0 answered, 1 internal error, 2 bad input, 3 set-up problem (models, config).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import kiosk.commands
from common.config_loader import ConfigError
from common.logs import setup_logging
from common.paths import absolute_path
from kiosk.commands.output import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_SETUP, fail
from kiosk.config import load_config
from kiosk.errors import KioskError, ModelError


def command_modules() -> list:
    """Every module in kiosk/commands with a ``register(subparsers)`` function."""
    found = []
    for info in sorted(pkgutil.iter_modules(kiosk.commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"kiosk.commands.{info.name}")
        if hasattr(module, "register"):
            found.append(module)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=absolute_path, help="TOML config (default: $KIOSK_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in command_modules():
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config, missing_ok=getattr(args, "creates_config", False))
        # a file only for a terminal's own config: a bare `kiosk models` leaves no var/ behind
        setup_logging(config.logging.level, config.paths.log_path() if config.source else None,
                      "kiosk-cli")
        return int(args.func(args, config) or 0)
    except (ConfigError, ModelError) as exc:
        fail(f"{exc.code}: {exc.message}")
        return EXIT_SETUP
    except KioskError as exc:
        fail(f"{exc.code}: {exc.message}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # last resort: one line, not a traceback, for the operator
        fail(f"internal error: {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
