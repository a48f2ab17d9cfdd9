"""The wire protocol shared by the kiosk and the platform (``server_stub``).

This package is the only code both sides import, so it depends on nothing but the standard
library, ``cryptography``, ``gmssl_pyx`` (SM2, for the 国密 profile), ``http_message_signatures``,
``http_sf``, ``requests`` and ``pydantic``:
importing it must never pull in numpy, OpenCV or the recognition engine. docs/protocol.md is
the human-readable contract; these modules are its executable form.
"""
