"""The kiosk's one configuration: a TOML file mapped onto typed, frozen dataclasses.

Every section is a dataclass with safe defaults, so an empty file is a valid config: one that
names no device (each is "not configured" until IT names its driver; simulators only with
``[demo] simulated_devices = true``). Unknown keys, wrong types and out-of-range values are
errors that name the file, the line and the key, because IT edits these files by hand (the
loader, ``common.config_loader``, is the platform's too). Every threshold lives here, the
liveness ones included, so ``kiosk.recognition`` and ``kiosk.liveness`` import their settings
from this module and it imports neither.

Relative paths in a file are taken relative to that file's folder (relative defaults: to the
working directory at load time) and stored absolute, so no subprocess or later ``chdir`` can
change what they mean.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.config_loader import ConfigError, load_file, load_text
from common.paths import absolute_path
from device.config import DevicesConfig, simulated, simulated_defaults
from kiosk.errors import SimulatedDeviceError
from kiosk.protocol.crypto_profile import PROFILES
from kiosk.protocol.transport import insecure_url_reason, normalise_fingerprint
from models import default_store


@dataclass(frozen=True)
class ModelsConfig:
    pack: str = "opencv-zoo-sface"
    store: str = ""  # empty: $KIOSK_MODELS_DIR or models/store
    threads: int = 2

    def store_path(self) -> Path:
        return Path(self.store) if self.store else default_store()

    def validate(self) -> list[tuple[str, str]]:
        return [("threads", "must be between 1 and 64")] if not 1 <= self.threads <= 64 else []


@dataclass(frozen=True)
class QualityConfig:
    """Quality gate thresholds; every failure maps to guidance a patient can act on."""

    min_face_px: int = 64  # face box height below this: too far
    min_interocular_px: float = 24.0
    max_face_fraction: float = 0.85  # face box height over frame height: too close
    edge_margin_px: int = 2  # box this close to the frame border: cut off
    max_yaw_deg: float = 25.0
    max_pitch_deg: float = 25.0
    min_sharpness: float = 25.0  # variance of the Laplacian on the aligned grey crop
    min_brightness: float = 45.0  # mean grey level of the aligned crop (0-255)
    max_brightness: float = 215.0
    crowd_area_ratio: float = 0.25  # another face at least this fraction of the largest

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if not 0 <= self.min_brightness < self.max_brightness <= 255:
            errors.append(("min_brightness", "need 0 <= min_brightness < max_brightness <= 255"))
        if not 0 < self.max_face_fraction <= 1:
            errors.append(("max_face_fraction", "must be in (0, 1]"))
        if not 0 < self.crowd_area_ratio <= 1:
            errors.append(("crowd_area_ratio", "must be in (0, 1]"))
        return errors


@dataclass(frozen=True)
class MatchConfig:
    """Overrides of the pack's calibrated thresholds (0 = use the pack manifest's)."""

    threshold: float = 0.0
    candidate_threshold: float = 0.0
    margin: float = -1.0  # negative: use the pack's
    top_k: int = 5

    def resolved(self, match: float, candidate: float, margin: float) -> MatchConfig:
        """The values in force: these overrides over the pack's ``match``/``candidate``/
        ``margin``, so the engine and ``kiosk config show`` cannot disagree."""
        return dataclasses.replace(
            self, threshold=self.threshold or match,
            candidate_threshold=self.candidate_threshold or candidate,
            margin=margin if self.margin < 0 else self.margin)

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if not -1 <= self.threshold <= 1:
            errors.append(("threshold", "must be a cosine similarity in [-1, 1]"))
        if self.top_k < 1:
            errors.append(("top_k", "must be at least 1"))
        return errors


@dataclass(frozen=True)
class RecognitionConfig:
    quality: QualityConfig = field(default_factory=QualityConfig)
    match: MatchConfig = field(default_factory=MatchConfig)
    # Smallest face (box height, frame px) YuNet must still find: it runs on the frame shrunk
    # so such a face arrives at 20 px (40: a 640x480 frame at 320x240, detection 2-2.5x
    # cheaper) and faces are aligned and embedded from the full frame; 0: the frame's own
    # resolution. Keep it under quality.min_face_px so a face too small to use is still seen
    # and told to come closer (too_far). Measured (benchmarks/recognition.py): matching is
    # as good at 40 as at 0, and a gallery enrolled at one setting matches probes taken at
    # the other (README "Speed").
    detect_min_face_px: int = 40

    def validate(self) -> list[tuple[str, str]]:
        if self.detect_min_face_px and not (
            20 <= self.detect_min_face_px <= self.quality.min_face_px
        ):
            return [("detect_min_face_px", "must be 0 or between 20 and quality.min_face_px")]
        return []


LIVENESS_POLICIES = ("off", "active", "model")


@dataclass(frozen=True)
class LivenessConfig:
    """The ``[liveness]`` section (``kiosk.liveness``): production-safe defaults (policy
    ``active``); every threshold was chosen with ``python -m benchmarks.liveness`` and is
    explained in docs/liveness.md."""

    # off: demo only (the screen says so); active: head-turn challenge; model: a PAD ONNX
    policy: str = "active"
    max_duration_s: float = 12.0  # the whole check, first frame to verdict
    max_gap_s: float = 0.6  # face out of view longer than this during the turn fails
    # frontal reference
    frontal_max_yaw_deg: float = 12.0
    reference_frames: int = 3
    # the challenge
    min_turn_deg: float = 12.0  # turn from the reference (pose or nose parallax) that counts
    max_turn_deg: float = 45.0  # beyond this landmarks are unreliable; such frames are skipped
    wrong_direction_deg: float = 12.0  # yaw change the wrong way that fails the check
    min_response_s: float = 0.25  # a turn completed sooner than a person can react
    turn_timeout_s: float = 6.0  # from the prompt to the first turned frame
    turned_frames: int = 3
    # geometry (units: inter-ocular distances of the turned frame)
    min_parallax: float = 0.07  # median nose residual off the eyes/mouth homography
    min_texture_parallax: float = 0.03  # tracked skin points off their best plane (median)
    texture_check: bool = True  # false: landmarks alone (tests, tools; 3-5 % of prints pass)
    # passive cues
    min_identity_similarity: float = 0.30  # cosine, template vs the first one (SFace pack)
    screen_check: bool = True
    max_moire: float = 12.0  # spectral peak-to-background ratio of the face crop
    max_glare: float = 0.08  # fraction of the face box that is clipped, colourless highlight
    screen_frames: int = 3  # frames that must show a screen cue before it fails the check
    # policy "model"
    model_manifest: str = ""  # PAD manifest TOML; its file path is relative to the models store
    model_frames: int = 3  # frames scored; their mean live score is compared with the threshold
    model_requires_turn: bool = True  # false: the model alone decides (no head turn asked)

    def validate(self) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        if self.policy not in LIVENESS_POLICIES:
            errors.append(("policy", f"must be one of {', '.join(LIVENESS_POLICIES)}"))
        if self.policy == "model" and not self.model_manifest:
            errors.append(("model_manifest", "policy 'model' needs the PAD model's manifest"))
        positive = ("max_duration_s", "max_gap_s", "turn_timeout_s")
        errors += [(name, "must be positive") for name in positive if getattr(self, name) <= 0]
        if not 0 <= self.min_response_s < self.turn_timeout_s:
            errors.append(("min_response_s", "need 0 <= min_response_s < turn_timeout_s"))
        if not 0 < self.frontal_max_yaw_deg <= 30:
            errors.append(("frontal_max_yaw_deg", "must be in (0, 30] degrees"))
        if not 0 < self.min_turn_deg < self.max_turn_deg <= 60:
            errors.append(("min_turn_deg", "need 0 < min_turn_deg < max_turn_deg <= 60"))
        if self.wrong_direction_deg <= 0:
            errors.append(("wrong_direction_deg", "must be positive"))
        counts = ("reference_frames", "turned_frames", "screen_frames", "model_frames")
        errors += [(name, "must be between 1 and 30") for name in counts
                   if not 1 <= getattr(self, name) <= 30]
        if not 0 <= self.min_parallax < 1:
            errors.append(("min_parallax", "must be in [0, 1) inter-ocular distances"))
        if not 0 <= self.min_texture_parallax < 1:
            errors.append(("min_texture_parallax", "must be in [0, 1) inter-ocular distances"))
        if not -1 <= self.min_identity_similarity <= 1:
            errors.append(("min_identity_similarity", "must be a cosine similarity in [-1, 1]"))
        if self.max_moire <= 1:
            errors.append(("max_moire", "must be above 1 (a peak-to-background ratio)"))
        if not 0 < self.max_glare <= 1:
            errors.append(("max_glare", "must be a fraction in (0, 1]"))
        return errors


DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class SiteConfig:
    id: str = ""  # the hospital site this kiosk belongs to (set by provisioning)
    name: str = ""
    kiosk_id: str = ""  # this device's id at the backend (set by provisioning)
    kiosk_name: str = ""  # where staff find it, e.g. "门诊一楼 2号机" (set by provisioning)
    # IANA zone of every time a patient or cashier reads (receipts, screens, the counter):
    # the hospital's, not the machine's TZ and not UTC; the platform's [server] timezone
    timezone: str = DEFAULT_TIMEZONE
    # how a patient repays credit, printed under the due date (what the site really offers)
    repay_hint_zh: str = "请在到期日前到人工收费窗口还款"
    repay_hint_en: str = "Repay at the cashier counter by the due date"

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        try:
            self.zone()
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(("timezone", f"unknown time zone {self.timezone!r}: use an IANA "
                           "name such as 'Asia/Shanghai'"))
        for name in ("repay_hint_zh", "repay_hint_en"):
            text = getattr(self, name)
            if not 1 <= len(text.strip()) <= 64 or not text.isprintable():
                errors.append((name, "must be 1-64 printable characters (one receipt line)"))
        return errors


@dataclass(frozen=True)
class PlatformLinkConfig:
    """The ``[server]`` section: the platform this kiosk talks to and how (not the platform's
    own config, ``server_stub.config.ServerConfig``)."""

    # the platform; a list for a platform of several hosts (tried in order, kiosk/client.py)
    url: str | tuple[str, ...] = "http://127.0.0.1:8600"
    server_key: str = ""  # pinned server public key file (set by provisioning)
    server_key_fingerprint: str = ""  # "sha256:<hex>" ("sm3:<hex>" under gm) of that key
    # "ed25519" or "gm" (国密: SM2/SM3), as the platform's security.crypto_profile (protocol §2.1)
    crypto_profile: str = "ed25519"
    # "sha256:<hex>" of the platform's TLS certificate, pinned with the key (kiosk.transport)
    tls_fingerprint: str = ""
    device_key: str = ""  # this kiosk's private key file of that profile (mode 0600)
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    sync_interval_s: float = 60.0
    heartbeat_s: float = 60.0  # signed health report to the platform's fleet view

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if not self.urls:
            errors.append(("url", "must name at least one platform URL"))
        for url in self.urls:
            insecure = insecure_url_reason(url)
            if insecure is not None:
                errors.append(("url", insecure))
        if self.crypto_profile not in PROFILES:
            errors.append(("crypto_profile", f"must be one of {', '.join(PROFILES)}"))
        if self.tls_fingerprint:
            try:
                normalise_fingerprint(self.tls_fingerprint)
            except ValueError as exc:
                errors.append(("tls_fingerprint", str(exc)))
        if not 0 < self.connect_timeout_s <= 60:
            errors.append(("connect_timeout_s", "must be in (0, 60] seconds"))
        if not 0 < self.read_timeout_s <= 120:
            errors.append(("read_timeout_s", "must be in (0, 120] seconds"))
        if self.sync_interval_s < 5:
            errors.append(("sync_interval_s", "must be at least 5 seconds"))
        if not 1 <= self.heartbeat_s <= 3600:
            errors.append(("heartbeat_s", "must be 1-3600 seconds"))
        return errors

    @property
    def urls(self) -> tuple[str, ...]:
        """Every platform host, in the order they are tried."""
        return (self.url,) if isinstance(self.url, str) else self.url


@dataclass(frozen=True)
class FlowConfig:
    """Checkout timings and policy. Every state times out; personal data never outlives
    ``personal_data_ttl_s`` of inactivity (no face in view, no touch)."""

    searching_timeout_s: float = 30.0
    review_timeout_s: float = 60.0
    second_factor_timeout_s: float = 45.0
    settling_timeout_s: float = 20.0
    result_display_s: float = 12.0
    fallback_display_s: float = 20.0
    personal_data_ttl_s: float = 30.0
    no_match_frames: int = 4  # usable frames with no match before trying again
    face_retries: int = 1  # after a non-match or a failed head turn, before the hand-off
    second_factor_amount_fen: int = 50_000  # self-pay at or above this asks the phone digits
    second_factor_gallery_size: int = 1_000  # galleries larger than this always ask
    second_factor_attempts: int = 3
    elderly_time_factor: float = 1.5  # elderly mode: every timeout multiplied by this

    def validate(self) -> list[tuple[str, str]]:
        timeouts = ("searching_timeout_s", "review_timeout_s", "second_factor_timeout_s",
                    "settling_timeout_s", "result_display_s", "fallback_display_s",
                    "personal_data_ttl_s")
        errors = [(name, "must be positive") for name in timeouts if getattr(self, name) <= 0]
        if self.personal_data_ttl_s > 120:
            errors.append(("personal_data_ttl_s", "must be at most 120 seconds"))
        if self.second_factor_amount_fen < 0:
            errors.append(("second_factor_amount_fen", "must not be negative (integer fen)"))
        if not 1 <= self.second_factor_attempts <= 10:
            errors.append(("second_factor_attempts", "must be between 1 and 10"))
        if self.no_match_frames < 1:
            errors.append(("no_match_frames", "must be at least 1"))
        if not 0 <= self.face_retries <= 3:
            errors.append(("face_retries", "must be between 0 and 3"))
        if not 1.0 <= self.elderly_time_factor <= 4.0:
            errors.append(("elderly_time_factor", "must be between 1 and 4"))
        return errors


@dataclass(frozen=True)
class OfflineConfig:
    """What to do when the backend is unreachable, as card terminals do: refuse (hand the
    patient to the cashier) or accept into the outbox under limits and print "pending"."""

    policy: str = "refuse"
    max_amount_fen: int = 20_000
    max_total_fen: int = 100_000
    max_count: int = 20
    max_age_s: int = 24 * 3600

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if self.policy not in ("refuse", "accept"):
            errors.append(("policy", "must be 'refuse' or 'accept'"))
        for name in ("max_amount_fen", "max_total_fen", "max_count", "max_age_s"):
            if getattr(self, name) < 0:
                errors.append((name, "must not be negative"))
        if self.max_amount_fen > self.max_total_fen:
            errors.append(("max_amount_fen", "must not exceed max_total_fen"))
        return errors


@dataclass(frozen=True)
class CashierConfig:
    """The cashier console on a counter device."""

    pin_hash: str = ""  # scrypt hash from `python -m ui pin-hash`; empty: console refuses
    idle_lock_s: float = 120.0  # the console locks itself after this long untouched

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if self.pin_hash and not self.pin_hash.startswith("scrypt$"):
            errors.append(("pin_hash", "must be made by `python -m ui pin-hash`"))
        if not 10 <= self.idle_lock_s <= 3600:
            errors.append(("idle_lock_s", "must be between 10 and 3600 seconds"))
        return errors


@dataclass(frozen=True)
class PathsConfig:
    data_dir: str = "var/kiosk"  # outbox, gallery, audit log, keys, logs

    def data_path(self) -> Path:
        return Path(self.data_dir)

    def log_path(self) -> Path:
        return self.data_path() / "logs"


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class LoggingConfig:
    """JSON lines to stderr and to <data_dir>/logs/<program>.jsonl (see common.logs)."""

    level: str = "INFO"

    def validate(self) -> list[tuple[str, str]]:
        return [] if self.level.upper() in LOG_LEVELS else [
            ("level", f"must be one of {', '.join(LOG_LEVELS)}")]


@dataclass(frozen=True)
class VoiceConfig:
    """Spoken prompts (``kiosk.voice``) through ``[devices.speaker]``."""

    enabled: bool = True
    volume: int = 80  # 0-100; 100 is the TTS engine's normal level
    mute: bool = False  # keep the player running but speak nothing

    def validate(self) -> list[tuple[str, str]]:
        return [] if 0 <= self.volume <= 100 else [("volume", "must be between 0 and 100")]


@dataclass(frozen=True)
class DemoConfig:
    """Demo and test terminals only: simulators stand in for every device not configured."""

    simulated_devices: bool = False


@dataclass(frozen=True)
class KioskConfig:
    site: SiteConfig = field(default_factory=SiteConfig)
    server: PlatformLinkConfig = field(default_factory=PlatformLinkConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    recognition: RecognitionConfig = field(default_factory=RecognitionConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    offline: OfflineConfig = field(default_factory=OfflineConfig)
    liveness: LivenessConfig = field(default_factory=LivenessConfig)
    devices: DevicesConfig = field(default_factory=DevicesConfig)
    cashier: CashierConfig = field(default_factory=CashierConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)
    source: str = ""  # the file it was loaded from, for messages


def default_config_path() -> Path | None:
    env = os.environ.get("KIOSK_CONFIG")
    return absolute_path(env) if env else None


def load_config(path: str | Path | None = None, *, missing_ok: bool = False) -> KioskConfig:
    """Load and validate a config file; ``None`` means $KIOSK_CONFIG, else all defaults.
    ``missing_ok``: a file that does not exist yet is the defaults, to be written there
    (``kiosk provision`` creating a terminal's first config)."""
    path = absolute_path(path) if path is not None else default_config_path()
    if path is None:
        return absolute_paths(KioskConfig(), Path.cwd())
    if missing_ok and not path.exists():
        return absolute_paths(KioskConfig(source=str(path)), path.parent)
    config = load_file(path, KioskConfig(), ConfigError, _fill_simulated_devices)
    return absolute_paths(config, path.parent)


def parse_config(text: str, name: str = "<config>", base: Path | None = None) -> KioskConfig:
    """``base``: the folder relative paths are taken from (default: the working directory)."""
    config = load_text(text, name, KioskConfig(), ConfigError, _fill_simulated_devices)
    return absolute_paths(config, base or Path.cwd())


def require_real_devices(config: KioskConfig) -> None:
    """Refuse to run a patient-facing or enrolling app on a simulator outside demo mode: a
    kiosk "recognising" a bundled photo, or a counter enrolling it, is worse than no kiosk."""
    fake = [f"devices.{name}.driver = {section.driver!r}"
            for name, section in vars(config.devices).items()
            if simulated(name, section.driver, getattr(section, "path", ""))]
    if fake and not config.demo.simulated_devices:
        raise SimulatedDeviceError(
            f"{config.source or 'config'}: {', '.join(fake)} "
            f"{'is a simulator' if len(fake) == 1 else 'are simulators'}; name the real "
            "device, or set [demo] simulated_devices = true on a demo terminal")


def _fill_simulated_devices(data: dict[str, Any]) -> None:
    demo = data.get("demo")
    if not (isinstance(demo, dict) and demo.get("simulated_devices") is True):
        return
    devices = data.setdefault("devices", {})
    if not isinstance(devices, dict):
        return  # the loader names the error
    paths = data.get("paths")
    data_dir = paths.get("data_dir") if isinstance(paths, dict) else None
    for device, table in simulated_defaults(data_dir or PathsConfig.data_dir).items():
        devices.setdefault(device, table)


def absolute_paths(config: KioskConfig, base: Path) -> KioskConfig:
    """Every path in ``config`` made absolute against ``base``; an empty receipt spool
    becomes ``<data_dir>/receipts``."""
    def absolute(value: str) -> str:
        return str(absolute_path(base / Path(value).expanduser())) if value else value

    data_dir = absolute(config.paths.data_dir)
    devices = config.devices
    camera = devices.camera
    if camera.driver in ("file", "folder", "synthetic"):
        camera = dataclasses.replace(camera, path=absolute(camera.path))
    printer = devices.printer
    printer = dataclasses.replace(
        printer, path=absolute(printer.path),
        spool_dir=absolute(printer.spool_dir) or str(Path(data_dir) / "receipts"))
    speaker = dataclasses.replace(devices.speaker, path=absolute(devices.speaker.path))
    liveness = config.liveness
    if liveness.model_manifest:
        liveness = dataclasses.replace(liveness, model_manifest=absolute(liveness.model_manifest))
    return dataclasses.replace(
        config, paths=dataclasses.replace(config.paths, data_dir=data_dir),
        models=dataclasses.replace(config.models, store=absolute(config.models.store)),
        devices=dataclasses.replace(devices, camera=camera, printer=printer, speaker=speaker),
        liveness=liveness)
