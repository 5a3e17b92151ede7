"""Accurate mode: several emotion networks, each seeing several views of a face, averaged.

A single network's guess on a 48x48 face is noisy; averaging the calibrated probabilities of
diverse networks, and of a few views of the face per network (its mirror image, or ten crops), is
the usual way to buy accuracy with time. :class:`EnsembleClassifier` does that behind the same
surface as :class:`~ferdesk.vision.classifier.EmotionClassifier` (``labels``, ``input_size``,
``info``, ``predict``, ``classify_crops``), so :class:`~ferdesk.vision.analyze.FaceAnalyzer`,
``ferdesk predict --accurate`` and the app's "Accurate mode" setting use it unchanged.

What it runs is listed in a manifest, ``models/ferdesk_accurate.json`` by default::

    {"format": "ferdesk-accurate-mode", "version": 1,
     "members": [{"model": "ferdesk_emotion.tflite", "views": "tencrop"},
                 {"model": "another_network.tflite", "views": "flip"}],
     "selection": {...}}

``model`` is a ``.tflite`` file (with its sidecar) relative to the manifest's folder; ``views`` is
one of :data:`VIEW_PASSES`: ``none`` (the face as it is), ``flip`` (the face and its mirror image)
or ``tencrop`` (:func:`~ferdesk.vision.preprocess.ten_crops`). ``selection`` and ``note`` are
free-form (how the choice was made, its measured figures). Each member averages its views'
probabilities and calibrates the average with its own sidecar temperature, exactly as
``EmotionClassifier`` does with its flip views; the ensemble then averages the members' calibrated
probabilities. The members must agree on labels, input size and face box scale (one crop per face
feeds them all), else loading fails with a message naming both files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ferdesk.vision.classifier import EmotionClassifier, ModelError, ModelInfo, calibrate
from ferdesk.vision.paths import models_dir
from ferdesk.vision.preprocess import mirror_faces, preprocess_batch, ten_crops

MANIFEST_FORMAT = "ferdesk-accurate-mode"
MANIFEST_VERSION = 1
#: The shipped manifest, in the models folder (``$FERDESK_MODELS`` moves it with the models).
DEFAULT_MANIFEST = "ferdesk_accurate.json"

#: Views a member may see of each face, and the network passes each costs per face.
VIEW_PASSES: dict[str, int] = {"none": 1, "flip": 2, "tencrop": 10}

#: An ensemble is a handful of networks; a manifest listing more is a mistake, not a plan.
MAX_MEMBERS = 16
MAX_MANIFEST_BYTES = 1024 * 1024
_MEMBER_KEYS = {"model", "views", "note"}
_TOP_LEVEL_KEYS = {"format", "version", "members", "selection", "note"}

#: What to tell the user who cannot fix a manifest: how to run without it.
_WAY_OUT = "untick Accurate mode in the settings (or run without --accurate) to use the default model"


class FaceClassifier(Protocol):
    """What :class:`~ferdesk.vision.analyze.FaceAnalyzer` needs of a classifier.

    :class:`EmotionClassifier` and :class:`EnsembleClassifier` are both one.
    """

    info: ModelInfo

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def input_size(self) -> int: ...

    def predict(self, faces: np.ndarray) -> np.ndarray: ...

    def classify_crops(self, crops: list[np.ndarray]) -> np.ndarray: ...


def default_manifest() -> Path:
    return models_dir() / DEFAULT_MANIFEST


# --------------------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class MemberSpec:
    """One manifest entry: a model file (absolute, resolved) and the views it sees of each face."""

    model: Path
    views: str

    @property
    def passes(self) -> int:
        return VIEW_PASSES[self.views]


@dataclass(frozen=True)
class AccurateManifest:
    """A validated manifest: its file and its members, in order."""

    path: Path
    members: tuple[MemberSpec, ...]
    raw: dict

    @property
    def passes_per_face(self) -> int:
        """Network passes per face, all members together (the cost, if members cost alike)."""
        return sum(member.passes for member in self.members)


def _manifest_error(where: Path, problem: str) -> ModelError:
    return ModelError(f"{where}: {problem}; {_WAY_OUT}.")


def _member(where: Path, index: int, entry: Any) -> MemberSpec:
    name = f"members[{index}]"
    if not isinstance(entry, dict):
        raise _manifest_error(
            where, f'{name} must be an object such as {{"model": "NAME.tflite", "views": "flip"}}'
        )
    unknown = sorted(set(entry) - _MEMBER_KEYS)
    if unknown:
        raise _manifest_error(
            where, f"{name} has unknown key(s) {unknown}; a member takes {sorted(_MEMBER_KEYS)}"
        )
    model = entry.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _manifest_error(where, f'{name}.model must name a .tflite file, e.g. "ferdesk_emotion.tflite"')
    relative = Path(model)
    if relative.is_absolute() or ".." in relative.parts:
        raise _manifest_error(
            where, f"{name}.model == {model!r} must be a file name relative to the manifest's folder"
        )
    if relative.suffix.lower() != ".tflite":
        raise _manifest_error(where, f"{name}.model == {model!r} must be a .tflite file")
    views = entry.get("views")
    if views not in VIEW_PASSES:
        raise _manifest_error(
            where,
            f"{name}.views == {json.dumps(views)} is not a known view; use one of {sorted(VIEW_PASSES)}",
        )
    path = where.parent / relative
    if not path.is_file():
        raise _manifest_error(where, f"member file {path} ({name}.model) is missing")
    return MemberSpec(path, str(views))


def read_manifest(path: str | os.PathLike | None = None) -> AccurateManifest:
    """Read and check a manifest (default: the shipped one); every problem is a :class:`ModelError`.

    Cheap (no model is loaded), so the settings dialog can state the cost from it. Member files
    are checked to exist here; their sidecars and digests are checked when they load.
    """
    where = Path(path) if path is not None else default_manifest()
    if not where.is_file():
        raise _manifest_error(where, "the accurate-mode manifest is missing (reinstall ferdesk to restore)")
    try:
        if where.stat().st_size > MAX_MANIFEST_BYTES:
            raise _manifest_error(where, f"too large for a manifest (over {MAX_MANIFEST_BYTES:,} bytes)")
        data = json.loads(where.read_bytes().decode("utf-8"))
    except ModelError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise _manifest_error(where, f"not valid JSON ({error})") from None
    except OSError as error:
        raise _manifest_error(where, f"cannot be read ({error.strerror or error})") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise _manifest_error(
            where, f'not an accurate-mode manifest (expected "format": "{MANIFEST_FORMAT}")'
        )
    version = data.get("version")
    if isinstance(version, bool) or version != MANIFEST_VERSION:
        raise _manifest_error(
            where, f"manifest version {version!r} is not supported (this ferdesk reads {MANIFEST_VERSION})"
        )
    unknown = sorted(set(data) - _TOP_LEVEL_KEYS)
    if unknown:
        raise _manifest_error(where, f"unknown key(s) {unknown}; a manifest takes {sorted(_TOP_LEVEL_KEYS)}")
    members = data.get("members")
    if not isinstance(members, list) or not 1 <= len(members) <= MAX_MEMBERS:
        raise _manifest_error(where, f'"members" must be a list of 1 to {MAX_MEMBERS} models')
    return AccurateManifest(where, tuple(_member(where, i, entry) for i, entry in enumerate(members)), data)


# --------------------------------------------------------------------------- the classifiers


def face_views(faces: np.ndarray, views: str) -> list[np.ndarray]:
    """The batches a member runs for ``faces`` ``(N, S, S, 1)``: one per view, each of that shape."""
    if views == "none":
        return [faces]
    if views == "flip":
        return [faces, mirror_faces(faces)]
    if views == "tencrop":
        return ten_crops(faces)
    raise ValueError(f"views == {views!r}, must be one of {sorted(VIEW_PASSES)}.")


class EnsembleMember(EmotionClassifier):
    """One network of an ensemble and the views it sees of each face.

    Its probabilities are its views' average calibrated with its sidecar temperature: with
    ``views="flip"`` exactly what ``EmotionClassifier(flip_tta=True)`` gives, with ``"none"``
    what ``flip_tta=False`` gives. All views run as one batch (one interpreter call).
    """

    def __init__(
        self,
        model_path: str | os.PathLike,
        views: str,
        num_threads: int = 1,
        trust_model: bool | None = None,
    ) -> None:
        if views not in VIEW_PASSES:
            raise ValueError(f"views == {views!r}, must be one of {sorted(VIEW_PASSES)}.")
        super().__init__(model_path, num_threads=num_threads, flip_tta=False, trust_model=trust_model)
        self.views = views

    @property
    def passes(self) -> int:
        return VIEW_PASSES[self.views]

    def predict(self, faces: np.ndarray, *, view: str | None = None) -> np.ndarray:
        if view is not None:  # one plain or mirrored pass, as EmotionClassifier gives it
            return super().predict(faces, view=view)
        faces = self._checked_faces(faces)
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        views = face_views(faces, self.views)
        raw = self._run(np.concatenate(views)).reshape(len(views), len(faces), -1)
        return calibrate(raw.mean(axis=0), self.info.temperature)


def _check_agreement(first: EnsembleMember, other: EnsembleMember) -> None:
    """Members feed on one crop per face and are averaged label by label: they must agree."""
    both = f"{first.path} and {other.path}"
    if other.labels != first.labels:
        raise ModelError(
            f"Accurate mode: {both} do not agree on labels ({list(first.labels)} vs "
            f"{list(other.labels)}); every member must give the same classes in the same order. "
            f"Fix the manifest, or {_WAY_OUT}."
        )
    if other.input_size != first.input_size:
        raise ModelError(
            f"Accurate mode: {both} do not agree on input size ({first.input_size} vs "
            f"{other.input_size} pixels); every member must take the same input. Fix the manifest, "
            f"or {_WAY_OUT}."
        )
    if other.info.box_scale != first.info.box_scale:
        raise ModelError(
            f"Accurate mode: {both} do not agree on the face box scale ({first.info.box_scale} vs "
            f"{other.info.box_scale}); one crop per face feeds every member. Fix the manifest, or "
            f"{_WAY_OUT}."
        )


class EnsembleClassifier:
    """The average of several members' calibrated probabilities; the surface of ``EmotionClassifier``.

    Build it from a manifest with :meth:`from_manifest` or from loaded members. ``info`` describes
    the ensemble as one model (its members' labels, input size and box scale; temperature 1, as
    the members are calibrated already), so the analyzer and the explanations need no special case.
    """

    def __init__(self, members: Sequence[EnsembleMember], manifest: AccurateManifest | None = None) -> None:
        if not members:
            raise ModelError(f"Accurate mode needs at least one member model; {_WAY_OUT}.")
        for member in members[1:]:
            _check_agreement(members[0], member)
        self.members = tuple(members)
        self.manifest = manifest
        self.path = manifest.path if manifest is not None else members[0].path
        first = members[0].info
        self.info = ModelInfo(
            name=" + ".join(f"{member.info.name} ({member.views})" for member in members),
            labels=first.labels,
            preprocess=first.preprocess,
            box_scale=first.box_scale,
            temperature=1.0,
            flip_tta=False,
            sha256=None,
            metrics={},
            raw={"members": [{"model": str(m.path), "views": m.views} for m in members]},
        )

    @classmethod
    def from_manifest(
        cls,
        manifest_path: str | os.PathLike | None = None,
        num_threads: int = 1,
        trust_model: bool | None = None,
    ) -> EnsembleClassifier:
        """Load every member the manifest lists (default: the shipped ``ferdesk_accurate.json``)."""
        manifest = read_manifest(manifest_path)
        members = [
            EnsembleMember(spec.model, spec.views, num_threads=num_threads, trust_model=trust_model)
            for spec in manifest.members
        ]
        return cls(members, manifest)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.info.labels

    @property
    def input_size(self) -> int:
        return self.info.preprocess.input_size

    @property
    def passes_per_face(self) -> int:
        """Network passes per face, all members together."""
        return sum(member.passes for member in self.members)

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, classes)`` for preprocessed faces ``(N, S, S, 1)``: the members' mean."""
        outputs = [member.predict(faces) for member in self.members]
        return np.mean(outputs, axis=0).astype(np.float32)

    def classify_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        """Probabilities for raw face crops (RGB/gray uint8, any size), via ``preprocess_face``."""
        return self.predict(preprocess_batch(crops, self.input_size))


