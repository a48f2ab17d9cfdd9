"""The demo: a local platform process, a seeded hospital, enrolled faces, and a checkout."""
