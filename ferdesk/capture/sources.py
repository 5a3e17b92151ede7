"""Frame sources: a webcam, a network camera, a video file, a still image, an image folder, the demo.

Everything the live app shows comes through one interface, :class:`FrameSource`, so the runner
(``ferdesk.live``) treats a camera and a file alike: ``open()``, then ``read()`` until it returns
None (a finite stream ended) or raises :class:`CaptureError` (a camera was lost), then
``close()``. A file plays in real time, like a camera: ``read()`` waits for the next frame's due
time, so the live loop drops frames the same way for both and latency never grows.

Every ``Frame.rgb`` is RGB uint8, C-contiguous and **read-only** (a still image hands out the
same pixels again and again): copy it before drawing on it. The frames carry an ``index``
counting the frames read from the source (gaps downstream = dropped frames) and a
``time.monotonic()`` timestamp taken when the frame was captured.

Cameras, webcam or network, read on a reader thread of their own (:class:`_CaptureReader`), so a
camera that stops sending is reported lost within ``CAMERA_READ_TIMEOUT_S`` instead of blocking
the caller for ever. FFmpeg's per-frame warnings are switched off (see
:mod:`ferdesk.capture.native_logs`); a damaged video is summarised in one message instead.

No Qt here; OpenCV is imported when a camera or video is opened, not when this module loads.
"""

from __future__ import annotations

import abc
import os
import re
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ferdesk.capture.native_logs import SHOW_NATIVE_LOGS_HINT, quiet_video_logs
from ferdesk.vision.imageio import IMAGE_SUFFIXES, ImageLoadError, is_image_file, load_image
from ferdesk.vision.paths import assets_dir
from ferdesk.vision.results import Frame

if TYPE_CHECKING:  # for annotations only: OpenCV is imported when a source opens
    import cv2

quiet_video_logs()  # environment only: before OpenCV reads it

#: Video containers ferdesk offers to open (OpenCV's FFmpeg backend decodes all of them).
VIDEO_SUFFIXES: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".wmv"}
)

#: How often a still image (and each picture of an image folder) is handed out again.
STILL_FPS = 15.0

#: A damaged video: how many failed reads in a row are skipped before the rest counts as lost.
_DAMAGE_SKIP_READS = 25
#: Containers whose index gives the exact frame count (others, e.g. WebM, estimate it from the
#: duration): only there does "decoding stopped before the last frame" prove damage.
_INDEXED_CONTAINERS = frozenset({".mp4", ".m4v", ".mov", ".avi"})

#: Used when a video file does not state a usable frame rate.
FALLBACK_VIDEO_FPS = 25.0

DEMO_FILE = "demo.mp4"

#: Said after "not found" and "not supported": short, since it may be spoken aloud.
_SPEC_HELP = (
    "Open a camera by number (0, 1, ...) or address (http://..., rtsp://...), a video file "
    "(MP4, AVI, MKV, MOV, WebM), an image, a folder of images, or 'demo'."
)
_IMAGE_KINDS = "JPEG, PNG, BMP, WebP, TIFF, GIF, PGM or PPM"


class CaptureError(RuntimeError):
    """A source could not be opened, or a live source was lost; the message is for the user."""


class BadFrameError(CaptureError):
    """One frame could not be read, but the stream goes on (e.g. a broken file in an image folder).

    The live runner reports it as a warning and reads the next frame.
    """


@dataclass(frozen=True)
class CameraInfo:
    """A camera found by :func:`list_cameras`; ``index`` is what ``open_source(str(index))`` takes."""

    index: int
    name: str
    width: int
    height: int


class _Pacer:
    """Waits until each frame is due, so a file plays at its own rate, like a camera.

    When the reader falls behind by more than one frame period (a slow decode, a paused
    debugger) the schedule restarts from now instead of rushing to catch up.
    """

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self._due: float | None = None

    def wait(self) -> None:
        now = time.monotonic()
        if self._due is None or now - self._due > self.period:
            self._due = now
        elif self._due > now:
            time.sleep(self._due - now)
        self._due += self.period

    def restart(self) -> None:
        self._due = None


