"""Where ferdesk finds its shipped models, in a source checkout and in a packaged bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_EMOTION_MODEL = "ferdesk_emotion.tflite"


def models_dir() -> Path:
    """``$FERDESK_MODELS``, else ``models/`` beside the package (checkout, wheel or bundle)."""
    override = os.environ.get("FERDESK_MODELS")
    if override:
        return Path(override)
    bundle_root = getattr(sys, "_MEIPASS", None)
    candidates = []
    if bundle_root:
        candidates.append(Path(bundle_root) / "models")
    package_dir = Path(__file__).resolve().parent.parent
    candidates += [package_dir / "models", package_dir.parent / "models"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[-1]


def default_emotion_model() -> Path:
    return models_dir() / DEFAULT_EMOTION_MODEL


def assets_dir() -> Path:
    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root and (Path(bundle_root) / "assets").is_dir():
        return Path(bundle_root) / "assets"
    return Path(__file__).resolve().parent.parent.parent / "assets"
