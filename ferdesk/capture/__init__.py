"""Where frames come from: cameras, video files, still images, image folders and the demo clip.

``open_source(spec)`` turns what the user picked ("0", "/dev/video0", "clip.mp4", "photo.jpg",
a folder, "demo") into a :class:`FrameSource`; ``list_cameras()`` finds the cameras that open.
Plain Python, no Qt: the live runner (``ferdesk.live``) reads these in its capture thread.
"""

from __future__ import annotations

from ferdesk.capture.sources import (
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
    VideoFileSource,
    list_cameras,
    list_images,
    open_source,
)

__all__ = [
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
    "VideoFileSource",
    "list_cameras",
    "list_images",
    "open_source",
]