class FrameSource(abc.ABC):
    """Where frames come from. Open, read until None (end) or :class:`CaptureError` (lost), close.

    A source can be opened again after ``close()`` (the runner does that to reconnect a camera);
    ``index`` keeps counting across reopening. ``read()`` opens an unopened source first. Use
    ``with source:`` to open and close it around a block.

    ``mirror`` flips frames left-right (the selfie view); it may be changed while the source runs.
    """

    #: Human-readable, for the window and for speech: "Camera 0 (640x480)", "video clip.mp4", "demo".
    name: str
    #: A short name for messages: "Camera 0", "video clip.mp4", "demo".
    label: str
    #: True for cameras: they can be lost and reconnected; files cannot.
    is_live: bool = False
    #: Nominal frame rate (a video file's own rate; None for a camera that does not say).
    fps: float | None = None

    def __init__(self, *, mirror: bool = False) -> None:
        self.mirror = mirror
        self._next_index = 0

    @abc.abstractmethod
    def open(self) -> None:
        """Make the source ready to read; raises :class:`CaptureError` with a message for the user."""

    @abc.abstractmethod
    def read(self) -> Frame | None:
        """The next frame; None when a finite stream has ended; :class:`CaptureError` when lost."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device or file; safe to call twice."""

    @property
    def is_open(self) -> bool:
        """Whether ``read()`` can go ahead; sources that open lazily override this (default True)."""
        return True

    def _ensure_open(self) -> None:
        if not self.is_open:
            self.open()

    def _stamp(self, rgb: np.ndarray, timestamp: float | None = None) -> Frame:
        """Number and freeze one RGB image as the next frame (no mirroring here)."""
        rgb = np.ascontiguousarray(rgb)
        rgb.flags.writeable = False
        if timestamp is None:
            timestamp = time.monotonic()
        frame = Frame(index=self._next_index, timestamp=timestamp, rgb=rgb)
        self._next_index += 1
        return frame

    def _make_frame(self, rgb: np.ndarray, timestamp: float | None = None) -> Frame:
        """Mirror (if asked), number and freeze one freshly captured RGB image."""
        if self.mirror:
            import cv2

            rgb = cv2.flip(rgb, 1)
        return self._stamp(rgb, timestamp)

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'name', '?')!r}>"


# --------------------------------------------------------------------------- cameras


def _camera_device_exists(index: int) -> bool | None:
    """On Linux, whether ``/dev/videoN`` exists (None elsewhere: only opening can tell)."""
    if sys.platform.startswith("linux"):
        return os.path.exists(f"/dev/video{index}")
    return None


def _camera_backend() -> int:
    import cv2

    if sys.platform.startswith("linux"):
        return cv2.CAP_V4L2
    if sys.platform == "win32":
        return cv2.CAP_DSHOW  # opens in well under a second; MSMF can take several
    return cv2.CAP_ANY


def _device_name(index: int) -> str | None:
    """The camera's own name from sysfs on Linux ("HD Webcam C270"), else None."""
    try:
        return Path(f"/sys/class/video4linux/video{index}/name").read_text().strip() or None
    except OSError:
        return None


#: A live camera that delivers no picture for this long is reported lost. Webcams send 15-30 a
#: second and a network camera on a slow link still several, so two seconds means "gone".
CAMERA_READ_TIMEOUT_S = 2.0
#: How long opening may take: connecting, and the first picture (a webcam's exposure settles
#: first). Kept under the live runner's 5 s stop timeout, so quitting never waits on a camera.
CAMERA_OPEN_TIMEOUT_S = 4.0
#: How long ``close()`` waits for the reader thread; one stuck in a driver is left to end alone.
_READER_JOIN_S = 1.0


