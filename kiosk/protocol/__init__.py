"""The wire protocol shared by the kiosk and the platform (``server_stub``).

This package is the only code both sides import, so it depends on nothing but the standard
library, ``cryptography``, ``http_message_signatures``, ``requests`` and ``pydantic``:
importing it must never pull in numpy, OpenCV or the recognition engine. docs/protocol.md is
the human-readable contract; these modules are its executable form.
"""
