"""Cameras: real OpenCV capture of a real video file, folders, the synthetic source, the
threaded frame source (drop-oldest buffer, monotonic timestamps) and unplug/replug."""

from __future__ import annotations

import functools
import itertools
import shutil
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from common.opencv import cv2
from device.camera import FrameSource, camera_from_config
from device.camera.grabbers import (
    ImageFolderGrabber,
    OpenCVGrabber,
    VideoFileGrabber,
    capture_target,
    safe_source_name,
)
from device.camera.synthetic import (
    APPROACH_S,
    CYCLE_S,
    HOLD_S,
    START_SCALE,
    SyntheticGrabber,
    motion_at,
)
from device.config import CameraConfig
from device.errors import CameraDisconnected, CameraEnded, CameraUnavailable
from device.health import DeviceEvent, HealthState

FAST = {"reconnect_initial_s": 0.02, "reconnect_max_s": 0.1}


def grey_index(image: np.ndarray) -> int:
    """Which frame of the ``video_file`` fixture this is (frame i is grey level 10*i)."""
    return round(float(image.mean()) / 10)


class Events:
    """Collects device events from the source thread; waits for a kind to appear."""

    def __init__(self) -> None:
        self.items: list[DeviceEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: DeviceEvent) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def kinds(self) -> list[str]:
        return [e.kind for e in self.items]

    def wait_for(self, kind: str, timeout: float = 5.0, after: int = 0) -> DeviceEvent:
        with self._cond:
            ok = self._cond.wait_for(lambda: any(e.kind == kind for e in self.items[after:]),
                                     timeout)
            assert ok, f"no {kind!r} event; got {self.kinds()}"
            return next(e for e in self.items[after:] if e.kind == kind)


def test_video_file_frames_in_order(video_file: Path) -> None:
    grabber = VideoFileGrabber(video_file, loop=False)
    grabber.open()
    assert grabber.pace_fps() == pytest.approx(30.0)
    seen = []
    with pytest.raises(CameraEnded):
        while True:
            image = grabber.read()
            assert image.shape == (120, 160, 3) and image.dtype == np.uint8
            seen.append(grey_index(image))
    grabber.close()
    assert seen == list(range(20))


def test_missing_or_bad_video_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable):
        VideoFileGrabber(tmp_path / "nope.avi").open()
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(CameraUnavailable):
        VideoFileGrabber(junk).open()