class _CaptureReader:
    """Owns one ``cv2.VideoCapture`` on its own thread: opens it, reads it non-stop, releases it.

    Why a thread per open camera: a capture's ``read()`` can block for as long as the driver or
    the network likes (a camera unplugged mid-frame, a Wi-Fi camera that stops answering), and
    only another thread can notice that and give up. Reading non-stop also drains the camera's
    buffers, so a network stream never falls behind: :meth:`next` hands out the newest picture.

    The capture is created, read and released on this thread only (OpenCV captures are not safe
    to release while another thread reads them). If the thread is stuck in a read when the source
    is closed, it is abandoned (a daemon) and releases the capture when the read returns.
    """

    def __init__(self, open_capture: Callable[[], cv2.VideoCapture], label: str) -> None:
        self._open_capture = open_capture
        self.label = label
        self._cond = threading.Condition()
        self._latest: tuple[np.ndarray, float] | None = None
        self._opened = False
        self._finished = False
        self._stopping = False
        self._error: CaptureError | None = None
        self.first_shape: tuple[int, ...] = ()
        self.fps: float | None = None
        self._thread = threading.Thread(target=self._run, name="ferdesk-camera-reader", daemon=True)

    def start(self, timeout: float) -> None:
        """Start and wait until the first picture arrived; :class:`CaptureError` if it does not."""
        self._thread.start()
        with self._cond:
            self._cond.wait_for(lambda: self._opened or self._finished, timeout)
            if self._opened:
                return
            error = self._error
            self._stopping = True
        if error is None:
            error = CaptureError(
                f"{self.label} did not answer within {timeout:g} s (switched off or unreachable?)."
            )
        raise error

    def _run(self) -> None:
        import cv2

        capture = None
        try:
            try:
                capture = self._open_capture()
                ok, first = capture.read()
                if not ok or first is None:
                    raise CaptureError(
                        f"{self.label} opened but sends no pictures (in use by another program?)."
                    )
            except CaptureError as error:
                with self._cond:
                    self._error = error
                return
            except Exception as error:  # a driver's own exception: still one line for the user
                with self._cond:
                    self._error = CaptureError(
                        f"{self.label} could not be opened ({type(error).__name__}: {error})."
                    )
                return
            fps = capture.get(cv2.CAP_PROP_FPS)
            with self._cond:
                self.fps = float(fps) if fps and 0 < fps <= 240 else None
                self.first_shape = first.shape
                self._latest = (first, time.monotonic())
                self._opened = True
                self._cond.notify_all()
            while True:
                with self._cond:
                    if self._stopping:
                        return
                try:
                    ok, bgr = capture.read()
                except Exception as error:  # any driver failure means "lost"
                    ok, bgr = False, None
                    log_detail = f" ({type(error).__name__}: {error})"
                else:
                    log_detail = ""
                timestamp = time.monotonic()
                with self._cond:
                    if not ok or bgr is None:
                        self._error = CaptureError(
                            f"{self.label} stopped sending pictures (disconnected?){log_detail}."
                        )
                        return
                    self._latest = (bgr, timestamp)
                    self._cond.notify_all()
        finally:
            if capture is not None:
                capture.release()
            with self._cond:
                self._finished = True
                self._cond.notify_all()

    def next(self, timeout: float) -> tuple[np.ndarray, float]:
        """The newest picture not handed out yet (BGR, capture time); waits up to ``timeout``.

        :class:`CaptureError` when the camera failed, or sent nothing for ``timeout`` seconds.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._latest is not None or self._finished, timeout)
            if self._latest is not None:
                latest, self._latest = self._latest, None
                return latest
            if self._error is not None:
                raise self._error
            if self._finished:
                raise CaptureError(f"{self.label} was closed.")
        raise CaptureError(f"{self.label} sent no picture for {timeout:g} s (disconnected?).")

    def stop(self, wait: float = _READER_JOIN_S) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(wait)


class CameraSource(FrameSource):
    """A live camera through OpenCV: a webcam here, a network camera in the subclass.

    ``device`` is a camera number or a device path (``/dev/video0``, ``/dev/v4l/by-id/...``).
    ``width``/``height`` ask the camera for a capture size; it may pick the nearest it supports.

    Reads go through a reader thread (:class:`_CaptureReader`), so a camera that stops sending is
    noticed: ``read()`` raises :class:`CaptureError` after ``read_timeout`` seconds without a
    picture, or at once when OpenCV reports the camera gone. Frames arrive BGR and are converted to
    RGB once, here. ``read()`` returns the newest picture; pictures the caller was too slow for are
    skipped (a camera does not wait either).
    """

    is_live = True

    def __init__(
        self,
        device: int | str,
        *,
        width: int | None = None,
        height: int | None = None,
        mirror: bool = False,
        read_timeout: float = CAMERA_READ_TIMEOUT_S,
        open_timeout: float = CAMERA_OPEN_TIMEOUT_S,
    ) -> None:
        super().__init__(mirror=mirror)
        for name, value in (("width", width), ("height", height)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} == {value}, must be > 0 (or None for the camera's default).")
        for name, seconds in (("read_timeout", read_timeout), ("open_timeout", open_timeout)):
            if not seconds > 0:
                raise ValueError(f"{name} == {seconds}, must be > 0 seconds.")
        self.device = device
        self.requested_size = (width, height)
        self.read_timeout = float(read_timeout)
        self.open_timeout = float(open_timeout)
        self.label = f"Camera {device}"
        self.name = self.label
        self.fps = None
        self._reader: _CaptureReader | None = None

    @property
    def is_open(self) -> bool:
        return self._reader is not None

    def _not_available(self) -> CaptureError:
        return CaptureError(f"{self.label} could not be opened (busy or not connected).")

    def _check_reachable(self) -> None:
        """Cheap checks before OpenCV is asked (it would only print a warning and fail)."""
        if isinstance(self.device, int) and _camera_device_exists(self.device) is False:
            raise self._not_available()
        if isinstance(self.device, str) and not os.path.exists(self.device):
            raise self._not_available()

    def _open_capture(self) -> cv2.VideoCapture:
        """A ready ``cv2.VideoCapture`` (called on the reader thread); CaptureError if none."""
        import cv2

        capture = cv2.VideoCapture(self.device, _camera_backend())
        if not capture.isOpened():
            capture.release()
            raise self._not_available()
        width, height = self.requested_size
        if width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        return capture

    def open(self) -> None:
        if self._reader is not None:
            return
        self._check_reachable()
        quiet_video_logs()
        reader = _CaptureReader(self._open_capture, self.label)
        reader.start(self.open_timeout)
        self.fps = reader.fps
        height, width = reader.first_shape[:2]
        self.name = f"{self.label} ({width}x{height})"
        self._reader = reader

    def read(self) -> Frame | None:
        import cv2

        self._ensure_open()
        reader = self._reader
        assert reader is not None, "open() sets the reader or raises"
        try:
            bgr, timestamp = reader.next(self.read_timeout)
        except CaptureError:
            self.close()
            raise
        return self._make_frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), timestamp)

    def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.stop()


#: Addresses of network cameras: phone "IP webcam" apps and IP cameras serve MJPEG over HTTP(S)
#: or H.264 over RTSP; OpenCV's FFmpeg backend reads all of them.
NETWORK_SCHEMES: frozenset[str] = frozenset({"http", "https", "rtsp", "rtsps"})
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def _redacted_host(url: str) -> str:
    """``host:port`` of ``url``, never its user name or password (labels are shown and spoken)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