def default_passes_per_face(model_path: str | os.PathLike | None = None) -> int:
    """Network passes per face of the default mode: 2 when the model's sidecar asks for flip TTA."""
    from ferdesk.vision.model_files import read_sidecar
    from ferdesk.vision.paths import default_emotion_model

    info = read_sidecar(model_path if model_path is not None else default_emotion_model())
    return VIEW_PASSES["flip"] if info.flip_tta else VIEW_PASSES["none"]


@dataclass(frozen=True)
class AccurateCost:
    """What accurate mode costs per face next to the default mode, from the manifest alone."""

    passes: int
    default_passes: int
    members: tuple[str, ...]

    @property
    def factor(self) -> float:
        """How many times the default's network passes per face (≈ the time, if members cost alike)."""
        return self.passes / self.default_passes

    def sentence(self) -> str:
        """The cost in words, for the settings dialog and the help."""
        # "times" in words, not "x": a screen reader says "5 times", not "5 x".
        shown = f"{round(self.factor, 1):g}"
        cost = "about the same time per face" if shown == "1" else f"about {shown} times the time per face"
        listed = ", ".join(self.members)
        return (
            f"It runs {self.passes} network passes per face ({listed}) where the default runs "
            f"{self.default_passes}, so it costs {cost}."
        )


def accurate_cost(manifest_path: str | os.PathLike | None = None) -> AccurateCost:
    """Accurate mode's cost per face next to the default (reads the manifest; loads no model).

    The time per face scales with the passes as long as the members cost about what the default
    network does; ``benchmarks/bench_inference.py`` measures both.
    """
    manifest = read_manifest(manifest_path)
    members = tuple(f"{spec.model.stem}: {spec.views}" for spec in manifest.members)
    return AccurateCost(manifest.passes_per_face, default_passes_per_face(), members)
