"""The platform the kiosks settle against (人脸识别信用医疗无感支付云平台), for development,
tests, demos and pilots: persistent, signed, idempotent. Shares only ``kiosk.protocol``."""

__version__ = "0.1.0"