class NetworkCameraSource(CameraSource):
    """A network camera (``http://phone:8080/video``, ``rtsp://camera/stream``) through FFmpeg.

    The same reader, timeouts, loss reports and reconnection as a webcam (it *is* a
    :class:`CameraSource`); only opening differs. FFmpeg is given the open and read timeouts too,
    so a read blocked on a silent connection returns instead of waiting for ever. Sockets are
    opened only here, when the user asked for a network address: ferdesk opens none otherwise.
    The label shows host and port only: a password in the address is never shown or spoken.
    """

    def __init__(
        self,
        url: str,
        *,
        mirror: bool = False,
        read_timeout: float = CAMERA_READ_TIMEOUT_S,
        open_timeout: float = CAMERA_OPEN_TIMEOUT_S,
    ) -> None:
        super().__init__(url, mirror=mirror, read_timeout=read_timeout, open_timeout=open_timeout)
        self.url = url
        self.label = f"Network camera {_redacted_host(url)}"
        self.name = self.label

    def _check_reachable(self) -> None:
        pass  # only connecting can tell

    def _open_capture(self):
        import cv2

        # FFmpeg's own timeouts end a blocked connect or read, so the reader thread never hangs
        # on a dead connection; ours (open_timeout, read_timeout) report the loss on time.
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            round(self.open_timeout * 1000 * 0.9),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            round(self.read_timeout * 1000),
        ]
        capture = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        if not capture.isOpened():
            capture.release()
            raise CaptureError(
                f"{self.label} could not be opened: nothing answered at {_redacted_url(self.url)}. "
                "Check the address, and that the camera (or the phone's camera app) is on, on this network."
            )
        return capture


