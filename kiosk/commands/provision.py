"""``kiosk provision``: register this kiosk with the platform (IT runs it once per terminal)."""

from __future__ import annotations

import argparse
from pathlib import Path

from common.paths import absolute_path
from kiosk.commands.output import EXIT_OK
from kiosk.config import KioskConfig
from kiosk.protocol.crypto_profile import PROFILES, get_profile
from kiosk.provisioning import provision


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("provision", help="create the device key, register, pin the server "
                       "key and TLS certificate")
    p.add_argument("--server", required=True, help="platform URL, e.g. https://pay.hosp.cn")
    p.add_argument("--token", required=True, help="one-time enrolment token from the admin")
    p.add_argument("--name", help="this kiosk's name at the platform (default: hostname)")
    p.add_argument("--fingerprint", help="expected server key fingerprint (sha256:...)")
    p.add_argument("--tls-fingerprint", help="expected TLS certificate fingerprint "
                   "(sha256:..., `kiosk-server tls show`); needed only behind a TLS proxy")
    p.add_argument("--crypto-profile", choices=sorted(PROFILES), default=None,
                   help="ed25519 or gm (国密 SM2/SM3), as the platform's "
                   "(default: [server] crypto_profile)")
    p.add_argument("--rotate", action="store_true", help="make a new device key first")
    p.add_argument("--write-config", type=absolute_path, default=None,
                   help="config file to create/update (default: --config or kiosk.toml)")
    p.add_argument("--data-dir", type=absolute_path, default=None,
                   help="where keys and local data go (default: [paths] data_dir)")
    p.set_defaults(func=cmd_provision, creates_config=True)


def cmd_provision(args: argparse.Namespace, config: KioskConfig) -> int:
    target = args.write_config or (Path(config.source) if config.source else Path("kiosk.toml"))
    data_dir = (args.data_dir or config.paths.data_path()).resolve()
    profile = get_profile(args.crypto_profile or config.server.crypto_profile)
    done = provision(args.server, args.token, target, data_dir, name=args.name,
                     expect_fingerprint=args.fingerprint,
                     expect_tls_fingerprint=args.tls_fingerprint, rotate=args.rotate,
                     crypto_profile=profile.name)
    print(f"registered as {done.device_id} ({done.role}) at {done.site_name} [{done.site_id}]")
    print(f"pinned server key {profile.fingerprint_prefix}:{done.server_fingerprint}")
    print(f"pinned TLS certificate {done.tls_fingerprint}" if done.tls_fingerprint
          else "no TLS: plain HTTP to loopback")
    print(f"config written to {done.config_path}")
    return EXIT_OK
