"""Liveness evaluation: APCER and BPCER (ISO/IEC 30107-3 terms) of the active check.

Attacks are presentations of REAL face photos (insightface's t1.jpg and Tom Hanks, scikit-
image's astronaut), printed on a sheet that an attacker holds, tilts, rotates, moves, bends or
shows on a screen; each frame is rendered through a pinhole camera and the landmarks are
re-detected by the real face engine, so detector behaviour is part of the attack. Bona fide
presentations are head turns of insightface's 3-D mean face (meanshape_68.pkl), projected at
known yaw/pitch with per-person shape variation and landmark noise; a second bona fide set
renders the real photos as 3-D reliefs turning like heads and re-detects them (the same
renders are what a 3-D mask is, which the check does not stop). Every presentation reacts to
the check's own prompt, frame by frame, as a person or an attacker at the kiosk would.

- ``render``: the camera, the 3-D mean face, the real photos, prints, screens, reliefs and
  the presenters (a synthetic head, a relief head, a photo attack) that draw each frame;
- ``evaluation``: one presentation against a fresh check (``present``), the whole run
  (``run_evaluation(seed, n)``), exact error bounds and the threshold sweep;
- ``cli``: ``python -m benchmarks.liveness`` and ``kiosk bench liveness`` (tables, JSON).
"""
