"""Measure a trained emotion model on a FER2013 split: the figures a model card quotes.

    python -m training evaluate ~/.cache/ferdesk/runs/vgg/best.keras --split PublicTest
    python -m training evaluate models/ferdesk_emotion.tflite --split PrivateTest --tta flip

A ``.keras`` checkpoint is the bare network (faces ``(N, 48, 48, 1)`` in [0, 1] → softmax); a
``.tflite`` model runs through the app's own :class:`~ferdesk.vision.classifier.EmotionClassifier`,
so its figures are exactly what ferdesk delivers (its sidecar's temperature included). The faces
come from :func:`training.data.load_split`, already through ``preprocess_face``.

Metrics are plain NumPy (no scikit-learn): accuracy, macro-F1 and per-class precision, recall, F1
and support, the confusion matrix, log loss and the expected calibration error. PublicTest is the
validation split; PrivateTest is the benchmark: report it, never choose a model by it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ferdesk.vision.classifier import EmotionClassifier
from ferdesk.vision.preprocess import ten_crops  # one definition, shared with the accurate mode
from training.figures import save_figure

#: Bins of the expected calibration error (the usual 15 equal-width confidence bins).
CALIBRATION_BINS = 15
#: Faces per inference call when evaluating (memory-friendly, fast on CPU).
EVAL_BATCH_SIZE = 128
MODEL_SUFFIXES = (".keras", ".tflite")


def _check_labels_probs(labels: np.ndarray, probs: np.ndarray, class_names: Sequence[str]) -> None:
    classes = len(class_names)
    if probs.ndim != 2 or probs.shape[1] != classes:
        raise ValueError(
            f"Expected probabilities of shape (N, {classes}) for classes {list(class_names)}, "
            f"got shape {probs.shape}."
        )
    if labels.ndim != 1 or len(labels) != len(probs):
        raise ValueError(
            f"Expected one integer label per row of probabilities ({len(probs)}), got labels of shape "
            f"{labels.shape}."
        )
    if len(labels) == 0:
        raise ValueError("Cannot evaluate on zero faces; the split is empty.")
    if labels.min() < 0 or labels.max() >= classes:
        raise ValueError(
            f"Labels must be class indices in 0..{classes - 1}; got values from {labels.min()} to "
            f"{labels.max()}."
        )


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``[true, predicted]``: row = the face's label, column = the model's answer."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, np.int64), np.asarray(predictions, np.int64)), 1)
    return matrix


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Mean gap between confidence and accuracy over equal-width confidence bins, weighted by size.

    ferdesk says "appears happy" or "expression unclear" from the confidence, so a confidence that
    means what it says matters as much as accuracy.
    """
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds confidences in (edges[i], edges[i+1]]; a confidence of exactly 0 joins bin 0.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    error = 0.0
    for index in range(bins):
        members = which == index
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def evaluate_probabilities(
    labels: Sequence[int] | np.ndarray, probs: np.ndarray, class_names: Sequence[str]
) -> dict:
    """All classification metrics for one set of predictions, as a JSON-ready dict.

    Precision of a class the model never predicts is 0 (scikit-learn's ``zero_division=0``).
    Macro averages run over the classes that occur in the labels or the predictions, as
    scikit-learn does by default, so a tiny sample without some class is not penalised for it.

    Keys: ``count``, ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1``,
    ``weighted_f1``, ``log_loss``, ``ece``, ``mean_confidence``, ``per_class`` (name → precision,
    recall, f1, support, predicted), ``confusion_matrix`` (counts, rows = true class) and
    ``confusion_matrix_normalized`` (each row divided by its support), ``class_names``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    _check_labels_probs(labels, probs, class_names)
    num_classes = len(class_names)
    predictions = probs.argmax(axis=1)
    matrix = confusion_matrix(labels, predictions, num_classes)
    true_positive = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, true_positive / predicted, 0.0)
        recall = np.where(support > 0, true_positive / support, 0.0)
        denominator = precision + recall
        f1 = np.where(denominator > 0, 2 * precision * recall / denominator, 0.0)
        normalized = np.where(support[:, None] > 0, matrix / support[:, None], 0.0)
    present = (support > 0) | (predicted > 0)
    true_probability = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    return {
        "count": len(labels),
        "accuracy": float(true_positive.sum() / len(labels)),
        "macro_precision": float(precision[present].mean()),
        "macro_recall": float(recall[present].mean()),
        "macro_f1": float(f1[present].mean()),
        "weighted_f1": float((f1 * support).sum() / support.sum()),
        "log_loss": float(-np.log(true_probability).mean()),
        "ece": expected_calibration_error(labels, probs),
        "mean_confidence": float(probs.max(axis=1).mean()),
        "class_names": list(class_names),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
                "predicted": int(predicted[i]),
            }
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": matrix.tolist(),
        "confusion_matrix_normalized": normalized.round(6).tolist(),
    }


def format_report(metrics: dict, title: str = "") -> str:
    """A per-class table like scikit-learn's ``classification_report``, plus the summary lines."""
    names = metrics["class_names"]
    width = max(12, *(len(name) for name in names))
    lines = [title] if title else []
    lines.append(f"{'':>{width}}  precision  recall  f1-score  support")
    for name in names:
        row = metrics["per_class"][name]
        lines.append(
            f"{name:>{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  "
            f"{row['f1']:8.4f}  {row['support']:7d}"
        )
    count = metrics["count"]
    lines.append("")
    lines.append(f"{'accuracy':>{width}}  {'':9}  {'':6}  {metrics['accuracy']:8.4f}  {count:7d}")
    lines.append(
        f"{'macro avg':>{width}}  {metrics['macro_precision']:9.4f}  {metrics['macro_recall']:6.4f}  "
        f"{metrics['macro_f1']:8.4f}  {count:7d}"
    )
    lines.append(f"{'weighted f1':>{width}}  {'':9}  {'':6}  {metrics['weighted_f1']:8.4f}  {count:7d}")
    lines.append(
        f"log loss {metrics['log_loss']:.4f}   calibration error (ECE) {metrics['ece']:.4f}   "
        f"mean confidence {metrics['mean_confidence']:.4f}"
    )
    return "\n".join(lines)


