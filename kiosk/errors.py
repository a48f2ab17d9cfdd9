"""Error types with stable codes.

Every error the kiosk reports to a person, a log or a caller carries a dotted ``code`` that
never changes meaning once released; messages may be reworded, codes may not.
"""

from __future__ import annotations

from typing import Any


class KioskError(Exception):
    """Base of all kiosk errors. ``context`` holds safe, loggable details (no PII)."""

    code = "kiosk.error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.context}


class ConfigError(KioskError):
    code = "config.invalid"


class SimulatedDeviceError(ConfigError):
    """A simulator named outside demo mode (see ``kiosk.config.require_real_devices``)."""

    code = "config.simulated_device"


class ImageError(KioskError):
    """An input image that cannot be used; ``code`` says why."""

    code = "image.invalid"

    def __init__(self, code: str, message: str, **context: Any) -> None:
        super().__init__(message, **context)
        self.code = code


class ModelError(KioskError):
    code = "model.error"


class ModelMissing(ModelError):
    code = "model.missing"


class ModelDigestMismatch(ModelError):
    code = "model.digest_mismatch"


class ModelInstallError(ModelError):
    code = "model.install_failed"


class ManifestError(ModelError):
    code = "model.manifest_invalid"


class TemplateError(KioskError):
    code = "template.invalid"


class PackMismatch(TemplateError):
    """Templates made by different model packs live in different spaces: never compare them."""

    code = "template.pack_mismatch"


class FaceNotUsable(KioskError):
    """No single usable face in the image; ``reasons`` are quality codes a person can act on."""

    code = "face.not_usable"

    def __init__(self, message: str, reasons: list[str], **context: Any) -> None:
        super().__init__(message, reasons=reasons, **context)
        self.reasons = reasons
        if reasons:
            self.code = f"face.{reasons[0]}"
