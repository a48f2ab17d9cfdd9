"""The platform: the city platform service the kiosks and counters settle against
(人脸识别信用医疗无感支付云平台) — persistent, signed, idempotent, on SQLite or PostgreSQL.

The package is named ``server_stub`` because the product specification fixes that name; it is
not a stub. From the kiosk side it imports only the shared ``kiosk.protocol`` and ``common``.
Layout: ``api`` assembles the app from ``routes`` (one router per resource) behind ``edge``
(signatures, nonces); ``state`` holds a running platform; ``records`` who and what it knows;
``db`` the schema, ``storage`` transactions, ``writer`` group commit.
"""

__version__ = "0.1.0"