def _redacted_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _probe_camera(index: int) -> CameraInfo | None:
    import cv2

    capture = cv2.VideoCapture(index, _camera_backend())
    try:
        if not capture.isOpened():
            return None
        ok, frame = capture.read()
        if not ok or frame is None:
            return None
        height, width = frame.shape[:2]
    finally:
        capture.release()
    device = _device_name(index)
    name = f"Camera {index} ({device}, {width}x{height})" if device else f"Camera {index} ({width}x{height})"
    return CameraInfo(index=index, name=name, width=width, height=height)


def list_cameras(max_index: int = 4, timeout: float = 3.0) -> list[CameraInfo]:
    """Cameras that open and deliver a picture, among numbers ``0 .. max_index - 1``.

    Never hangs: on Linux only existing ``/dev/videoN`` nodes are tried; each probe runs in a
    helper thread and is given up after ``timeout`` seconds (some drivers block in open). A camera
    that another program (or ferdesk's own live view) is using does not open and is not listed.
    """
    if max_index < 0:
        raise ValueError(f"max_index == {max_index}, must be >= 0.")
    found: list[CameraInfo] = []
    for index in range(max_index):
        exists = _camera_device_exists(index)
        if exists is False:
            continue
        result: list[CameraInfo | None] = []

        def probe(index: int = index, result: list = result) -> None:
            try:
                result.append(_probe_camera(index))
            except Exception:  # a failing probe just means "not listed"
                result.append(None)

        thread = threading.Thread(target=probe, name=f"ferdesk-probe-camera-{index}", daemon=True)
        thread.start()
        thread.join(timeout)
        info = result[0] if result else None
        if info is not None:
            found.append(info)
        elif exists is None:
            # Without device nodes to look at, numbering is contiguous: stop at the first gap.
            break
    return found


# --------------------------------------------------------------------------- files


