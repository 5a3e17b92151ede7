"""Emotion classification with a .tflite model through LiteRT (``ai-edge-litert``).

A model is two files: ``NAME.tflite`` and its sidecar ``NAME.json``, which carries what inference
needs to match training (label names, input size, colour, scaling, crop box scale, calibration
temperature) and the figures the model card quotes. Both are validated when the model loads, so a
missing, corrupt or mismatched model fails at once with a message naming the file: every sidecar
field in :mod:`ferdesk.vision.model_files` (which also documents the format), the model's bytes
against the SHA-256 its sidecar recorded at export, and the model's tensors against the sidecar.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ferdesk.vision.model_files import (
    SIDECAR_FORMAT,
    SIDECAR_VERSION,
    ModelError,
    ModelInfo,
    check_model_digest,
    read_sidecar,
    sidecar_path,
    trust_model_from_environment,
    write_sidecar,
)
from ferdesk.vision.native_logs import quiet_native_logs
from ferdesk.vision.paths import default_emotion_model
from ferdesk.vision.preprocess import preprocess_batch

__all__ = [
    "SIDECAR_FORMAT",
    "SIDECAR_VERSION",
    "EmotionClassifier",
    "ModelError",
    "ModelInfo",
    "calibrate",
    "read_sidecar",
    "sidecar_path",
    "write_sidecar",
]


#: One view of a face for :meth:`EmotionClassifier.predict`; None means the configured views.
VIEWS = (None, "plain", "mirror")


class EmotionClassifier:
    """A .tflite emotion model: a batch of preprocessed faces in, class probabilities out.

    ``num_threads=1`` by default: the app runs detection and classification in one worker and a
    laptop's other cores belong to the UI and speech. Calibrated by the sidecar's temperature.
    ``flip_tta`` averages each face with its mirror image (test-time augmentation: twice the
    cost, usually a point of accuracy); None takes the sidecar's recommendation. ``trust_model``
    loads a model whose SHA-256 differs from its sidecar's (edited on purpose); None takes
    ``$FERDESK_TRUST_MODEL``.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        num_threads: int = 1,
        flip_tta: bool | None = None,
        trust_model: bool | None = None,
    ) -> None:
        path = Path(model_path) if model_path is not None else default_emotion_model()
        if not path.is_file():
            raise ModelError(
                f"Emotion model not found: {path}. Pass --model PATH to a .tflite file exported by "
                f"'python -m training export', or reinstall ferdesk to restore the shipped model."
            )
        self.path = path
        self.info = read_sidecar(path)
        trusted = trust_model_from_environment() if trust_model is None else bool(trust_model)
        check_model_digest(path, self.info, trusted)
        self.flip_tta = self.info.flip_tta if flip_tta is None else bool(flip_tta)
        from ai_edge_litert.interpreter import Interpreter

        try:
            with quiet_native_logs():
                self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"{path}: not a valid TensorFlow Lite model ({error}).") from None
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(
                f"{path}: expected one input and one output, got {len(inputs)} and {len(outputs)}."
            )
        self._input = inputs[0]
        self._output = outputs[0]
        size = self.info.preprocess.input_size
        shape = tuple(int(v) for v in self._input["shape"])
        if shape[1:] != (size, size, 1):
            raise ModelError(
                f"{path}: the model takes input {shape[1:]}, but its sidecar says "
                f"({size}, {size}, 1); the two files do not belong together."
            )
        classes = int(self._output["shape"][-1])
        if classes != len(self.info.labels):
            raise ModelError(
                f"{path}: the model has {classes} outputs but its sidecar lists {len(self.info.labels)} "
                f"labels {list(self.info.labels)}; the two files do not belong together."
            )
        self._batch = int(self._input["shape"][0])

    @property
    def labels(self) -> tuple[str, ...]:
        return self.info.labels

    @property
    def input_size(self) -> int:
        return self.info.preprocess.input_size

    def _quantize(self, faces: np.ndarray) -> np.ndarray:
        dtype = self._input["dtype"]
        if dtype == np.float32:
            return faces
        scale, zero_point = self._input["quantization"]
        return np.clip(np.round(faces / scale + zero_point), np.iinfo(dtype).min, np.iinfo(dtype).max).astype(
            dtype
        )

    def _dequantize(self, values: np.ndarray) -> np.ndarray:
        if self._output["dtype"] == np.float32:
            return values
        scale, zero_point = self._output["quantization"]
        return (values.astype(np.float32) - zero_point) * scale

    def predict(self, faces: np.ndarray, *, view: str | None = None) -> np.ndarray:
        """Probabilities ``(N, classes)`` for preprocessed faces ``(N, S, S, 1)`` float32 in [0, 1].

        ``view`` None runs the configured views (both with ``flip_tta``); ``"plain"`` or
        ``"mirror"`` runs that one view alone, one pass: the live pipeline alternates them
        frame by frame and lets the tracker's smoothing do the averaging.
        """
        if view not in VIEWS:
            raise ValueError(f"view == {view!r}, must be one of {VIEWS}.")
        faces = self._checked_faces(faces)
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        if view == "plain":
            probabilities = self._run(faces)
        elif view == "mirror":
            probabilities = self._run(np.ascontiguousarray(faces[:, :, ::-1, :]))
        elif self.flip_tta:
            both = self._run(np.concatenate([faces, faces[:, :, ::-1, :]]))
            probabilities = (both[: len(faces)] + both[len(faces) :]) / 2.0
        else:
            probabilities = self._run(faces)
        return calibrate(probabilities, self.info.temperature)

    def _checked_faces(self, faces: np.ndarray) -> np.ndarray:
        """``faces`` as float32, or a ValueError that says how to make them (a wrong shape)."""
        faces = np.asarray(faces, dtype=np.float32)
        size = self.input_size
        if faces.ndim != 4 or faces.shape[1:] != (size, size, 1):
            raise ValueError(
                f"predict expects preprocessed faces of shape (N, {size}, {size}, 1); got {faces.shape}. "
                "Use ferdesk.vision.preprocess.preprocess_face on each crop."
            )
        return faces

    def _run(self, faces: np.ndarray) -> np.ndarray:
        size = self.input_size
        if self._batch != len(faces):
            self._interpreter.resize_tensor_input(self._input["index"], [len(faces), size, size, 1])
            self._interpreter.allocate_tensors()
            self._input = self._interpreter.get_input_details()[0]
            self._output = self._interpreter.get_output_details()[0]
            self._batch = len(faces)
        self._interpreter.set_tensor(self._input["index"], self._quantize(np.ascontiguousarray(faces)))
        self._interpreter.invoke()
        return self._dequantize(self._interpreter.get_tensor(self._output["index"])).copy()

    def classify_crops(self, crops: list[np.ndarray], *, view: str | None = None) -> np.ndarray:
        """Probabilities for raw face crops (RGB/gray uint8, any size), via ``preprocess_face``."""
        return self.predict(preprocess_batch(crops, self.input_size), view=view)


def calibrate(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scale softmax outputs (T > 1 softens over-confident models)."""
    probabilities = np.asarray(probabilities, np.float32)
    if temperature == 1.0 or len(probabilities) == 0:
        return probabilities / np.clip(probabilities.sum(axis=1, keepdims=True), 1e-12, None)
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / np.float32(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)
