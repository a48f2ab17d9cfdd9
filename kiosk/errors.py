"""The kiosk's error types: ``CodedError`` subclasses whose ``code`` is a registry member
(``common.errors.ErrorCode``), so a person, a log or a caller always gets a stable code.
"""

from __future__ import annotations

from typing import Any

from common.config_loader import ConfigError
from common.errors import CodedError, ErrorCode


class KioskError(CodedError):
    """Base of all kiosk errors. ``context`` holds safe, loggable details (no PII)."""

    code = ErrorCode.KIOSK_ERROR


class SimulatedDeviceError(ConfigError):
    """A simulator named outside demo mode (see ``kiosk.config.require_real_devices``)."""

    code = ErrorCode.CONFIG_SIMULATED_DEVICE


class ImageError(KioskError):
    """An input image that cannot be used; ``code`` says why."""

    code = ErrorCode.IMAGE_INVALID

    def __init__(self, code: ErrorCode, message: str, **context: Any) -> None:
        super().__init__(message, **context)
        self.code = code


class ModelError(KioskError):
    code = ErrorCode.MODEL_ERROR


class ModelMissing(ModelError):
    code = ErrorCode.MODEL_MISSING


class ModelDigestMismatch(ModelError):
    code = ErrorCode.MODEL_DIGEST_MISMATCH


class ModelInstallError(ModelError):
    code = ErrorCode.MODEL_INSTALL_FAILED


class ManifestError(ModelError):
    code = ErrorCode.MODEL_MANIFEST_INVALID


class TemplateError(KioskError):
    code = ErrorCode.TEMPLATE_INVALID


class PackMismatch(TemplateError):
    """Templates made by different model packs live in different spaces: never compare them."""

    code = ErrorCode.TEMPLATE_PACK_MISMATCH


class FaceNotUsable(KioskError):
    """No single usable face in the image; ``reasons`` are quality codes a person can act on,
    and ``code`` is the first one's ``face.<reason>``."""

    code = ErrorCode.FACE_NOT_USABLE

    def __init__(self, message: str, reasons: list[str], **context: Any) -> None:
        super().__init__(message, reasons=reasons, **context)
        self.reasons = reasons
        if reasons:
            self.code = ErrorCode(f"face.{reasons[0]}")
