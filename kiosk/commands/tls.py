"""``kiosk tls``: the platform certificate this terminal pins — show it against what the
platform presents now, and re-pin after IT rotated it (``docs/protocol.md`` §1.1)."""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from kiosk.commands.output import EXIT_OK, EXIT_SETUP, emit_json
from kiosk.config import KioskConfig
from kiosk.protocol.transport import normalise_fingerprint
from kiosk.transport import peer_fingerprint


def register(sub: argparse._SubParsersAction) -> None:
    tls = sub.add_parser("tls", help="the platform's pinned TLS certificate").add_subparsers(
        dest="sub", required=True)
    p = tls.add_parser("show", help="the pin, and whether the platform presents it")
    p.add_argument("--offline", action="store_true", help="do not contact the platform")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = tls.add_parser("repin", help="pin the certificate the platform serves now, if its "
                       "answer signed with the pinned server key names it")
    p.add_argument("--tls-fingerprint", help="expected new fingerprint (sha256:...)")
    p.set_defaults(func=cmd_repin)


def pin_status(config: KioskConfig, *, online: bool) -> tuple[str, str]:
    """(PASS|FAIL, what IT reads) for the transport to the platform: plain HTTP on loopback,
    or the pinned certificate compared with the one each platform host presents now."""
    s = config.server
    secure = [u for u in s.urls if urlsplit(u).scheme == "https"]
    if not secure:
        return "PASS", f"{', '.join(s.urls)}: plain HTTP to loopback, nothing to pin"
    if not s.tls_fingerprint:
        return "FAIL", f"{secure[0]}: no TLS certificate pinned: run `kiosk provision`"
    pinned = normalise_fingerprint(s.tls_fingerprint)
    if not online:
        return "PASS", f"{', '.join(secure)}: certificate pinned {pinned}"
    for url in secure:
        try:
            seen = peer_fingerprint(url, s.connect_timeout_s)
        except OSError as exc:
            return "FAIL", f"{url}: no TLS answer ({exc}); pinned {pinned}"
        if seen != pinned:
            return "FAIL", (f"client.tls_pin_mismatch: {url} presents {seen}, pinned "
                            f"{pinned}: after a certificate rotation run `kiosk tls repin`")
    return "PASS", f"{', '.join(secure)}: presents the pinned certificate {pinned}"


def cmd_show(args: argparse.Namespace, config: KioskConfig) -> int:
    status, detail = pin_status(config, online=not args.offline)
    if args.json:
        emit_json({"status": status, "item": "tls", "detail": detail})
    else:
        print(f"{status:4s} tls       {detail}")
    return EXIT_OK if status != "FAIL" else EXIT_SETUP


def cmd_repin(args: argparse.Namespace, config: KioskConfig) -> int:
    from kiosk.provisioning import repin

    pin = repin(config, expect_tls_fingerprint=args.tls_fingerprint,
                timeout_s=config.server.read_timeout_s)
    print(f"pinned TLS certificate {pin}")
    print(f"config written to {config.source}")
    return EXIT_OK
