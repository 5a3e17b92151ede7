"""Knowledge distillation: a teacher's probabilities on the Training faces, mixed into the targets.

The accurate mode's ensemble (several networks, ten crops and mirrors each) is right more often
than the compact default, and its probabilities say *how* a face is ambiguous (a fearful face
that looks half surprised). A student trained towards them learns that from every face instead
of from one hard label (Hinton et al. 2015). The teacher is run once per run folder, on the
Training faces as they are (its own views: the manifest's ten-crop and flip), and cached there
as ``teacher_targets.npz``, so a resumed run never pays for it twice; augmentation then moves the
face and keeps its target, as with FER+ vote distributions.

The teacher is an app model (``.tflite`` with its sidecar, calibrated) or an accurate-mode
manifest (``.json``), read through the app's own classes: the targets are what the app computes.
Nothing here touches PublicTest or PrivateTest.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from training.evaluate import predict_tflite

TEACHER_CACHE = "teacher_targets.npz"
_REPO = Path(__file__).resolve().parent.parent


def resolve_teacher(path: str | os.PathLike) -> Path:
    """The teacher file: as given, else relative to the repository (configs name ``models/...``)."""
    given = Path(path).expanduser()
    for candidate in (given, _REPO / given):
        if candidate.is_file():
            if candidate.suffix not in (".tflite", ".json"):
                raise ValueError(
                    f"teacher {path!r}: expected an app model (.tflite with its sidecar) or an "
                    "accurate-mode manifest (.json such as models/ferdesk_accurate.json)."
                )
            return candidate.resolve()
    raise FileNotFoundError(
        f"teacher {path!r} not found (looked at {given} and {_REPO / given}); pass a .tflite model "
        "or an accurate-mode manifest such as models/ferdesk_accurate.json."
    )


def load_teacher(path: str | os.PathLike, num_threads: int = 2):
    """The app's classifier for ``path``: an ensemble for a manifest, else one network (its
    sidecar's flip view included)."""
    from ferdesk.vision.classifier import EmotionClassifier
    from ferdesk.vision.ensemble import EnsembleClassifier

    resolved = resolve_teacher(path)
    if resolved.suffix == ".json":
        return EnsembleClassifier.from_manifest(resolved, num_threads=num_threads)
    return EmotionClassifier(resolved, num_threads=num_threads)


def teacher_digest(path: str | os.PathLike) -> str:
    """SHA-256 of the teacher file and, for a manifest, of every member it lists: a changed
    teacher makes a stale cache, not silently reused targets."""
    resolved = resolve_teacher(path)
    digest = hashlib.sha256(resolved.read_bytes())
    if resolved.suffix == ".json":
        from ferdesk.vision.ensemble import read_manifest

        for member in read_manifest(resolved).members:
            digest.update(Path(member.model).read_bytes())
    return digest.hexdigest()


def teacher_probabilities(
    teacher: str | os.PathLike,
    images: np.ndarray,
    sources: list[str],
    class_names: tuple[str, ...] | list[str],
    cache_dir: Path,
    show_progress: bool = True,
) -> np.ndarray:
    """The teacher's probabilities ``(N, classes)`` for ``images``, from the cache when it holds
    exactly these faces (by source file) and this teacher (by digest)."""
    cache = Path(cache_dir) / TEACHER_CACHE
    digest = teacher_digest(teacher)
    # The faces by their last path parts (split folder, class folder, file): a data folder that
    # moved between sessions still matches its cache.
    sources = [os.sep.join(Path(source).parts[-3:]) for source in sources]
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as saved:
                meta = json.loads(str(saved["meta"]))
                if meta.get("digest") == digest and saved["sources"].tolist() == list(sources):
                    return saved["probabilities"].astype(np.float32)
        except (OSError, ValueError, KeyError):
            pass  # a damaged or foreign cache is recomputed, not trusted
        print(f"Teacher cache {cache} is for other faces or another teacher; computing it again.")
    classifier = load_teacher(teacher)
    if tuple(classifier.labels) != tuple(class_names):
        raise ValueError(
            f"teacher {teacher}: it gives {list(classifier.labels)}, the training data has "
            f"{list(class_names)}; distil from a model trained on the same classes in the same order."
        )
    print(f"Teacher {teacher}: {len(images)} Training faces (cached in {cache} for resumed runs).")
    probabilities = predict_tflite(classifier, images, show_progress=show_progress).astype(np.float32)
    tmp = cache.with_name(cache.stem + ".tmp.npz")
    meta = json.dumps({"teacher": str(teacher), "digest": digest, "labels": list(class_names)})
    np.savez_compressed(tmp, probabilities=probabilities, sources=np.asarray(sources), meta=np.asarray(meta))
    os.replace(tmp, cache)
    return probabilities


def distilled_targets(targets: np.ndarray, teacher: np.ndarray, weight: float) -> np.ndarray:
    """``weight`` of the teacher's distribution, the rest the data's own label (one-hot or votes)."""
    if targets.shape != teacher.shape:
        raise ValueError(f"targets {targets.shape} and teacher probabilities {teacher.shape} differ.")
    if not 0.0 < weight <= 1.0:
        raise ValueError(f"teacher_weight == {weight}, must be in (0, 1].")
    return ((1.0 - weight) * targets + weight * teacher).astype(np.float32)