def test_frame_source_delivers_timestamped_frames(video_file: Path) -> None:
    source = FrameSource(VideoFileGrabber(video_file, fps=200), queue_size=64, **FAST)
    with source:
        frames = [source.get(5) for _ in range(30)]
    assert all(f is not None for f in frames)
    seqs = [f.seq for f in frames]
    stamps = [f.timestamp_ns for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == 30
    assert all(b > a for a, b in itertools.pairwise(stamps))
    # looping replay: after frame 19 comes frame 0 again
    assert [grey_index(f.image) for f in frames[:22]] == [*range(20), 0, 1]
    assert all(f.source == "camera" for f in frames)


def test_slow_consumer_gets_fresh_frames_not_a_backlog(video_file: Path) -> None:
    source = FrameSource(VideoFileGrabber(video_file, fps=200), queue_size=2, **FAST)
    with source:
        assert source.get(5) is not None
        time.sleep(0.4)  # the consumer is busy: ~80 frames arrive meanwhile
        a, b = source.get(1), source.get(1)
        produced = source.frames
    assert a is not None and b is not None
    assert source.dropped >= 10
    assert b.seq == a.seq + 1
    assert a.seq >= produced - 4  # what is handed out is from the last moments, not the start
    age_ms = (time.monotonic_ns() - b.timestamp_ns) / 1e6
    assert age_ms < 400


def test_latest_returns_newest_and_discards_older(video_file: Path) -> None:
    source = FrameSource(VideoFileGrabber(video_file, fps=200), queue_size=8, **FAST)
    with source:
        assert source.get(5) is not None
        time.sleep(0.1)
        newest = source.latest(1)
        assert newest is not None
        following = source.get(1)
    assert following is not None and following.seq > newest.seq


def test_opencv_capture_drop_then_reconnect(video_file: Path) -> None:
    """A live capture whose read() fails (here: the stream ends) reconnects with backoff and
    says so in events - the real cv2.VideoCapture path, on a real file."""
    events = Events()
    grabber = OpenCVGrabber(str(video_file), width=160, height=120, fps=30)
    source = FrameSource(grabber, on_event=events, **FAST)
    with source:
        events.wait_for("connected")
        events.wait_for("disconnected")
        reconnected = events.wait_for("reconnected")
        assert reconnected.health.state is HealthState.OK
        assert source.get(2) is not None
    assert source.reconnects >= 1
    disconnected = next(e for e in events.items if e.kind == "disconnected")
    assert disconnected.health.state is HealthState.DEGRADED
    assert disconnected.health.reason == "camera.reconnecting"
    assert disconnected.detail["error"] == "camera.disconnected"


def test_unplugged_file_reports_retrying_then_failed_then_recovers(
        video_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "camera.avi"
    shutil.copy(video_file, path)
    events = Events()
    source = FrameSource(VideoFileGrabber(path, fps=200), failed_after_s=0.3,
                         on_event=events, **FAST)
    with source:
        events.wait_for("connected")
        path.unlink()  # "unplug": the next loop cannot reopen it
        events.wait_for("disconnected")
        retry = events.wait_for("retrying")
        assert retry.detail["error"] == "camera.unavailable"
        assert retry.detail["delay_s"] <= FAST["reconnect_max_s"] + 0.01
        time.sleep(0.4)
        health = source.health()
        assert health.state is HealthState.FAILED and health.reason == "camera.unavailable"
        while source.get(0.05) is not None:  # drain what was captured before the unplug
            pass
        assert source.get(0.2) is None  # nothing new while unplugged, and no exception
        mark = len(events.items)
        shutil.copy(video_file, path)  # "replug"
        events.wait_for("reconnected", after=mark)
        assert source.get(2) is not None
        assert source.health().state is HealthState.OK
    attempts = [e.detail["attempt"] for e in events.items if e.kind == "retrying"]
    assert attempts == list(range(1, len(attempts) + 1))


def test_camera_that_never_opens_fails_without_raising() -> None:
    events = Events()
    grabber = VideoFileGrabber("/nonexistent/video.avi")
    with FrameSource(grabber, failed_after_s=0.1, on_event=events, **FAST) as source:
        assert source.health().state in (HealthState.DEGRADED, HealthState.FAILED)
        events.wait_for("retrying")
        time.sleep(0.2)
        assert source.health().state is HealthState.FAILED
        assert source.get(0.1) is None
    assert "connected" not in events.kinds()


def _write_images(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / f"frame{i:02d}.png"), np.full((48, 64, 3), 10 * i, np.uint8))


def test_image_folder_in_name_order_skipping_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    _write_images(folder, 4)
    (folder / "frame01b.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("ignored")
    grabber = ImageFolderGrabber(folder, fps=100, loop=False)
    grabber.open()
    seen = []
    with pytest.raises(CameraEnded):
        while True:
            seen.append(grey_index(grabber.read()))
    assert seen == [0, 1, 2, 3]


def test_image_folder_end_and_removal(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    _write_images(folder, 2)
    events = Events()
    with FrameSource(ImageFolderGrabber(folder, fps=100, loop=False),
                     on_event=events, **FAST) as source:
        events.wait_for("ended")
        assert source.health().reason == "camera.ended"
        assert source.health().state is HealthState.FAILED
    looping = ImageFolderGrabber(folder, fps=100, loop=True)
    looping.open()
    looping.read()
    looping.read()
    shutil.rmtree(folder)
    with pytest.raises(CameraDisconnected):
        looping.read()
    with pytest.raises(CameraUnavailable):
        ImageFolderGrabber(tmp_path / "empty", fps=10).open()


def test_mirror_flips_frames(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :10] = 255  # white on the left
    cv2.imwrite(str(folder / "a.png"), image)
    with FrameSource(ImageFolderGrabber(folder, fps=50), mirror=True, **FAST) as source:
        frame = source.get(5)
    assert frame is not None
    assert frame.image[:, -10:].min() == 255 and frame.image[:, :10].max() == 0


def test_motion_path_approach_hold_leave() -> None:
    start, arrived = motion_at(0.0), motion_at(APPROACH_S)
    assert start.scale == pytest.approx(START_SCALE)
    assert arrived.scale == pytest.approx(1.0, abs=0.02)
    approach = [motion_at(t).scale for t in np.linspace(0, APPROACH_S - 0.01, 20)]
    assert approach == sorted(approach)  # walking up: the face only grows
    hold = [motion_at(APPROACH_S + t) for t in np.linspace(0, HOLD_S, 50)]
    assert all(abs(p.scale - 1) <= 0.02 and abs(p.dx) <= 0.015 for p in hold)
    assert len({round(p.dx, 4) for p in hold}) > 10  # it drifts, not frozen
    assert motion_at(CYCLE_S + 1.0) == motion_at(1.0)


def test_synthetic_frames_are_reproducible_and_move() -> None:
    a = SyntheticGrabber(None, width=320, height=240, fps=15)
    b = SyntheticGrabber(None, width=320, height=240, fps=15)
    a.open()
    b.open()
    frames_a = [a.read() for _ in range(20)]
    frames_b = [b.read() for _ in range(20)]
    assert all(np.array_equal(x, y) for x, y in zip(frames_a, frames_b, strict=True))
    assert frames_a[0].shape == (240, 320, 3)
    assert float(np.abs(frames_a[0].astype(int) - frames_a[19].astype(int)).mean()) > 5
    with pytest.raises(CameraUnavailable):
        SyntheticGrabber(Path(__file__), width=64, height=48, fps=5).open()


def test_synthetic_demo_shows_a_detectable_face_throughout(engine) -> None:
    """The demo default must give the recogniser a usable face while the 'patient' stands at
    the kiosk, and a detectable one while approaching."""
    grabber = SyntheticGrabber(None, width=640, height=480, fps=15)
    grabber.open()
    frames = {i: None for i in (0, 20, 45, 90, 130)}
    for i in range(max(frames) + 1):
        image = grabber.read()
        if i in frames:
            frames[i] = image
    for i, image in frames.items():
        assert len(engine.detect(image)) == 1, f"frame {i}"
    template = engine.template_for(frames[90], strict=False)
    assert template.similarity(engine.template_for(frames[45], strict=False)) > 0.6


def test_camera_from_config_and_url_handling(tmp_path: Path) -> None:
    source = camera_from_config(CameraConfig(driver="folder", path=str(tmp_path)))
    assert isinstance(source.grabber, ImageFolderGrabber)
    assert safe_source_name("rtsp://admin:s3cret@10.1.2.3:554/live") == \
        "rtsp://admin:***@10.1.2.3:554/live"
    assert safe_source_name("/dev/video0") == "/dev/video0"
    assert capture_target("0")[0] == 0
    assert capture_target("rtsp://cam/live")[1:] == (cv2.CAP_FFMPEG, True)
    assert capture_target("/tmp/clip.avi") == ("/tmp/clip.avi", cv2.CAP_ANY, False)


def test_unopenable_opencv_device_is_unavailable() -> None:
    grabber = OpenCVGrabber("/nonexistent/clip.avi", width=64, height=48, fps=5)
    with pytest.raises(CameraUnavailable):
        grabber.open()
    with pytest.raises(CameraDisconnected):
        grabber.read()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


def _serve(folder: Path, port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port),
                                 functools.partial(_QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_network_stream_drop_and_return(video_file: Path) -> None:
    """An HTTP camera stream through OpenCV's FFmpeg backend: the server going away is a
    disconnection with backoff; its return is a reconnection, on the same URL."""
    server = _serve(video_file.parent)
    port = server.server_address[1]
    events = Events()
    grabber = OpenCVGrabber(f"http://127.0.0.1:{port}/{video_file.name}", width=160,
                            height=120, fps=30, open_timeout_s=2)
    source = FrameSource(grabber, failed_after_s=0.2, on_event=events, **FAST)
    try:
        with source:
            events.wait_for("connected")
            assert source.get(5) is not None
            server.shutdown()
            server.server_close()
            retry = events.wait_for("retrying")
            assert retry.detail["error"] == "camera.unavailable"
            time.sleep(0.3)
            assert source.health().state is HealthState.FAILED
            mark = len(events.items)
            server = _serve(video_file.parent, port)
            events.wait_for("reconnected", after=mark)
            assert source.get(5) is not None
    finally:
        server.shutdown()
        server.server_close()