def plot_confusion_matrix(metrics: dict, out_png: str | os.PathLike, title: str = "") -> Path:
    """Row-normalised confusion matrix (each row is one true class, so the diagonal is recall)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = metrics["class_names"]
    normalized = np.asarray(metrics["confusion_matrix_normalized"], dtype=np.float64)
    counts = np.asarray(metrics["confusion_matrix"], dtype=np.int64)
    size = len(names)
    fig, axis = plt.subplots(figsize=(1.1 * size + 2.5, 1.0 * size + 2.0))
    image = axis.imshow(normalized, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="share of the true class")
    axis.set_xticks(range(size), names, rotation=35, ha="right", fontsize=11)
    axis.set_yticks(range(size), names, fontsize=11)
    axis.set_xlabel("predicted", fontsize=12)
    axis.set_ylabel("true", fontsize=12)
    for row in range(size):
        for column in range(size):
            value = normalized[row, column]
            axis.text(
                column,
                row,
                f"{value:.2f}\n({counts[row, column]})",
                ha="center",
                va="center",
                fontsize=9,
                color="white" if value > 0.55 else "black",
            )
    summary = f"accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}, n={metrics['count']}"
    axis.set_title(f"{title}\n{summary}" if title else summary, fontsize=11)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out_png, dpi=120)
    return out_png


def _progress(total: int, description: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="face", disable=not enabled, leave=False)


def _check_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(
            f"Expected preprocessed faces of shape (N, S, S, 1) (preprocess_face output), got {images.shape}."
        )
    return images


def load_keras_model(path: str | os.PathLike):
    """Load a bare network checkpoint (no optimizer needed to predict or convert)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Keras checkpoint not found: {path}.")
    import keras

    from training.precision import float32_copy

    try:
        # A run trained in mixed precision is evaluated, explained and exported in float32: the
        # .tflite the app runs, and the Keras reference it is checked against, compute alike.
        return float32_copy(keras.models.load_model(path, compile=False))
    except (ValueError, OSError, TypeError) as error:
        raise ValueError(
            f"{path}: could not load it as a Keras model ({error}). Expected a .keras file written by "
            "'python -m training train' (best.keras or last.keras in the run folder)."
        ) from None


