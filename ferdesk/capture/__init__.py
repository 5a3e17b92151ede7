"""Where frames come from: cameras (webcam or network), video files, images, image folders, the demo.

``open_source(spec)`` turns what the user picked ("0", "/dev/video0", "http://phone:8080/video",
"rtsp://camera/stream", "clip.mp4", "photo.jpg", a folder, "demo") into a :class:`FrameSource`;
``list_cameras()`` finds the cameras that open.
Plain Python, no Qt: the live runner (``ferdesk.live``) reads these in its capture thread.
"""

from __future__ import annotations

from ferdesk.capture.sources import (
    CAMERA_OPEN_TIMEOUT_S,
    CAMERA_READ_TIMEOUT_S,
    NETWORK_SCHEMES,
    STILL_FPS,
    VIDEO_SUFFIXES,
    BadFrameError,
    CameraInfo,
    CameraSource,
    CaptureError,
    DemoSource,
    FrameSource,
    ImageFolderSource,
    ImageSource,
    NetworkCameraSource,
    VideoFileSource,
    list_cameras,
    list_images,
    open_source,
)

__all__ = [
    "CAMERA_OPEN_TIMEOUT_S",
    "CAMERA_READ_TIMEOUT_S",
    "NETWORK_SCHEMES",
    "STILL_FPS",
    "VIDEO_SUFFIXES",
    "BadFrameError",
    "CameraInfo",
    "CameraSource",
    "CaptureError",
    "DemoSource",
    "FrameSource",
    "ImageFolderSource",
    "ImageSource",
    "NetworkCameraSource",
    "VideoFileSource",
    "list_cameras",
    "list_images",
    "open_source",
]
