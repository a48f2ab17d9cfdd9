"""Helpers shared by the kiosk side and the platform that are neither hardware nor protocol:
path handling, structured logging, masking of personal data. Imports nothing of the project."""
