"""Where ferdesk finds its shipped models and assets: installed wheel, PyInstaller bundle, checkout.

The repository keeps them at the top level (``models/``, ``assets/``); the wheel carries them as
package data ``ferdesk/models`` and ``ferdesk/assets`` (``setup.py`` maps them in), and the bundle
keeps the same layout under ``sys._MEIPASS``. Order of precedence:

1. ``$FERDESK_MODELS`` (models only): a folder the user chose.
2. Package data, found through :mod:`importlib.resources` (wheel, sdist install, bundle).
3. ``sys._MEIPASS/models`` / ``assets``: the layout of bundles built before the package-data one.
4. The checkout's top-level folder (editable install, or running from the source tree).
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

DEFAULT_EMOTION_MODEL = "ferdesk_emotion.tflite"

#: Set to a folder to load every model (emotion and detector) from it instead of the shipped ones.
MODELS_ENV = "FERDESK_MODELS"


def _package_data_dir(name: str) -> Path | None:
    """``ferdesk/<name>`` as a real folder when the package carries it (wheel, bundle), else None."""
    try:
        candidate = resources.files("ferdesk") / name
    except (ModuleNotFoundError, TypeError):
        return None
    # ferdesk is a plain package on disk in every supported install (no zip import), so the
    # traversable is a real path and can be handed to LiteRT, MediaPipe and OpenCV as a file name.
    path = Path(str(candidate))
    return path if path.is_dir() else None


def _shipped_dir(name: str) -> Path:
    package_data = _package_data_dir(name)
    if package_data is not None:
        return package_data
    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root and (Path(bundle_root) / name).is_dir():
        return Path(bundle_root) / name
    # ferdesk/vision/paths.py → the checkout root is three levels up.
    return Path(__file__).resolve().parent.parent.parent / name


def models_dir() -> Path:
    """The folder holding the emotion model and the face detectors (see the module notes)."""
    override = os.environ.get(MODELS_ENV)
    if override:
        return Path(override)
    return _shipped_dir("models")


def default_emotion_model() -> Path:
    return models_dir() / DEFAULT_EMOTION_MODEL


def assets_dir() -> Path:
    """The folder holding the demo clip (``demo.mp4``) and the icons."""
    return _shipped_dir("assets")


def icon_path() -> Path:
    """ferdesk's scalable icon (``assets/icons/ferdesk.svg``)."""
    return assets_dir() / "icons" / "ferdesk.svg"
