"""What a model looked at: occlusion (any model, a ``.tflite`` alone included), saliency and
Grad-CAM (a Keras checkpoint: they need gradients).

* occlusion — :func:`ferdesk.vision.explain.occlusion_map`, the one implementation the app and
  ``ferdesk predict --explain`` use too, fed by the model's ``predict``;
* saliency — |d class score / d pixel| (Simonyan et al. 2014), smoothed a little, on the class's
  logit (the softmax layer's input, so a confident answer still has a gradient);
* Grad-CAM — the last convolutional feature maps weighted by the gradient of the class logit
  (Selvaraju et al. 2017), in the HiResCAM form (Draelos & Carin 2020: weighted per position, so
  it stays faithful for the flattened heads of VGG and DeepFER), upsampled to the face.

Gradients use TensorFlow (``KERAS_BACKEND=tensorflow``, which ``python -m training explain`` sets).
Each map is (S, S) float32 >= 0 for the face's predicted class (or ``target``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

METHODS = ("occlusion", "saliency", "gradcam")
#: Layers in front of a transfer backbone: spatial, but only resize/scale the input.
_INPUT_ADAPTERS = ("upscale", "gray_to_rgb", "to_pixels", "mean_subtract")


def _require_tensorflow():
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "Saliency and Grad-CAM take gradients with TensorFlow, but Keras runs on "
            f"{keras.backend.backend()!r}; "
            "run with KERAS_BACKEND=tensorflow (python -m training explain does)."
        )
    import tensorflow as tf

    return tf


def _logit_model(model):
    """(features-before-head, logits) from a network whose last layer is a softmax Dense."""
    import keras

    head = model.layers[-1]
    if not isinstance(head, keras.layers.Dense):
        raise ValueError(
            f"{model.name}: expected the last layer to be a Dense softmax, got {type(head).__name__}."
        )
    return keras.Model(model.inputs, head.input), head


def _logits(tf, features_model, head, faces):
    features = features_model(faces, training=False)
    return tf.matmul(features, head.kernel) + (head.bias if head.use_bias else 0.0)


def saliency_map(model, face: np.ndarray, target: int | None = None) -> tuple[np.ndarray, int, np.ndarray]:
    """Returns (heatmap, target, probabilities) for one preprocessed face ``(S, S, 1)``."""
    import cv2

    tf = _require_tensorflow()
    features_model, head = _logit_model(model)
    faces = tf.convert_to_tensor(face[np.newaxis].astype(np.float32))
    probs = np.asarray(model(faces, training=False))[0]
    target = int(np.argmax(probs)) if target is None else int(target)
    with tf.GradientTape() as tape:
        tape.watch(faces)
        score = _logits(tf, features_model, head, faces)[0, target]
    gradient = np.abs(np.asarray(tape.gradient(score, faces))[0, :, :, 0])
    heat = cv2.GaussianBlur(gradient.astype(np.float32), (0, 0), 1.0)
    return heat, target, probs


def _last_spatial_layer(model):
    for layer in reversed(model.layers[1:]):
        shape = getattr(layer, "output", None)
        if shape is not None and len(layer.output.shape) == 4:
            if layer.name in _INPUT_ADAPTERS:
                break
            return layer
    raise ValueError(
        f"{model.name}: Grad-CAM needs a convolutional feature map in the network's top level; this one "
        "has none after its input (a transfer network's backbone is nested). Use --method saliency or "
        "occlusion."
    )


def gradcam_map(model, face: np.ndarray, target: int | None = None) -> tuple[np.ndarray, int, np.ndarray]:
    import cv2
    import keras

    tf = _require_tensorflow()
    layer = _last_spatial_layer(model)
    _, head = _logit_model(model)
    both = keras.Model(model.inputs, [layer.output, head.input])
    faces = tf.convert_to_tensor(face[np.newaxis].astype(np.float32))
    probs = np.asarray(model(faces, training=False))[0]
    target = int(np.argmax(probs)) if target is None else int(target)
    with tf.GradientTape() as tape:
        maps, features = both(faces, training=False)
        score = (tf.matmul(features, head.kernel) + (head.bias if head.use_bias else 0.0))[0, target]
    gradient = np.asarray(tape.gradient(score, maps))[0]
    maps = np.asarray(maps)[0]
    # HiResCAM form: gradient x activation per position, summed over channels. For a global-average
    # pooled head it is Grad-CAM (up to a constant); with a flattened head (VGG, DeepFER) Grad-CAM's
    # channel-mean gradient discards where the head looks, and this keeps it.
    cam = np.maximum((maps * gradient).sum(axis=-1), 0.0).astype(np.float32)
    side = face.shape[0]
    return cv2.resize(cam, (side, side), interpolation=cv2.INTER_LINEAR).clip(0.0, None), target, probs


def load_explainable(path: str | os.PathLike):
    """(kind, model, predict, labels) for a ``.keras`` checkpoint or a ``.tflite`` model."""
    from training.evaluate import load_keras_model, model_kind

    path = Path(path).expanduser()
    kind = model_kind(path)
    if not path.is_file():
        raise FileNotFoundError(f"Model not found: {path}.")
    if kind == "tflite":
        from ferdesk.vision.classifier import EmotionClassifier

        classifier = EmotionClassifier(path, num_threads=1)
        return kind, classifier, classifier.predict, tuple(classifier.labels)
    import keras

    model = load_keras_model(path)

    def predict(faces: np.ndarray) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(model(faces, training=False)))

    from ferdesk.vision.emotions import EMOTIONS, FERPLUS_EMOTIONS

    classes = int(model.output_shape[-1])
    labels = {len(EMOTIONS): EMOTIONS, len(FERPLUS_EMOTIONS): FERPLUS_EMOTIONS}.get(
        classes, tuple(str(i) for i in range(classes))
    )
    return kind, model, predict, labels


def explain_face(
    kind: str, model, predict, labels, face: np.ndarray, method: str, target: int | None = None
) -> tuple[np.ndarray, int, float]:
    """(heatmap, target, target's probability) of one preprocessed face."""
    if method not in METHODS:
        raise ValueError(f"--method {method!r}: use one of {', '.join(METHODS)}.")
    if method == "occlusion":
        from ferdesk.vision.explain import occlusion_map

        explanation = occlusion_map(face, predict, target=target, labels=labels)
        return explanation.heatmap, explanation.target, explanation.probability
    if kind != "keras":
        raise ValueError(
            f"--method {method} needs gradients, which a .tflite model does not have; pass the .keras "
            "checkpoint it was exported from (a run's best.keras), or use --method occlusion."
        )
    function = saliency_map if method == "saliency" else gradcam_map
    heat, target, probs = function(model, face, target)
    return heat, target, float(probs[target])


def save_explanation(
    path: Path, face: np.ndarray, heat: np.ndarray, label: str, probability: float, method: str
) -> Path:
    """One PNG: the face, the heatmap over it, and the predicted label."""
    from ferdesk.vision.explain import heatmap_overlay
    from training.figures import pyplot, save_figure

    plt = pyplot()
    gray = (np.clip(face[:, :, 0], 0, 1) * 255).astype(np.uint8)
    overlay = heatmap_overlay(gray, heat, size=192)
    fig, (left, right) = plt.subplots(1, 2, figsize=(5.2, 2.9))
    left.imshow(gray, cmap="gray", vmin=0, vmax=255)
    left.set_title("face (48x48, as the model sees it)", fontsize=8)
    right.imshow(overlay)
    right.set_title(f"{method}: red = mattered most", fontsize=8)
    for axis in (left, right):
        axis.axis("off")
    fig.suptitle(f"predicted: {label} ({probability:.2f})", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def explain_images(
    model_path: str | os.PathLike,
    images: list[str | os.PathLike],
    out_dir: str | os.PathLike,
    method: str = "occlusion",
) -> list[dict]:
    """Explain each image file (treated as a face crop, as ``ferdesk predict --faces whole``)."""
    from tqdm import tqdm

    from ferdesk.vision.imageio import ImageLoadError, load_image
    from ferdesk.vision.preprocess import preprocess_face

    if method not in METHODS:
        raise ValueError(f"--method {method!r}: use one of {', '.join(METHODS)}.")
    if not images:
        raise ValueError("No IMAGE given; pass one or more face images (PNG/JPEG).")
    kind, model, predict, labels = load_explainable(model_path)
    if method != "occlusion" and kind != "keras":
        explain_face(kind, model, predict, labels, np.zeros((48, 48, 1), np.float32), method)  # raises
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    size = getattr(model, "input_size", None) or int(model.input_shape[1])
    results = []
    for image in tqdm(images, desc=method, unit="image", disable=len(images) < 2):
        image = Path(image)
        try:
            face = preprocess_face(load_image(image), size)
        except ImageLoadError as error:
            results.append({"image": str(image), "error": str(error)})
            continue
        heat, target, probability = explain_face(kind, model, predict, labels, face, method)
        png = save_explanation(
            out / f"{image.stem}-{method}.png", face, heat, labels[target], probability, method
        )
        np.save(out / f"{image.stem}-{method}.npy", heat)
        results.append(
            {"image": str(image), "label": labels[target], "probability": probability, "png": str(png)}
        )
    return results