class VideoFileSource(FrameSource):
    """A video file, played at its own frame rate (``realtime=False`` reads as fast as it decodes).

    With ``loop=True`` it starts again at the end; otherwise ``read()`` returns None there.
    """

    def __init__(
        self, path: str | os.PathLike, *, loop: bool = True, mirror: bool = False, realtime: bool = True
    ):
        super().__init__(mirror=mirror)
        self.path = Path(path)
        self.loop = loop
        self.realtime = realtime
        self.label = f"video {self.path.name}"
        self.name = self.label
        self.fps = None
        self._capture: cv2.VideoCapture | None = None
        # A frame read ahead: the first (proves the file decodes), or one past damage.
        self._pending: np.ndarray | None = None
        self._pacer: _Pacer | None = None
        self._frame_count = 0  # what the container says; 0 when it does not say
        self._decoded = 0  # frames decoded in this pass through the file
        self._damage_reported = False

    @property
    def is_open(self) -> bool:
        return self._capture is not None

    def _open_capture(self) -> cv2.VideoCapture | None:
        import cv2

        capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not capture.isOpened():
            capture.release()
            return None
        return capture

    def _unreadable(self, why: str) -> CaptureError:
        return CaptureError(
            f"{self.path}: {why} The file may be damaged, or use a codec this build cannot decode; "
            "try converting it to MP4 (H.264 or MPEG-4)."
        )

    def open(self) -> None:
        if self._capture is not None:
            return
        import cv2

        problem = _not_a_regular_file(self.path, "video")
        if problem:
            raise CaptureError(problem)
        if self.path.stat().st_size == 0:
            raise CaptureError(f"{self.path}: the video file is empty (0 bytes).")
        quiet_video_logs()
        capture = self._open_capture()
        if capture is None:
            raise self._unreadable("could not be opened as a video.")
        ok, first = capture.read()
        if not ok or first is None:
            capture.release()
            raise self._unreadable("contains no readable video frames.")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1.0 <= fps <= 240.0 else FALLBACK_VIDEO_FPS
        self.name = f"{self.label} ({first.shape[1]}x{first.shape[0]}, {self.fps:g} fps)"
        self._capture = capture
        self._pending = first
        self._pacer = _Pacer(self.fps) if self.realtime else None
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self._frame_count = int(count) if count and 0 < count < 1e9 else 0
        self._decoded = 1
        self._damage_reported = False

    def _rewind(self, capture: cv2.VideoCapture) -> np.ndarray | None:
        """The first frame again (from ``capture``, this source's open one), or None if the file
        no longer plays."""
        import cv2

        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, bgr = capture.read()
        if ok and bgr is not None:
            return bgr
        # Seeking is unreliable in some containers: start over from a fresh reader.
        capture.release()
        self._capture = self._open_capture()
        if self._capture is None:
            return None
        ok, bgr = self._capture.read()
        return bgr if ok else None

    def read(self) -> Frame | None:
        import cv2

        self._ensure_open()
        capture = self._capture
        assert capture is not None, "open() sets the capture or raises"
        bgr: np.ndarray | None
        if self._pending is not None:
            bgr, self._pending = self._pending, None
        else:
            ok, bgr = capture.read()
            if not ok or bgr is None:
                damage = self._read_past_damage(capture)
                if damage:
                    raise BadFrameError(damage)
                if self._pending is not None:  # damage skipped silently (said once already)
                    bgr, self._pending = self._pending, None
                else:
                    if not self.loop:
                        return None
                    bgr = self._rewind(capture)
                    if bgr is None:
                        self.close()
                        raise self._unreadable("stopped playing when starting over.")
                    self._decoded = 0
            self._decoded += 1
        if self._pacer is not None:
            self._pacer.wait()
        return self._make_frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def _read_past_damage(self, capture: cv2.VideoCapture) -> str | None:
        """After a failed read of ``capture`` (this source's open one) well before the container's
        last frame: skip the damaged part.

        Reads on (up to ``_DAMAGE_SKIP_READS`` failed reads); a frame found is kept in
        ``_pending`` for the next ``read()``. Returns the one message a damaged file gets per
        opening (FFmpeg's own per-block complaints are switched off: one sentence instead of
        thousands of lines), or None: nothing to say, or said already.
        """
        if not self._frame_count or self._decoded >= 0.95 * self._frame_count - 1:
            return None  # the end is the end
        at = self._decoded
        skipped = 0
        while skipped < _DAMAGE_SKIP_READS:
            skipped += 1
            ok, bgr = capture.read()
            if ok and bgr is not None:
                self._pending = bgr
                self._decoded += skipped
                break
        if self._damage_reported:
            return None
        self._damage_reported = True
        if self._pending is not None:
            return (
                f"{self.path}: frame {at + 1} of {self._frame_count} is damaged and was skipped; "
                f"later damaged frames are skipped without a word ({SHOW_NATIVE_LOGS_HINT})."
            )
        if self.path.suffix.lower() not in _INDEXED_CONTAINERS:
            return None  # a frame count estimated from the duration may just be too high
        after = "starting over" if self.loop else "stopping"
        return (
            f"{self.path}: the video stopped decoding at frame {at} of {self._frame_count}; "
            f"the rest of the file is damaged ({after} there; {SHOW_NATIVE_LOGS_HINT})."
        )

    def close(self) -> None:
        capture, self._capture = self._capture, None
        self._pending = None
        if capture is not None:
            capture.release()


class DemoSource(VideoFileSource):
    """The built-in demo: ``assets/demo.mp4``, made from a public-domain NASA photo.

    Needs no camera and no data set. See ``assets/README.md`` for the clip's provenance.
    """

    def __init__(self, *, loop: bool = True, mirror: bool = False, realtime: bool = True) -> None:
        super().__init__(assets_dir() / DEMO_FILE, loop=loop, mirror=mirror, realtime=realtime)
        self.label = "demo"
        self.name = "demo"

    def open(self) -> None:
        if self._capture is None and not self.path.is_file():
            raise CaptureError(f"The demo clip is missing ({self.path}); reinstall ferdesk to restore it.")
        super().open()
        self.name = "demo"


