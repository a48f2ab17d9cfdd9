"""Device configuration: the ``[devices.*]`` tables of the kiosk's TOML file.

Same conventions as ``kiosk/config.py`` (whose loader maps the tables onto these frozen
dataclasses): safe defaults and ``validate() -> [(key, message)]``. Every driver
defaults to ``"none"`` (not configured): a terminal runs on the hardware IT names and nothing
else. The simulators (a synthetic or replayed camera, the simulated card reader, a printer
that writes ESC/POS files into a folder) are for demos and tests; ``simulated_defaults`` is
what ``[demo] simulated_devices = true`` fills in for a table the config leaves out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import zxingcpp

CAMERA_DRIVERS = ("none", "synthetic", "opencv", "file", "folder")
SCANNER_DRIVERS = ("none", "wedge", "serial", "camera")
CARD_DRIVERS = ("none", "simulated", "serial")
PRINTER_DRIVERS = ("none", "file", "serial", "network", "usb")
SPEAKER_DRIVERS = ("none", "aplay", "wav-dir")
FOURCCS = ("", "MJPG", "YUYV")
CARD_NO = re.compile(r"^[0-9A-Z]{6,32}$")  # insurance / social-security card numbers
# A vendor SDK plugs in as "python:package.module:ClassName" (see docs/devices.md).
PLUGIN_DRIVER = re.compile(r"^python:[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _one_of(key: str, value: str, allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    return [] if value in allowed else [(key, f"must be one of {', '.join(allowed)}")]


def _backoff_errors(initial_s: float, max_s: float, failed_after_s: float
                    ) -> list[tuple[str, str]]:
    errors = []
    if not 0 < initial_s <= max_s:
        errors.append(("reconnect_initial_s", "need 0 < reconnect_initial_s <= reconnect_max_s"))
    if max_s > 300:
        errors.append(("reconnect_max_s", "must be at most 300 s"))
    if failed_after_s < 0:
        errors.append(("failed_after_s", "must not be negative"))
    return errors


@dataclass(frozen=True)
class CameraConfig:
    driver: str = "none"
    device: str = "0"  # opencv: index, /dev/videoN, or an rtsp:// / http(s):// URL
    path: str = ""  # file: a video; folder: images; synthetic: a still ("" = bundled photo)
    width: int = 640
    height: int = 480
    fps: float = 15.0  # file driver: 0 = the file's own rate
    fourcc: str = ""  # "" (driver default), "MJPG" or "YUYV"
    mirror: bool = False
    loop: bool = True  # file/folder: start again at the end (demo replay)
    queue_size: int = 2  # frames buffered; older ones are dropped, never queued up
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 10.0
    failed_after_s: float = 3.0  # longer outages turn "degraded" into "failed"
    stale_after_s: float = 2.0  # connected but silent this long: degraded
    open_timeout_s: float = 5.0  # network streams

    def validate(self) -> list[tuple[str, str]]:
        errors = _one_of("driver", self.driver, CAMERA_DRIVERS)
        errors += _one_of("fourcc", self.fourcc, FOURCCS)
        if self.driver in ("file", "folder") and not self.path:
            errors.append(("path", f"is required for the {self.driver} driver"))
        if not (16 <= self.width <= 7680 and 16 <= self.height <= 4320):
            errors.append(("width", "width/height must be within 16x16 .. 7680x4320"))
        if not 0 <= self.fps <= 240 or (self.fps == 0 and self.driver != "file"):
            errors.append(("fps", "must be in (0, 240] (0 only for the file driver)"))
        if not 1 <= self.queue_size <= 64:
            errors.append(("queue_size", "must be between 1 and 64"))
        if self.open_timeout_s <= 0:
            errors.append(("open_timeout_s", "must be positive"))
        return errors + _backoff_errors(self.reconnect_initial_s, self.reconnect_max_s,
                                        self.failed_after_s)


@dataclass(frozen=True)
class ScannerConfig:
    driver: str = "none"
    port: str = ""  # serial: /dev/ttyACM0, COM3 or a pyserial URL
    baudrate: int = 9600
    max_key_interval_ms: int = 60  # wedge: slower keystrokes are a person typing
    min_length: int = 4
    max_length: int = 1024
    formats: str = "QRCode"  # camera: zxing-cpp format names, comma-separated
    decode_fps: float = 10.0  # camera: frames decoded per second (~2 ms each at 640x480)
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 10.0
    failed_after_s: float = 3.0

    def validate(self) -> list[tuple[str, str]]:
        errors = _one_of("driver", self.driver, SCANNER_DRIVERS)
        if self.driver == "serial" and not self.port:
            errors.append(("port", "is required for the serial driver"))
        if not 1 <= self.max_key_interval_ms <= 1000:
            errors.append(("max_key_interval_ms", "must be between 1 and 1000"))
        if not 1 <= self.min_length <= self.max_length <= 8192:
            errors.append(("min_length", "need 1 <= min_length <= max_length <= 8192"))
        if not 0 < self.decode_fps <= 60:
            errors.append(("decode_fps", "must be in (0, 60]"))
        try:
            zxingcpp.barcode_formats_from_str(self.formats)
        except ValueError:
            errors.append(("formats", "must be zxing-cpp format names, e.g. QRCode,Code128"))
        if self.baudrate <= 0:
            errors.append(("baudrate", "must be positive"))
        return errors + _backoff_errors(self.reconnect_initial_s, self.reconnect_max_s,
                                        self.failed_after_s)


@dataclass(frozen=True)
class CardReaderConfig:
    driver: str = "none"  # "serial", "simulated", or "python:module:Class" for a vendor SDK
    port: str = ""
    baudrate: int = 9600
    timeout_s: float = 5.0
    simulated_card_no: str = "SIM0000000000001"
    simulated_name: str = "张三"
    simulated_delay_s: float = 0.3

    def validate(self) -> list[tuple[str, str]]:
        errors = []
        if self.driver not in CARD_DRIVERS and not PLUGIN_DRIVER.match(self.driver):
            errors.append(("driver", f"must be one of {', '.join(CARD_DRIVERS)} "
                                     "or python:package.module:ClassName"))
        if self.driver == "serial" and not self.port:
            errors.append(("port", "is required for the serial driver"))
        if not 0 < self.timeout_s <= 120:
            errors.append(("timeout_s", "must be in (0, 120]"))
        if not CARD_NO.match(self.simulated_card_no):
            errors.append(("simulated_card_no", "must be 6-32 characters 0-9 / A-Z"))
        if not 0 <= self.simulated_delay_s <= 10:
            errors.append(("simulated_delay_s", "must be in [0, 10]"))
        if self.baudrate <= 0:
            errors.append(("baudrate", "must be positive"))
        return errors


@dataclass(frozen=True)
class PrinterConfig:
    driver: str = "none"
    path: str = ""  # file: a device node (/dev/usb/lp0) or a folder, one file a job
    port: str = ""  # serial
    baudrate: int = 9600
    host: str = ""  # network
    tcp_port: int = 9100
    usb_vendor_id: int = 0
    usb_product_id: int = 0
    timeout_s: float = 5.0
    profile: str = "default"  # python-escpos printer profile (paper width, QR, cutter)
    columns: int = 0  # characters per line; 0 = the profile's
    status_query: bool = True  # ask online/paper status (DLE EOT) where the link can answer
    spool_dir: str = ""  # every receipt, kept for reprint ("" = <data_dir>/receipts)
    keep_receipts: int = 500

    def validate(self) -> list[tuple[str, str]]:
        errors = _one_of("driver", self.driver, PRINTER_DRIVERS)
        required = {"file": "path", "serial": "port", "network": "host"}
        key = required.get(self.driver)
        if key and not getattr(self, key):
            errors.append((key, f"is required for the {self.driver} driver"))
        if self.driver == "usb" and not (self.usb_vendor_id and self.usb_product_id):
            errors.append(("usb_vendor_id", "usb_vendor_id and usb_product_id are required"))
        if not 0 < self.tcp_port < 65536:
            errors.append(("tcp_port", "must be a TCP port number"))
        if not 0 < self.timeout_s <= 120:
            errors.append(("timeout_s", "must be in (0, 120]"))
        if self.columns and not 16 <= self.columns <= 80:
            errors.append(("columns", "must be 0 (profile) or between 16 and 80"))
        if self.keep_receipts < 1:
            errors.append(("keep_receipts", "must be at least 1"))
        return errors


@dataclass(frozen=True)
class SpeakerConfig:
    """Spoken prompts: an offline TTS binary (espeak-ng) writes a WAV, ``aplay`` plays it on
    an ALSA device; ``wav-dir`` only keeps the WAVs in ``path`` (demo and tests)."""

    driver: str = "none"
    tts: str = "espeak-ng"  # the engine's binary (espeak-ng command-line compatible)
    # Debian's espeak-ng 1.51 "cmn" reads most characters as English-spelled pinyin;
    # "cmn-latn-pinyin" speaks them as Mandarin.
    zh_voice: str = "cmn-latn-pinyin"
    en_voice: str = "en-us"
    rate_wpm: int = 150  # a little slower than espeak-ng's 175 for patients
    player: str = "aplay"
    device: str = "default"  # aplay: ALSA PCM name (default, plughw:0,0, ...)
    path: str = ""  # wav-dir: the folder every spoken prompt is written to
    pace: bool = True  # wav-dir: take as long as the WAV lasts, as a real playback would
    timeout_s: float = 10.0  # synthesis of one prompt

    def validate(self) -> list[tuple[str, str]]:
        errors = _one_of("driver", self.driver, SPEAKER_DRIVERS)
        if self.driver == "wav-dir" and not self.path:
            errors.append(("path", "is required for the wav-dir driver"))
        for key in ("tts", "zh_voice", "en_voice", "player", "device"):
            if not getattr(self, key):
                errors.append((key, "must not be empty"))
        if not 80 <= self.rate_wpm <= 450:
            errors.append(("rate_wpm", "must be between 80 and 450 words per minute"))
        if not 0 < self.timeout_s <= 60:
            errors.append(("timeout_s", "must be in (0, 60]"))
        return errors


@dataclass(frozen=True)
class DevicesConfig:
    camera: CameraConfig = field(default_factory=CameraConfig)
    scanner: ScannerConfig = field(default_factory=ScannerConfig)
    card: CardReaderConfig = field(default_factory=CardReaderConfig)
    printer: PrinterConfig = field(default_factory=PrinterConfig)
    speaker: SpeakerConfig = field(default_factory=SpeakerConfig)


def simulated(device: str, driver: str, path: str = "") -> bool:
    """A demo source rather than hardware: a synthetic or replayed camera, the simulated card
    reader, a printer that writes into a folder, a speaker that only writes WAV files.
    Outside demo mode these are refused."""
    if device == "camera":
        return driver in ("synthetic", "file", "folder")
    if device == "card":
        return driver == "simulated"
    if device == "printer":
        return driver == "file" and not path.startswith("/dev/")
    if device == "speaker":
        return driver == "wav-dir"
    return False


def simulated_defaults(data_dir: str) -> dict[str, dict[str, str]]:
    """What ``[demo] simulated_devices = true`` fills in for each table the config omits."""
    return {"camera": {"driver": "synthetic"}, "scanner": {"driver": "wedge"},
            "card": {"driver": "simulated"},
            "printer": {"driver": "file", "path": f"{data_dir}/printer"},
            "speaker": {"driver": "wav-dir", "path": f"{data_dir}/voice"}}
