"""An emotion model's two files: every sidecar field checked in one place, and the model's SHA-256.

A model is ``NAME.tflite`` plus its sidecar ``NAME.json``, which carries what inference needs to
match training. A wrong value there does not crash a model — it makes the app lie (a ``box_scale``
of 0 calls every face "too small to read", a ``temperature`` of 1e308 makes every face "expression
unclear"), so :func:`validate_sidecar` checks each field's type and range before anything uses it
and names the file and the field, scikit-learn style::

    models/ferdesk_emotion.json: "temperature" == 1e+308, must be a finite number in [0.05, 10].

The sidecar also records the SHA-256 of its ``.tflite`` (written by :func:`write_sidecar`, which
``python -m training export`` calls). :func:`check_model_digest` compares it at load, so a damaged
or altered model file is refused instead of quietly giving other predictions; a user who changed
the model on purpose says so with ``--trust-model`` or ``FERDESK_TRUST_MODEL=1``.

Sidecar format (``"format": "ferdesk-emotion-model"``, ``"version": 1``)::

    {"format": "ferdesk-emotion-model", "version": 1, "name": "vgg_compact",
     "labels": ["angry", ...], "preprocess": {"input_size": 48, "color": "gray", "scale": "0-1",
     "box_scale": 1.25}, "temperature": 1.0, "flip_tta": false, "sha256": "<64 hex digits>",
     "metrics": {...}, "training": {...}}

``sha256``, ``flip_tta``, ``metrics``, ``training``, ``name`` and ``box_scale`` may be absent
(sidecars written before they existed); every other field is required.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferdesk.vision.geometry import DEFAULT_BOX_SCALE
from ferdesk.vision.preprocess import PreprocessSpec

SIDECAR_FORMAT = "ferdesk-emotion-model"
SIDECAR_VERSION = 1

#: Set to 1 to load a model whose SHA-256 differs from its sidecar's (edited on purpose).
TRUST_MODEL_ENV = "FERDESK_TRUST_MODEL"

#: Ranges of the numeric fields, inclusive. Outside them the app would mislead its user.
INPUT_SIZE_RANGE = (8, 512)
BOX_SCALE_RANGE = (0.5, 4.0)
TEMPERATURE_RANGE = (0.05, 10.0)
LABEL_COUNT_RANGE = (2, 64)
MAX_LABEL_LENGTH = 40
MAX_NAME_LENGTH = 200
#: A sidecar is a few KB; anything this large is not one (and is not read into memory).
MAX_SIDECAR_BYTES = 4 * 1024 * 1024

#: Metrics the model card and the app may quote, with their ranges; other keys are free-form.
_FRACTION_METRIC = re.compile(r"(accuracy|macro_f1|ece|agreement_with_keras)$")
_COUNT_METRIC = re.compile(r"(_count|file_bytes)$")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ModelError(ValueError):
    """An emotion model could not be loaded; the message names the file and what to do."""


@dataclass(frozen=True)
class ModelInfo:
    """What a model's sidecar says about it, every field validated."""

    name: str
    labels: tuple[str, ...]
    preprocess: PreprocessSpec
    box_scale: float = DEFAULT_BOX_SCALE
    temperature: float = 1.0
    flip_tta: bool = False
    sha256: str | None = None
    metrics: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)


def sidecar_path(model_path: str | os.PathLike) -> Path:
    return Path(model_path).with_suffix(".json")


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def trust_model_from_environment() -> bool:
    return os.environ.get(TRUST_MODEL_ENV, "").strip().lower() in ("1", "true", "yes", "on")


# -- field checks -----------------------------------------------------------------------------


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(where: str, key: str, value: Any, expected: str) -> ModelError:
    return ModelError(f'{where}: "{key}" == {_shown(value)}, {expected}.')