class ImageSource(FrameSource):
    """A still image, handed out again and again at ``fps`` so the live view keeps running."""

    def __init__(
        self, path: str | os.PathLike, *, mirror: bool = False, fps: float = STILL_FPS, realtime: bool = True
    ):
        super().__init__(mirror=mirror)
        if fps <= 0:
            raise ValueError(f"fps == {fps}, must be > 0.")
        self.path = Path(path)
        self.label = f"image {self.path.name}"
        self.name = self.label
        self.fps = fps
        self.realtime = realtime
        self._rgb: np.ndarray | None = None
        self._flipped: np.ndarray | None = None
        self._pacer = _Pacer(fps)

    @property
    def is_open(self) -> bool:
        return self._rgb is not None

    def open(self) -> None:
        if self._rgb is not None:
            return
        try:
            rgb = load_image(self.path)
        except ImageLoadError as error:  # the plain reason, not the decoder's text (it is spoken)
            raise CaptureError(f"{error.path}: {error.reason}") from None
        rgb.flags.writeable = False
        self._rgb = rgb
        self.name = f"{self.label} ({rgb.shape[1]}x{rgb.shape[0]})"
        self._flipped = None
        self._pacer.restart()

    def read(self) -> Frame | None:
        self._ensure_open()
        rgb = self._rgb
        assert rgb is not None, "open() sets the image or raises"
        if self.realtime:
            self._pacer.wait()
        if not self.mirror:
            return self._stamp(rgb)
        if self._flipped is None:  # flip once, not per frame
            import cv2

            self._flipped = cv2.flip(rgb, 1)
        return self._stamp(self._flipped)

    def close(self) -> None:
        self._rgb = None
        self._flipped = None


def _natural_key(path: Path) -> list:
    """Sort "frame2.png" before "frame10.png", as a person numbering files expects."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files directly inside ``folder``, in natural name order."""
    return sorted((p for p in Path(folder).iterdir() if p.is_file() and is_image_file(p)), key=_natural_key)


