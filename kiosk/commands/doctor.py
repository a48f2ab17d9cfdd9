"""``kiosk doctor``: one PASS/WARN/FAIL line per thing IT must get right on a terminal —
config, models, CJK font, the pinned TLS certificate, keys and the platform, clock, outbox
backlog, devices."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.commands.output import EXIT_OK, EXIT_SETUP, emit_json
from kiosk.config import KioskConfig

CAMERA_FIRST_FRAME_S = 3.0  # a USB camera opens well within this; a dead one never does


@dataclass(frozen=True)
class Finding:
    status: str  # PASS | WARN | FAIL
    item: str
    detail: str


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check this terminal: config, models, font, platform...")
    p.add_argument("--json", action="store_true")
    p.add_argument("--offline", action="store_true", help="skip the platform checks")
    p.set_defaults(func=cmd_doctor)


def _models(config: KioskConfig) -> Finding:
    from kiosk.recognition.manifest import get_pack
    from kiosk.recognition.store import resolve_file

    manifest = get_pack(config.models.pack)
    for spec in manifest.files.values():
        resolve_file(manifest, spec, config.models.store_path())
    licence = "" if manifest.commercial_use else " (NON-COMMERCIAL RESEARCH ONLY: not for payments)"
    status = "PASS" if manifest.commercial_use else "WARN"
    return Finding(status, "models", f"pack {manifest.id} installed, SHA-256 verified{licence}")


def _font(config: KioskConfig) -> Finding:
    """The face receipts and screens use, measured as Simplified Chinese (common.fonts)."""
    from common.fonts import cjk_font

    face = cjk_font()  # FontMissing (font.cjk_missing) unless a face measures as SC
    return Finding("PASS", "font", f"Simplified Chinese renders with {face.family} "
                   f"({face.path.name}, face {face.index})")


def _platform(config: KioskConfig) -> Finding:
    from kiosk.protocol import schemas
    from kiosk.provisioning import connect

    client = connect(config)
    started = time.time()
    client.request("GET", "/v1/gallery", params={"pack": config.models.pack, "cursor": 0,
                                                 "limit": 1})
    rtt_ms = (time.time() - started) * 1000
    sent = time.time()
    health = client.request("GET", "/v1/health", model=schemas.Health)
    offset = (sent + time.time()) / 2 - health.time.timestamp()
    window = health.skew_window_s
    status = "PASS" if abs(offset) <= window / 2 else "WARN"
    corrected = " — requests are signed with platform time; set the clock (NTP)" \
        if abs(offset) > window / 2 else ""
    return Finding(status, "platform", f"{client.base_url} accepts {config.site.kiosk_id} "
                   f"(crypto profile {config.server.crypto_profile}, {rtt_ms:.0f} ms); "
                   f"clock {offset:+.1f} s from platform time "
                   f"(window ±{window} s, warning past ±{window // 2} s){corrected}")


def _tls(config: KioskConfig, online: bool = True) -> Finding:
    """The pinned platform certificate, compared with the one the platform presents."""
    from kiosk.commands.tls import pin_status

    status, detail = pin_status(config, online=online)
    return Finding(status, "tls", detail)


def _tls_pin(config: KioskConfig) -> Finding:
    """Offline: only what is pinned."""
    return _tls(config, online=False)


def _outbox(config: KioskConfig) -> Finding:
    from kiosk.settlement.outbox import Outbox, RowState

    path = config.paths.data_path() / "outbox.db"
    if not path.exists():
        return Finding("PASS", "outbox", "empty (no settlement waiting)")
    box = Outbox(path)
    try:
        pending, expired = box.pending(), box.rows(RowState.EXPIRED)
    finally:
        box.close()
    if expired:
        return Finding("WARN", "outbox", f"{len(expired)} settlement(s) too old to send "
                       "again: see `kiosk outbox list --state expired` and the cashier")
    if not pending:
        return Finding("PASS", "outbox", "no settlement waiting")
    age_h = (time.time() - min(i.created_at for i in pending)) / 3600
    total = sum(i.amount_fen for i in pending)
    return Finding("WARN", "outbox", f"{len(pending)} settlement(s) waiting, "
                   f"{total // 100}.{total % 100:02d} yuan, oldest {age_h:.1f} h")


def _devices(config: KioskConfig) -> list[Finding]:
    """FAIL for a device not configured, a simulator outside demo mode, and a camera that
    delivers no frame: each leaves a patient without a way to pay at this terminal."""
    from device.config import simulated
    from device.devices import DeviceSet

    findings = []
    with DeviceSet(config.devices) as devices:
        frame = devices.camera.latest(timeout=CAMERA_FIRST_FRAME_S)
        devices.printer.check()
        for name, health in devices.health().items():
            status = {"ok": "PASS", "degraded": "WARN"}.get(health.state.value, "FAIL")
            detail = f"{health.reason}: {health.message}" if health.message else health.reason
            section = getattr(config.devices, name)
            if name == "camera" and frame is None and status != "FAIL":
                status, detail = "FAIL", (f"camera.no_frames: no frame within "
                                          f"{CAMERA_FIRST_FRAME_S:.0f} s ({detail})")
            if simulated(name, section.driver, getattr(section, "path", "")) \
                    and not config.demo.simulated_devices:
                status, detail = "FAIL", (f"{name}.simulated: driver {section.driver!r} is a "
                                          "simulator; name the real device, or set [demo] "
                                          "simulated_devices = true on a demo terminal")
            findings.append(Finding(status, name, detail))
    return findings


def cmd_doctor(args: argparse.Namespace, config: KioskConfig) -> int:
    checks: list[Callable[[KioskConfig], Finding | list[Finding]]] = [_models, _font]
    checks.append(_tls_pin if args.offline else _tls)
    if not args.offline:
        checks.append(_platform)
    checks += [_outbox, _devices]
    mode = " (demo mode: simulators allowed)" if config.demo.simulated_devices else ""
    findings: list[Finding] = [Finding("PASS", "config",
                                       (config.source or "built-in defaults") + mode)]
    for check in checks:
        try:
            found = check(config)
        except Exception as exc:  # each check reports its own failure, the others still run
            code = getattr(exc, "code", type(exc).__name__)
            found = Finding("FAIL", check.__name__.strip("_"), f"{code}: {exc}")
        findings += found if isinstance(found, list) else [found]
    for f in findings:
        if args.json:
            emit_json({"status": f.status, "item": f.item, "detail": f.detail})
        else:
            print(f"{f.status:4s} {f.item:9s} {f.detail}")
    return EXIT_SETUP if any(f.status == "FAIL" for f in findings) else EXIT_OK