def predict_keras(
    path_or_model, images: np.ndarray, batch_size: int = EVAL_BATCH_SIZE, show_progress: bool = False
) -> np.ndarray:
    """Softmax probabilities ``(N, classes)`` of a ``.keras`` checkpoint (or a loaded model)."""
    import keras

    model = (
        load_keras_model(path_or_model) if isinstance(path_or_model, (str, os.PathLike)) else path_or_model
    )
    images = _check_images(images)
    outputs = []
    with _progress(len(images), "keras", show_progress) as bar:
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            outputs.append(np.asarray(keras.ops.convert_to_numpy(model(batch, training=False)), np.float32))
            bar.update(len(batch))
    if not outputs:
        return np.zeros((0, int(model.output_shape[-1])), np.float32)
    return np.concatenate(outputs)


def predict_tflite(
    path_or_classifier,
    images: np.ndarray,
    num_threads: int = 1,
    batch_size: int = EVAL_BATCH_SIZE,
    show_progress: bool = False,
) -> np.ndarray:
    """Probabilities through the app's :class:`EmotionClassifier` (its temperature included), or
    through any classifier of the app's (an accurate-mode ensemble) passed in its place."""
    classifier = (
        path_or_classifier
        if hasattr(path_or_classifier, "predict")
        else EmotionClassifier(path_or_classifier, num_threads=num_threads)
    )
    images = _check_images(images)
    outputs = []
    with _progress(len(images), "tflite", show_progress) as bar:
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            outputs.append(classifier.predict(batch))
            bar.update(len(batch))
    if not outputs:
        return np.zeros((0, len(classifier.labels)), np.float32)
    return np.concatenate(outputs)


def flip_faces(images: np.ndarray) -> np.ndarray:
    """Mirror faces left-right (axis 2 of ``(N, H, W, 1)``)."""
    return np.ascontiguousarray(images[:, :, ::-1, :])


TTA_MODES = ("none", "flip", "tencrop")
TTA_PASSES = {"none": 1, "flip": 2, "tencrop": 10}


@dataclass
class Prediction:
    probs: np.ndarray
    #: The model's own labels (a .tflite sidecar's); None for a .keras checkpoint, which has none.
    class_names: tuple[str, ...] | None
    seconds: float
    passes: int


