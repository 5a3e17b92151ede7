"""Frame sources: a webcam, a video file, a still image, a folder of images and the demo clip.

Everything the live app shows comes through one interface, :class:`FrameSource`, so the runner
(``ferdesk.live``) treats a camera and a file alike: ``open()``, then ``read()`` until it returns
None (a finite stream ended) or raises :class:`CaptureError` (a camera was lost), then
``close()``. A file plays in real time, like a camera: ``read()`` waits for the next frame's due
time, so the live loop drops frames the same way for both and latency never grows.

Every ``Frame.rgb`` is RGB uint8, C-contiguous and **read-only** (a still image hands out the
same pixels again and again): copy it before drawing on it. The frames carry an ``index``
counting the frames read from the source (gaps downstream = dropped frames) and a
``time.monotonic()`` timestamp taken when the frame was captured.

No Qt here; OpenCV is imported when a camera or video is opened, not when this module loads.
"""

from __future__ import annotations

import abc
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ferdesk.vision.imageio import IMAGE_SUFFIXES, ImageLoadError, is_image_file, load_image
from ferdesk.vision.paths import assets_dir
from ferdesk.vision.results import Frame

#: Video containers ferdesk offers to open (OpenCV's FFmpeg backend decodes all of them).
VIDEO_SUFFIXES: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".wmv"}
)

#: How often a still image (and each picture of an image folder) is handed out again.
STILL_FPS = 15.0

#: Used when a video file does not state a usable frame rate.
FALLBACK_VIDEO_FPS = 25.0

DEMO_FILE = "demo.mp4"

#: Said after "not found" and "not supported": short, since it may be spoken aloud.
_SPEC_HELP = (
    "Open a camera by number (0, 1, ...), a video file (MP4, AVI, MKV, MOV, WebM), an image, "
    "a folder of images, or 'demo'."
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


class CameraSource(FrameSource):
    """A webcam through OpenCV; frames arrive BGR and are converted to RGB once, here.

    ``device`` is a camera number or a device path (``/dev/video0``, ``/dev/v4l/by-id/...``).
    ``width``/``height`` ask the camera for a capture size; it may pick the nearest it supports.
    """

    is_live = True

    def __init__(
        self,
        device: int | str,
        *,
        width: int | None = None,
        height: int | None = None,
        mirror: bool = False,
    ) -> None:
        super().__init__(mirror=mirror)
        for name, value in (("width", width), ("height", height)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} == {value}, must be > 0 (or None for the camera's default).")
        self.device = device
        self.requested_size = (width, height)
        self.label = f"Camera {device}"
        self.name = self.label
        self.fps = None
        self._capture = None

    @property
    def is_open(self) -> bool:
        return self._capture is not None

    def _not_available(self) -> CaptureError:
        return CaptureError(f"{self.label} could not be opened (busy or not connected).")

    def open(self) -> None:
        if self._capture is not None:
            return
        if isinstance(self.device, int) and _camera_device_exists(self.device) is False:
            # No device node: don't ask OpenCV, which would only print a warning and fail.
            raise self._not_available()
        if isinstance(self.device, str) and not os.path.exists(self.device):
            raise self._not_available()
        import cv2

        capture = cv2.VideoCapture(self.device, _camera_backend())
        try:
            if not capture.isOpened():
                raise self._not_available()
            width, height = self.requested_size
            if width:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            if height:
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            ok, first = capture.read()
            if not ok or first is None:
                raise CaptureError(f"{self.label} opened but sends no pictures (in use by another program?).")
        except BaseException:
            capture.release()
            raise
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps <= 240 else None
        self.name = f"{self.label} ({first.shape[1]}x{first.shape[0]})"
        self._capture = capture

    def read(self) -> Frame | None:
        import cv2

        self._ensure_open()
        ok, bgr = self._capture.read()
        timestamp = time.monotonic()
        if not ok or bgr is None:
            raise CaptureError(f"{self.label} stopped sending pictures (disconnected?).")
        return self._make_frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), timestamp)

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()


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
        self._capture = None
        self._pending = None  # the first frame, read by open() to prove the file decodes
        self._pacer: _Pacer | None = None

    @property
    def is_open(self) -> bool:
        return self._capture is not None

    def _open_capture(self):
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

        if not self.path.is_file():
            raise CaptureError(f"{self.path}: the video file is missing.")
        if self.path.stat().st_size == 0:
            raise CaptureError(f"{self.path}: the video file is empty (0 bytes).")
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

    def _rewind(self):
        """The first frame again, or None if the file no longer plays."""
        import cv2

        self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, bgr = self._capture.read()
        if ok and bgr is not None:
            return bgr
        # Seeking is unreliable in some containers: start over from a fresh reader.
        self._capture.release()
        self._capture = self._open_capture()
        if self._capture is None:
            return None
        ok, bgr = self._capture.read()
        return bgr if ok else None

    def read(self) -> Frame | None:
        import cv2

        self._ensure_open()
        if self._pending is not None:
            bgr, self._pending = self._pending, None
        else:
            ok, bgr = self._capture.read()
            if not ok or bgr is None:
                if not self.loop:
                    return None
                bgr = self._rewind()
                if bgr is None:
                    self.close()
                    raise self._unreadable("stopped playing when starting over.")
        if self._pacer is not None:
            self._pacer.wait()
        return self._make_frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

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
        except ImageLoadError as error:
            raise CaptureError(str(error)) from None
        rgb.flags.writeable = False
        self._rgb = rgb
        self.name = f"{self.label} ({rgb.shape[1]}x{rgb.shape[0]})"
        self._flipped = None
        self._pacer.restart()

    def read(self) -> Frame | None:
        self._ensure_open()
        if self.realtime:
            self._pacer.wait()
        if not self.mirror:
            return self._stamp(self._rgb)
        if self._flipped is None:  # flip once, not per frame
            import cv2

            self._flipped = cv2.flip(self._rgb, 1)
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
                raise BadFrameError(f"Skipped a picture: {error}") from None
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

    ``spec``: a camera number ("0"), a device ("/dev/video0"), a video file, an image file, a
    folder of images, or "demo". ``loop`` replays files and folders at their end (a still image
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
    path = Path(text).expanduser()
    if not path.exists():
        raise CaptureError(f"{text}: no such file or folder. {_SPEC_HELP}")
    if path.is_dir():
        if not list_images(path):
            raise CaptureError(f"{path}: the folder holds no images ({_IMAGE_KINDS}). {_SPEC_HELP}")
        return ImageFolderSource(path, loop=loop, mirror=mirror, realtime=realtime)
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return VideoFileSource(path, loop=loop, mirror=mirror, realtime=realtime)
    if suffix in IMAGE_SUFFIXES:
        return ImageSource(path, mirror=mirror, realtime=realtime)
    raise CaptureError(
        f"{path}: not a video or image file ferdesk can open ('{suffix or 'no suffix'}'). {_SPEC_HELP}"
    )
