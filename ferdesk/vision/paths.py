"""Where ferdesk finds its shipped models and assets: installed wheel, PyInstaller bundle, checkout.

The repository keeps them at the top level (``models/``, ``assets/``); the wheel carries them as
package data ``ferdesk/models`` and ``ferdesk/assets`` (``setup.py`` maps them in), and the bundle
keeps the same layout under ``sys._MEIPASS``. Order of precedence:

1. ``$FERDESK_MODELS`` (models only): a folder the user chose.
2. Package data, found through :mod:`importlib.resources` (wheel, sdist install, bundle).
3. ``sys._MEIPASS/models`` / ``assets``: the layout of bundles built before the package-data one.
4. The checkout's top-level folder (editable install, or running from the source tree).

The emotion models the app offers are every ``*.tflite`` of that folder with a valid emotion
sidecar (:func:`emotion_models`); the face detectors there have none and are never offered.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ferdesk.vision.model_files import ModelInfo

log = logging.getLogger(__name__)

DEFAULT_EMOTION_MODEL = "ferdesk_emotion.tflite"

#: The data sets training writes as a sidecar's ``training.source``, as people name them.
DATASET_NAMES: dict[str, str] = {"fer2013": "FER2013", "ferplus": "FER+", "ferplus8": "FER+"}
#: A sidecar's optional ``description`` is shown at most this long (a sentence, not a model card).
MAX_DESCRIPTION_LENGTH = 300

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


# -- the emotion models the app offers ------------------------------------------------------------


def emotion_models(folder: str | os.PathLike | None = None) -> list[tuple[str, ModelInfo]]:
    """(file name, sidecar info) of every emotion model in ``folder`` (default: :func:`models_dir`).

    An emotion model is a ``*.tflite`` whose ``.json`` sidecar is a valid emotion sidecar. Files
    without one (the BlazeFace detectors) are left out quietly; a model whose sidecar is broken is
    left out with a logged warning, never an exception, so one bad file cannot take the choice
    away. The default model comes first, then the others by file name. No model is loaded: the
    sidecars alone are read, and loading (when the user picks one) checks the rest.
    """
    from ferdesk.vision.model_files import ModelError, read_sidecar, sidecar_path

    where = Path(folder) if folder is not None else models_dir()
    try:
        candidates = sorted(path for path in where.glob("*.tflite") if path.is_file())
    except OSError as error:
        log.warning("the models folder %s cannot be listed: %s", where, error)
        return []
    found: list[tuple[str, ModelInfo]] = []
    for path in candidates:
        if not sidecar_path(path).is_file():
            continue  # a detector, or a file that is no emotion model
        try:
            found.append((path.name, read_sidecar(path)))
        except ModelError as error:
            log.warning("emotion model %s left out of the choice: %s", path.name, error)
    found.sort(key=lambda entry: (entry[0] != DEFAULT_EMOTION_MODEL, entry[0]))
    return found


def emotion_model_setting(name: Any) -> str:
    """``name`` as the emotion-model setting stores it: "" for the default, else a model file name.

    Raises ``ValueError`` (a ``ModelError`` for a broken sidecar) saying why ``name`` cannot be
    used: not a plain file name, not in the models folder, or without a valid sidecar.
    """
    from ferdesk.vision.model_files import read_sidecar

    text = "" if name is None else str(name).strip()
    if text in ("", DEFAULT_EMOTION_MODEL):
        return ""
    if Path(text).name != text or "/" in text or "\\" in text or text in (".", ".."):
        raise ValueError(f"{text!r} is not a file name in the models folder")
    if Path(text).suffix.lower() != ".tflite":
        raise ValueError(f"{text!r} is not a .tflite model file")
    path = models_dir() / text
    if not path.is_file():
        raise ValueError(f"{text} is not in the models folder {models_dir()}")
    read_sidecar(path)
    return text


def emotion_model_path(setting: str) -> Path:
    """The file an emotion-model setting ("" = the default) names, in :func:`models_dir`."""
    return models_dir() / (setting or DEFAULT_EMOTION_MODEL)


def _sidecar_text(value: Any, limit: int) -> str:
    """A free-form sidecar string fit to show: one line, no control characters, at most ``limit``."""
    if not isinstance(value, str):
        return ""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def emotion_model_dataset(info: ModelInfo) -> str:
    """The data set the model learnt from ("FER2013", "FER+"), from its sidecar; "" if unknown."""
    training = info.raw.get("training")
    source = training.get("source") if isinstance(training, dict) else None
    if not isinstance(source, str) or not source.strip():
        return ""
    return DATASET_NAMES.get(source.strip().lower(), _sidecar_text(source, 40))


def emotion_model_summary(info: ModelInfo) -> str:
    """What a model tells apart, in words: "FER+, 8 expressions with contempt"."""
    count = f"{len(info.labels)} expressions"
    if "contempt" in info.labels:
        count += " with contempt"
    dataset = emotion_model_dataset(info)
    return f"{dataset}, {count}" if dataset else count


def emotion_model_title(file_name: str, info: ModelInfo) -> str:
    """A model's entry in the settings: "FER+, 8 expressions with contempt — ferdesk_ferplus"."""
    return f"{emotion_model_summary(info)} — {Path(file_name).stem}"


def emotion_model_description(file_name: str, info: ModelInfo) -> str:
    """A few sentences on a model for its accessible description: its own words, classes, figures."""
    parts = []
    described = _sidecar_text(info.raw.get("description"), MAX_DESCRIPTION_LENGTH)
    if described:
        parts.append(described if described.endswith((".", "!", "?", "…")) else described + ".")
    parts.append(f"{Path(file_name).stem} tells apart {', '.join(info.labels)}.")
    # The figure as the app runs the model (with its mirror image, where the sidecar asks for it);
    # older sidecars carry only the single-pass one.
    as_run = info.metrics.get("as_run")
    as_run = as_run if isinstance(as_run, dict) else {}
    accuracy = as_run.get("privatetest_accuracy", info.metrics.get("privatetest_accuracy"))
    if isinstance(accuracy, int | float) and not isinstance(accuracy, bool) and math.isfinite(accuracy):
        dataset = emotion_model_dataset(info) or "its"
        how = " as ferdesk runs it" if "privatetest_accuracy" in as_run else ""
        parts.append(
            f"It named the expression of {100 * accuracy:.1f} % of the {dataset} test faces correctly{how}."
        )
    return " ".join(parts)