def model_kind(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise ValueError(
            f"{path}: expected a Keras checkpoint (.keras) or a TensorFlow Lite model (.tflite), "
            f"got a '{suffix or 'no'}' suffix."
        )
    return suffix[1:]


def predict_model(
    path: str | os.PathLike,
    images: np.ndarray,
    tta: str = "none",
    num_threads: int = 1,
    show_progress: bool = False,
) -> Prediction:
    """Probabilities of a ``.keras`` or ``.tflite`` model, optionally averaged with the mirror image.

    ``tta='flip'`` runs every face twice (as it is, and mirrored), so it doubles inference time;
    the app does this for a model whose sidecar sets ``flip_tta``, and ``tta`` here overrides it.
    """
    if tta not in TTA_MODES:
        raise ValueError(f"tta == {tta!r}, must be one of {', '.join(TTA_MODES)}.")
    path = Path(path)
    kind = model_kind(path)
    if not path.is_file():
        raise FileNotFoundError(f"Model not found: {path}.")
    if kind == "keras":
        model = load_keras_model(path)
        class_names: tuple[str, ...] | None = None

        def run(faces: np.ndarray) -> np.ndarray:
            return predict_keras(model, faces, show_progress=show_progress)
    else:
        # The app's own classes do the views, so a .tflite figure is what the app computes: the
        # views averaged, then calibrated once. ``tta`` decides them, not the sidecar's flip_tta.
        from ferdesk.vision.ensemble import EnsembleMember

        member = EnsembleMember(path, tta, num_threads=num_threads)  # tta names are its view names
        class_names = member.labels
        started = time.perf_counter()
        probs = predict_tflite(member, images, show_progress=show_progress)
        seconds = time.perf_counter() - started
        return Prediction(probs.astype(np.float32), class_names, seconds, TTA_PASSES[tta])

    started = time.perf_counter()
    if tta == "tencrop":
        probs = np.mean([run(view) for view in ten_crops(images)], axis=0)
    else:
        probs = run(images)
        if tta == "flip":
            probs = (probs + run(flip_faces(images))) / 2.0
    passes = TTA_PASSES[tta]
    seconds = time.perf_counter() - started
    return Prediction(probs.astype(np.float32), class_names, seconds, passes)


def default_out_dir(model_path: Path, split: str, tta: str) -> Path:
    """Beside the checkpoint when it sits in a run folder, else in the ferdesk cache."""
    suffix = f"{model_path.stem}-{split}" + (f"-tta_{tta}" if tta != "none" else "")
    if (model_path.parent / "config.json").is_file():
        return model_path.parent / f"eval-{suffix}"
    from training.data import cache_dir

    return cache_dir() / "evaluations" / f"{model_path.parent.name}-{suffix}"


def evaluate_model(
    model_path: str | os.PathLike,
    data_root: str | os.PathLike,
    split: str = "PublicTest",
    source: str = "fer2013",
    out_dir: str | os.PathLike | None = None,
    tta: str = "none",
    num_threads: int = 1,
    show_progress: bool = True,
) -> dict:
    """Evaluate one model on one split; writes ``metrics.json``, ``confusion_matrix.png``,
    ``report.txt`` and ``probabilities.npz`` to ``out_dir`` and returns the metrics record."""
    from training.data import load_split

    model_path = Path(model_path).expanduser()
    kind = model_kind(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"Model not found: {model_path}.")
    dataset = load_split(data_root, split, source, show_progress=show_progress)
    prediction = predict_model(model_path, dataset.images, tta, num_threads, show_progress)
    if prediction.probs.shape[1] != len(dataset.class_names) or (
        prediction.class_names is not None and tuple(prediction.class_names) != tuple(dataset.class_names)
    ):
        model_classes = (
            list(prediction.class_names) if prediction.class_names else f"{prediction.probs.shape[1]} outputs"
        )
        raise ValueError(
            f"{model_path}: the model's classes ({model_classes}) differ from the data's "
            f"{list(dataset.class_names)}; evaluate it on data with the same classes."
        )
    metrics = evaluate_probabilities(dataset.labels, prediction.probs, dataset.class_names)
    out = Path(out_dir).expanduser() if out_dir else default_out_dir(model_path, split, tta)
    out.mkdir(parents=True, exist_ok=True)
    title = f"{model_path.parent.name}/{model_path.name} on {source} {split}" + (
        f" ({tta} TTA)" if tta != "none" else ""
    )
    record = {
        "model": str(model_path),
        "model_kind": kind,
        "data": str(data_root),
        "source": source,
        "split": split,
        "tta": tta,
        "inference_passes": prediction.passes,
        "inference_seconds": round(prediction.seconds, 3),
        "ms_per_face_batched": round(1000.0 * prediction.seconds / max(len(dataset), 1), 4),
        "num_threads": num_threads if kind == "tflite" else None,
        "metrics": metrics,
        "confusion_pairs": confusion_pairs(metrics),
    }
    report = format_report(metrics, title)
    (out / "metrics.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "report.txt").write_text(report + "\n")
    np.savez_compressed(
        out / "probabilities.npz",
        probabilities=prediction.probs,
        labels=dataset.labels,
        sources=np.asarray(dataset.sources),
        class_names=np.asarray(dataset.class_names),
    )
    plot_confusion_matrix(metrics, out / "confusion_matrix.png", title)
    plot_reliability(dataset.labels, {"model": prediction.probs}, out / "reliability.png", title)
    plot_confident_mistakes(
        dataset.images, dataset.labels, prediction.probs, dataset.class_names, out / "mistakes.png"
    )
    record["out_dir"] = str(out)
    record["report"] = report
    return record


def confusion_pairs(metrics: dict, top: int = 8) -> list[dict]:
    """The most frequent (true → predicted) mistakes, with their share of the true class."""
    names = metrics["class_names"]
    counts = np.asarray(metrics["confusion_matrix"], np.int64)
    support = counts.sum(axis=1)
    pairs = [
        {
            "true": names[t],
            "predicted": names[p],
            "count": int(counts[t, p]),
            "share_of_true": round(float(counts[t, p] / support[t]), 4) if support[t] else 0.0,
        }
        for t in range(len(names))
        for p in range(len(names))
        if t != p and counts[t, p] > 0
    ]
    return sorted(pairs, key=lambda pair: -pair["count"])[:top]


def reliability_bins(labels: np.ndarray, probs: np.ndarray, bins: int = CALIBRATION_BINS) -> dict:
    """Per confidence bin: mean confidence, accuracy and count (what a reliability diagram shows)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    rows = {"edges": edges.tolist(), "confidence": [], "accuracy": [], "count": []}
    for index in range(bins):
        members = which == index
        rows["count"].append(int(members.sum()))
        rows["confidence"].append(float(confidence[members].mean()) if members.any() else None)
        rows["accuracy"].append(float(correct[members].mean()) if members.any() else None)
    return rows


def plot_reliability(
    labels: np.ndarray, probs_by_name: dict[str, np.ndarray], out_png: str | os.PathLike, title: str = ""
) -> Path:
    """Reliability diagram: accuracy against confidence per bin (the diagonal is perfect)."""
    from training.figures import pyplot

    plt = pyplot()
    fig, axis = plt.subplots(figsize=(5.5, 5))
    axis.plot([0, 1], [0, 1], color="gray", linestyle="--", label="perfectly calibrated")
    for name, probs in probs_by_name.items():
        rows = reliability_bins(labels, probs)
        points = [(c, a) for c, a in zip(rows["confidence"], rows["accuracy"], strict=True) if c is not None]
        ece = expected_calibration_error(labels, probs)
        axis.plot(*zip(*points, strict=True), marker="o", label=f"{name} (ECE {100 * ece:.1f} %)")
    axis.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title=title or "Reliability")
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_png, dpi=110)


def plot_confident_mistakes(
    images: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
    out_png: str | os.PathLike,
    per_class: int = 8,
) -> Path:
    """One row per true class: its most confident mistakes, each titled with the wrong answer."""
    from training.figures import pyplot

    plt = pyplot()
    predictions = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    rows = len(class_names)
    fig, axes = plt.subplots(rows, per_class, figsize=(1.3 * per_class + 1.2, 1.45 * rows), squeeze=False)
    for row, name in enumerate(class_names):
        wrong = np.flatnonzero((labels == row) & (predictions != row))
        wrong = wrong[np.argsort(-confidence[wrong])][:per_class]
        for column in range(per_class):
            axis = axes[row, column]
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(name, fontsize=9)
            if column < len(wrong):
                index = wrong[column]
                axis.imshow(images[index, :, :, 0], cmap="gray", vmin=0, vmax=1)
                axis.set_title(f"{class_names[predictions[index]]} {confidence[index]:.2f}", fontsize=7)
            else:
                axis.axis("off")
                if column == 0:
                    axis.text(0.5, 0.5, f"{name}: none", ha="center", va="center", fontsize=7)
    fig.suptitle("Most confident mistakes per true class (title: predicted label, confidence)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_png, dpi=100)