def _number(where: str, key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(where, key, value, f"must be a finite number in [{low:g}, {high:g}]")
    if not low <= value <= high:
        raise _fail(where, key, value, f"must be a finite number in [{low:g}, {high:g}]")
    return float(value)


def _integer(where: str, key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(where, key, value, f"must be a whole number in [{low}, {high}]")
    return value


def _text(where: str, key: str, value: Any, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise _fail(where, key, value, f"must be a non-empty string of at most {max_length} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise _fail(where, key, value, "must not contain control characters")
    return value


def _object(where: str, key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise _fail(where, key, value, "must be a JSON object")
    return value


def _labels(where: str, value: Any) -> tuple[str, ...]:
    low, high = LABEL_COUNT_RANGE
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise _fail(where, "labels", value, f"must be a list of {low} to {high} class names")
    labels = tuple(_text(where, f"labels[{i}]", label, MAX_LABEL_LENGTH) for i, label in enumerate(value))
    seen: set[str] = set()
    for index, label in enumerate(labels):
        if label in seen:
            raise _fail(
                where, f"labels[{index}]", label, "repeats an earlier label; each class must be named once"
            )
        seen.add(label)
    return labels


def _metrics(where: str, value: Any, prefix: str = "metrics") -> dict:
    """Check the figures the app shows; ``as_run`` (the figures with the sidecar's views) nests."""
    metrics = _object(where, prefix, value)
    for key, number in metrics.items():
        name = f"{prefix}.{key}"
        if key == "as_run":
            _metrics(where, number, name)
        elif _FRACTION_METRIC.search(key):
            _number(where, name, number, 0.0, 1.0)
        elif _COUNT_METRIC.search(key):
            _integer(where, name, number, 0, 2**53)
        elif key.startswith("ms_per_"):
            _number(where, name, number, 0.0, 1e6)
    return metrics


def validate_sidecar(data: Any, where: str) -> ModelInfo:
    """Check every field of a parsed sidecar; ``where`` (the file's name) starts each message."""
    if not isinstance(data, dict):
        raise ModelError(
            f"{where}: not a ferdesk model sidecar (a JSON object was expected, got {type(data).__name__})."
        )
    if data.get("format") != SIDECAR_FORMAT:
        raise ModelError(f'{where}: not a ferdesk model sidecar (expected "format": "{SIDECAR_FORMAT}").')
    version = data.get("version")
    if isinstance(version, bool) or version != SIDECAR_VERSION:
        raise ModelError(
            f"{where}: sidecar version {version!r} is not supported (this ferdesk reads "
            f"version {SIDECAR_VERSION}); upgrade ferdesk or re-export the model."
        )
    if "labels" not in data:
        raise ModelError(f'{where}: "labels" is missing; it must list the class names in output order.')
    labels = _labels(where, data["labels"])

    if "preprocess" not in data:
        raise ModelError(f'{where}: "preprocess" is missing; it must say the input size, colour and scaling.')
    pre = _object(where, "preprocess", data["preprocess"])
    expected = PreprocessSpec()
    for key, wanted in (("color", expected.color), ("scale", expected.scale)):
        if pre.get(key) != wanted:
            raise _fail(
                where,
                f"preprocess.{key}",
                pre.get(key),
                f"must be {wanted!r}: that is what ferdesk's preprocess_face produces, and the model "
                f"would otherwise see different pixels than it was trained on",
            )
    if "input_size" not in pre:
        raise ModelError(f'{where}: "preprocess.input_size" is missing (the side of the square input: 48).')
    input_size = _integer(where, "preprocess.input_size", pre["input_size"], *INPUT_SIZE_RANGE)
    box_scale = DEFAULT_BOX_SCALE
    if "box_scale" in pre:
        box_scale = _number(where, "preprocess.box_scale", pre["box_scale"], *BOX_SCALE_RANGE)

    temperature = 1.0
    if "temperature" in data:
        temperature = _number(where, "temperature", data["temperature"], *TEMPERATURE_RANGE)
    flip_tta = data.get("flip_tta", False)
    if not isinstance(flip_tta, bool):
        raise _fail(where, "flip_tta", flip_tta, "must be true or false")
    name = Path(where).stem
    if "name" in data:
        name = _text(where, "name", data["name"], MAX_NAME_LENGTH)
    sha256 = data.get("sha256")
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.fullmatch(sha256)):
        raise _fail(where, "sha256", sha256, "must be the model file's SHA-256 as 64 lower-case hex digits")
    metrics = _metrics(where, data.get("metrics", {}))
    _object(where, "training", data.get("training", {}))
    return ModelInfo(
        name=name,
        labels=labels,
        preprocess=PreprocessSpec(input_size=input_size, color=expected.color, scale=expected.scale),
        box_scale=box_scale,
        temperature=temperature,
        flip_tta=flip_tta,
        sha256=sha256,
        metrics=dict(metrics),
        raw=data,
    )


def read_sidecar(model_path: str | os.PathLike) -> ModelInfo:
    """Read and validate ``model_path``'s sidecar; every problem is a :class:`ModelError`."""
    path = sidecar_path(model_path)
    if not path.is_file():
        raise ModelError(
            f"{path}: the model's sidecar file is missing. Every ferdesk model is a .tflite file plus "
            f"a .json sidecar with its labels and preprocessing; export models with "
            f"'python -m training export', which writes both."
        )
    try:
        size = path.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            raise ModelError(
                f"{path}: {size:,} bytes is too large for a model sidecar (at most "
                f"{MAX_SIDECAR_BYTES:,}); is this the right file?"
            )
        data = json.loads(path.read_bytes().decode("utf-8"))
    except ModelError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: the sidecar is not valid JSON ({error}).") from None
    except RecursionError:
        raise ModelError(f"{path}: the sidecar is not valid JSON (nested too deeply).") from None
    except OSError as error:
        raise ModelError(f"{path}: the sidecar cannot be read ({error.strerror or error}).") from None
    return validate_sidecar(data, str(path))


def check_model_digest(model_path: Path, info: ModelInfo, trust_model: bool) -> None:
    """Refuse a model whose bytes differ from the SHA-256 its sidecar recorded at export."""
    if info.sha256 is None or trust_model:
        return
    try:
        actual = file_sha256(model_path)
    except OSError as error:
        reason = error.strerror or error
        raise ModelError(f"{model_path}: the model file cannot be read ({reason}).") from None
    if actual != info.sha256:
        raise ModelError(
            f"{model_path}: the model file is damaged or was changed after export: its SHA-256 is "
            f"{actual[:16]}..., but {sidecar_path(model_path).name} records {info.sha256[:16]}.... "
            f"Reinstall ferdesk (or re-export the model) to restore it; if you changed the model on "
            f"purpose, run with --trust-model (or {TRUST_MODEL_ENV}=1)."
        )


def write_sidecar(
    model_path: str | os.PathLike,
    name: str,
    labels: tuple[str, ...] | list[str],
    box_scale: float = DEFAULT_BOX_SCALE,
    temperature: float = 1.0,
    metrics: dict | None = None,
    training: dict | None = None,
    flip_tta: bool = False,
    description: str = "",
) -> Path:
    """Write the sidecar for the (already written) ``model_path``, with the model's SHA-256.

    ``description`` (optional, a sentence) is what the settings dialog says of the model.

    ``python -m training export`` calls this after writing each ``.tflite``. The result is
    validated before it is written, so an export can never produce a sidecar ferdesk refuses.
    """
    spec = PreprocessSpec()
    data = {
        "format": SIDECAR_FORMAT,
        "version": SIDECAR_VERSION,
        "name": name,
        "labels": list(labels),
        "preprocess": {**spec.to_dict(), "box_scale": box_scale},
        "temperature": temperature,
        "flip_tta": flip_tta,
        "sha256": file_sha256(model_path),
        "metrics": metrics or {},
        "training": training or {},
    }
    if description:
        data["description"] = description
    path = sidecar_path(model_path)
    validate_sidecar(data, str(path))
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