class ImageFolderSource(FrameSource):
    """The images in a folder, in natural name order, as a sequence at ``fps`` frames a second.

    A picture that cannot be read raises :class:`BadFrameError` once (the runner warns and goes on)
    and is skipped from then on; if none can be read, :class:`CaptureError`.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        loop: bool = True,
        mirror: bool = False,
        fps: float = STILL_FPS,
        realtime: bool = True,
    ) -> None:
        super().__init__(mirror=mirror)
        if fps <= 0:
            raise ValueError(f"fps == {fps}, must be > 0.")
        self.folder = Path(folder)
        self.loop = loop
        self.fps = fps
        self.realtime = realtime
        self.label = f"images in {self.folder.name or self.folder}"
        self.name = self.label
        self._files: list[Path] = []
        self._bad: set[Path] = set()
        self._position = 0
        self._opened = False
        self._pacer = _Pacer(fps)

    @property
    def is_open(self) -> bool:
        return self._opened

    def open(self) -> None:
        if self._opened:
            return
        if not self.folder.is_dir():
            raise CaptureError(f"{self.folder}: the folder is missing.")
        files = list_images(self.folder)
        if not files:
            raise CaptureError(f"{self.folder}: the folder holds no images ({_IMAGE_KINDS}).")
        self._files = files
        self._bad = set()
        self._position = 0
        self._opened = True
        self.name = f"{self.label} ({len(files)} images)"
        self._pacer.restart()

    def read(self) -> Frame | None:
        self._ensure_open()
        while True:
            if len(self._bad) == len(self._files):
                raise CaptureError(f"{self.folder}: none of the {len(self._files)} images could be read.")
            if self._position >= len(self._files):
                if not self.loop:
                    return None
                self._position = 0
            path = self._files[self._position]
            self._position += 1
            if path in self._bad:
                continue
            if self.realtime:
                self._pacer.wait()
            try:
                rgb = load_image(path)
            except ImageLoadError as error:
                self._bad.add(path)
                # error.reason is a plain sentence; the decoder's own text (error.detail) is not spoken.
                raise BadFrameError(f"Skipped a picture, {path.name}: {error.reason}") from None
            return self._make_frame(rgb)

    def close(self) -> None:
        self._opened = False


# --------------------------------------------------------------------------- open_source

_DEVICE_PATH = re.compile(r"^/dev/video(\d+)$")


def open_source(
    spec: str,
    *,
    loop: bool = True,
    width: int | None = None,
    height: int | None = None,
    mirror: bool = False,
    realtime: bool = True,
) -> FrameSource:
    """The source ``spec`` names, checked but not yet opened (call ``open()``, or use ``with``).

    ``spec``: a camera number ("0"), a device ("/dev/video0"), a network camera's address
    ("http://phone:8080/video", "rtsp://camera/stream"), a video file, an image file, a folder of
    images, or "demo". ``loop`` replays files and folders at their end (a still image
    always repeats). ``width``/``height`` request a camera capture size (files keep theirs).
    ``realtime=False`` reads files as fast as they decode, for batch work and tests.

    Raises :class:`CaptureError` for an unknown spec or a missing or unsupported file; opening a
    camera or a damaged video fails later, in ``open()``.
    """
    text = str(spec).strip()
    if not text:
        raise CaptureError(f"No source given. {_SPEC_HELP}")
    if text.lower() == "demo":
        return DemoSource(loop=loop, mirror=mirror, realtime=realtime)
    if text.isdigit():
        return CameraSource(int(text), width=width, height=height, mirror=mirror)
    device = _DEVICE_PATH.match(text)
    if device:
        return CameraSource(int(device.group(1)), width=width, height=height, mirror=mirror)
    if text.startswith("/dev/"):
        return CameraSource(text, width=width, height=height, mirror=mirror)
    scheme = _URL.match(text)
    if scheme:
        return _network_source(text, scheme.group(1).lower(), mirror=mirror)
    path = Path(text).expanduser()
    if not path.exists() and not path.is_symlink():
        raise CaptureError(f"{text}: no such file or folder. {_SPEC_HELP}")
    if path.is_dir():
        if not list_images(path):
            raise CaptureError(f"{path}: the folder holds no images ({_IMAGE_KINDS}). {_SPEC_HELP}")
        return ImageFolderSource(path, loop=loop, mirror=mirror, realtime=realtime)
    suffix = path.suffix.lower()
    problem = _not_a_regular_file(path, "video" if suffix in VIDEO_SUFFIXES else "image")
    if problem:
        raise CaptureError(problem)
    if suffix in VIDEO_SUFFIXES:
        return VideoFileSource(path, loop=loop, mirror=mirror, realtime=realtime)
    if suffix in IMAGE_SUFFIXES:
        return ImageSource(path, mirror=mirror, realtime=realtime)
    raise CaptureError(
        f"{path}: not a video or image file ferdesk can open ('{suffix or 'no suffix'}'). {_SPEC_HELP}"
    )


def _network_source(text: str, scheme: str, *, mirror: bool) -> NetworkCameraSource:
    from urllib.parse import urlsplit

    if scheme not in NETWORK_SCHEMES:
        raise CaptureError(
            f"{_redacted_url(text)}: '{scheme}://' is not a camera address ferdesk can open; "
            "use http://, https:// or rtsp://, as the camera or phone app shows it."
        )
    try:
        parts = urlsplit(text)
        host, _ = parts.hostname, parts.port  # .port raises ValueError for a bad port
    except ValueError as error:
        raise CaptureError(f"{_redacted_url(text)}: not a valid address ({error}).") from None
    if not host:
        raise CaptureError(
            f"{_redacted_url(text)}: the address names no camera; expected e.g. http://192.168.1.20:8080/video."
        )
    return NetworkCameraSource(text, mirror=mirror)


def _not_a_regular_file(path: Path, kind: str) -> str | None:
    """Why ``path`` cannot be opened as a ``kind`` file (missing, a pipe, a device), or None."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return f"{path}: the {kind} file is a link to something that is missing ({os.readlink(path)})."
        return f"{path}: the {kind} file is missing."
    except OSError as error:  # a link loop, no permission to look
        return f"{path}: the {kind} file cannot be read ({error.strerror or error})."
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        what = "a named pipe (FIFO)"
    elif stat.S_ISSOCK(mode):
        what = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        what = "a device"
    else:
        what = "not a regular file"
    return (
        f"{path}: expected a {kind} file, but this is {what}. ferdesk plays files it can read "
        "from start to end; save the stream to a file first, or serve it as http://... or "
        "rtsp://... and open that address."
    )
