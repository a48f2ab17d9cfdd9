"""Cameras: one ``FrameSource`` over interchangeable grabbers, chosen by ``[devices.camera]``."""

from __future__ import annotations

from device.camera.frame import Frame
from device.camera.grabbers import Grabber, ImageFolderGrabber, OpenCVGrabber, VideoFileGrabber
from device.camera.source import FrameSource
from device.camera.synthetic import SyntheticGrabber
from device.config import CameraConfig
from device.errors import DeviceConfigError
from device.health import EventSink

__all__ = ["Frame", "FrameSource", "camera_from_config", "grabber_from_config"]


def grabber_from_config(config: CameraConfig) -> Grabber:
    if config.driver == "opencv":
        return OpenCVGrabber(config.device, width=config.width, height=config.height,
                             fps=config.fps, fourcc=config.fourcc,
                             open_timeout_s=config.open_timeout_s)
    if config.driver == "file":
        return VideoFileGrabber(config.path, fps=config.fps, loop=config.loop)
    if config.driver == "folder":
        return ImageFolderGrabber(config.path, fps=config.fps, loop=config.loop)
    if config.driver == "synthetic":
        return SyntheticGrabber(config.path or None, width=config.width, height=config.height,
                                fps=config.fps)
    raise DeviceConfigError(f"unknown camera driver {config.driver!r}", driver=config.driver)


def camera_from_config(config: CameraConfig, on_event: EventSink | None = None) -> FrameSource:
    """A frame source for the configured camera (not started: call ``start()``)."""
    if config.driver == "none":
        from device.unconfigured import UnconfiguredCamera

        return UnconfiguredCamera()
    return FrameSource(grabber_from_config(config), queue_size=config.queue_size,
                       mirror=config.mirror, reconnect_initial_s=config.reconnect_initial_s,
                       reconnect_max_s=config.reconnect_max_s,
                       failed_after_s=config.failed_after_s, stale_after_s=config.stale_after_s,
                       on_event=on_event)
