"""ferdesk: tells a blind or low-vision person, aloud, which emotion the faces in view show."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Face", "FaceAnalyzer", "__version__", "analyze_image", "analyze_video", "watch"]


def __getattr__(name: str):
    # Lazy: importing ferdesk (e.g. for --help) must not load MediaPipe or LiteRT.
    if name in ("analyze_image", "FaceAnalyzer", "Face"):
        from ferdesk.vision import analyze

        return getattr(analyze, name)
    if name in ("watch", "analyze_video"):
        from ferdesk import watching

        return getattr(watching, name)
    raise AttributeError(f"module 'ferdesk' has no attribute {name!r}")
