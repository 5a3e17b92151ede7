"""Turn a trained ``.keras`` checkpoint into the ``.tflite`` models ferdesk ships, and measure them.

    python -m training export ~/.cache/ferdesk/runs/vgg/best.keras --out models/ferdesk_emotion.tflite

Writes up to three variants, each with its sidecar (``NAME.json``):

* ``NAME.tflite`` — float32, the reference: the Keras network's own numbers.
* ``NAME_float16.tflite`` — float16 weights (half the file), computed in float32 on the CPU.
* ``NAME_int8.tflite`` — full-integer weights and activations, calibrated on 500 Training faces;
  its input and output stay float32 (a quantize op in front, a dequantize op behind), so it is a
  drop-in replacement and the app's feeding code need not change.

Each variant is then measured the way the app runs it — through
:class:`~ferdesk.vision.classifier.EmotionClassifier` with one thread — on PublicTest and PrivateTest
(accuracy, macro-F1, per-class recall, agreement with the Keras network) and timed at batch 1; the
figures go into the sidecar's ``metrics`` for the model card. PrivateTest is reported, never used to
choose anything. ``--temperature auto`` fits the calibration temperature on PublicTest.

The conversion needs Keras's TensorFlow backend; a checkpoint trained under PyTorch or JAX loads
there unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

VARIANTS: tuple[str, ...] = ("float32", "float16", "int8")
QUANTIZATION = {
    "float32": "none (float32 weights and activations)",
    "float16": "float16 weights, float32 compute, float32 input/output",
    "int8": "int8 weights and activations (full-integer), float32 input/output",
}
#: Training faces the int8 calibration sees (enough to fix activation ranges; more adds nothing).
REPRESENTATIVE_FACES = 500
TIMING_WARMUP = 30
TIMING_RUNS = 300


class ExportError(ValueError):
    """The export could not run; the message says why and what to do."""


def require_tensorflow_backend():
    """Return ``keras`` on the TensorFlow backend, or explain how to get it.

    ``TFLiteConverter`` traces TensorFlow graphs, so the network must be loaded under Keras's
    TensorFlow backend. Setting ``KERAS_BACKEND`` only works before Keras is first imported.
    """
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "tensorflow"
    try:
        import keras
        import tensorflow  # noqa: F401
    except ImportError as error:
        raise ExportError(
            f"Exporting needs TensorFlow and Keras ({error}); install them with 'pip install ferdesk[train]'."
        ) from None
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ExportError(
            f"Keras is running on the {backend!r} backend, but TensorFlow Lite conversion needs the "
            "'tensorflow' backend. Run the export in a fresh process with KERAS_BACKEND=tensorflow, e.g. "
            "'KERAS_BACKEND=tensorflow python -m training export ...' (a checkpoint trained under "
            f"{backend} loads there unchanged)."
        )
    return keras


def parse_variants(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"float32,int8"`` → ``("float32", "int8")`` in the canonical order, checked."""
    items = [v.strip().lower() for v in (text.split(",") if isinstance(text, str) else text) if v.strip()]
    unknown = sorted(set(items) - set(VARIANTS))
    if unknown or not items:
        raise ExportError(
            f"Unknown or no variants {unknown or items!r}; choose one or more of {', '.join(VARIANTS)} "
            "separated by commas, e.g. --variants float32,int8."
        )
    return tuple(v for v in VARIANTS if v in items)


def variant_path(out: str | os.PathLike, variant: str) -> Path:
    """``models/NAME.tflite`` for float32, ``models/NAME_float16.tflite`` / ``_int8`` for the others."""
    out = Path(out)
    if out.suffix != ".tflite":
        raise ExportError(f"--out must name a .tflite file (e.g. models/ferdesk_emotion.tflite), got {out}.")
    if variant not in VARIANTS:
        raise ExportError(f"Unknown variant {variant!r}; expected one of {VARIANTS}.")
    return out if variant == "float32" else out.with_name(f"{out.stem}_{variant}.tflite")


def convert(model, variant: str, representative: np.ndarray | None = None) -> bytes:
    """Convert a Keras network to TensorFlow Lite bytes in one of :data:`VARIANTS`."""
    import tensorflow as tf

    from ferdesk.vision.native_logs import quiet_native_logs

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        if representative is None or len(representative) == 0:
            raise ExportError("The int8 variant needs representative faces from the Training split.")
        faces = np.asarray(representative, np.float32)

        def representative_dataset():
            for face in faces:
                yield [face[np.newaxis]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32
    elif variant != "float32":
        raise ExportError(f"Unknown variant {variant!r}; expected one of {VARIANTS}.")
    # Keras prints the traced SavedModel's signature to stdout and TensorFlow's converter logs from
    # C++ to stderr: neither means anything to the person exporting.
    with quiet_native_logs(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # With float input/output the int8 model quantizes its own input; TensorFlow warns that it
        # got no statistics for quantized *inputs*, which do not exist here.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        return converter.convert()


def representative_faces(
    data_root: str | os.PathLike,
    source: str = "fer2013",
    count: int = REPRESENTATIVE_FACES,
    seed: int = 0,
    show_progress: bool = False,
) -> np.ndarray:
    """A seeded random sample of Training faces (never a test split) for int8 calibration."""
    from training.data import load_split

    training = load_split(data_root, "Training", source, show_progress=show_progress)
    order = np.random.default_rng(seed).permutation(len(training))[:count]
    return training.images[np.sort(order)]


def time_per_face(
    model_path: str | os.PathLike,
    face: np.ndarray,
    runs: int = TIMING_RUNS,
    warmup: int = TIMING_WARMUP,
    flip_tta: bool | None = None,
) -> float:
    """Median milliseconds of ``EmotionClassifier.predict`` on one face, one thread (as in the app).

    ``flip_tta`` None times the views the model's sidecar asks for; False a single pass.
    """
    from ferdesk.vision.classifier import EmotionClassifier

    classifier = EmotionClassifier(model_path, num_threads=1, flip_tta=flip_tta)
    batch = np.asarray(face, np.float32).reshape(1, *np.shape(face)[-3:])
    for _ in range(warmup):
        classifier.predict(batch)
    times = np.empty(runs)
    for index in range(runs):
        started = time.perf_counter()
        classifier.predict(batch)
        times[index] = time.perf_counter() - started
    return float(np.median(times) * 1000.0)


def fit_temperature(labels: np.ndarray, probs: np.ndarray) -> float:
    """The temperature that minimises the log loss of ``calibrate(probs, T)`` (a 1-D search).

    Fit on PublicTest (the validation split); T > 1 softens an over-confident network.
    """
    labels = np.asarray(labels, np.int64)
    log_probs = np.log(np.clip(np.asarray(probs, np.float64), 1e-12, 1.0))

    def loss(temperature: float) -> float:
        logits = log_probs / temperature
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1))
        return float((log_norm - logits[np.arange(len(labels)), labels]).mean())

    grid = np.geomspace(0.25, 8.0, 121)
    best = float(grid[int(np.argmin([loss(t) for t in grid]))])
    fine = np.geomspace(best / 1.03, best * 1.03, 41)
    return round(float(fine[int(np.argmin([loss(t) for t in fine]))]), 4)


def find_run_dir(checkpoint: Path, run_dir: str | os.PathLike | None) -> Path | None:
    if run_dir is not None:
        run_dir = Path(run_dir).expanduser()
        if not (run_dir / "config.json").is_file():
            raise ExportError(f"--run {run_dir}: no config.json there; pass the training run folder.")
        return run_dir
    return checkpoint.parent if (checkpoint.parent / "config.json").is_file() else None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class ExportResult:
    variant: str
    path: Path
    file_bytes: int
    metrics: dict = field(default_factory=dict)


@dataclass
class _Measured:
    """The split data and the Keras reference predictions every variant is compared with."""

    public_labels: np.ndarray
    public_images: np.ndarray
    private_labels: np.ndarray
    private_images: np.ndarray
    class_names: tuple[str, ...]
    keras_public: np.ndarray
    keras_private: np.ndarray


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _measure_variant(
    path: Path, reference: _Measured, temperature: float, timing_runs: int, show_progress: bool
) -> dict:
    from ferdesk.vision.classifier import EmotionClassifier, calibrate
    from training.evaluate import evaluate_probabilities, predict_tflite

    classifier = EmotionClassifier(path, num_threads=1, flip_tta=False)  # single pass, as Keras's
    public = predict_tflite(classifier, reference.public_images, show_progress=show_progress)
    private = predict_tflite(classifier, reference.private_images, show_progress=show_progress)
    public_metrics = evaluate_probabilities(reference.public_labels, public, reference.class_names)
    private_metrics = evaluate_probabilities(reference.private_labels, private, reference.class_names)
    keras_private = calibrate(reference.keras_private, temperature)
    milliseconds = (
        time_per_face(path, reference.private_images[:1], runs=timing_runs, flip_tta=False)
        if timing_runs
        else None
    )
    single_pass = {
        "privatetest_accuracy": round(private_metrics["accuracy"], 6),
        "privatetest_macro_f1": round(private_metrics["macro_f1"], 6),
        "privatetest_per_class_recall": {
            name: round(row["recall"], 6) for name, row in private_metrics["per_class"].items()
        },
        "privatetest_ece": round(private_metrics["ece"], 6),
        "privatetest_count": private_metrics["count"],
        "publictest_accuracy": round(public_metrics["accuracy"], 6),
        "publictest_macro_f1": round(public_metrics["macro_f1"], 6),
        "publictest_count": public_metrics["count"],
        "privatetest_agreement_with_keras": round(
            float((private.argmax(axis=1) == keras_private.argmax(axis=1)).mean()), 6
        ),
        "privatetest_max_abs_diff_vs_keras": round(float(np.abs(private - keras_private).max()), 6),
        "ms_per_face_1thread": None if milliseconds is None else round(milliseconds, 4),
        "timing": f"EmotionClassifier.predict, batch 1, 1 thread, median of {timing_runs} runs after "
        f"{TIMING_WARMUP} warm-up, {platform.machine()} {platform.processor() or ''}".strip(),
    }
    if classifier.info.flip_tta:
        single_pass["as_run"] = as_run_metrics(
            path,
            (reference.public_images, reference.public_labels),
            (reference.private_images, reference.private_labels),
            reference.class_names,
            timing_runs,
            show_progress,
        )
    return single_pass


def as_run_metrics(
    path: Path,
    public: tuple[np.ndarray, np.ndarray],
    private: tuple[np.ndarray, np.ndarray],
    class_names: Sequence[str],
    timing_runs: int,
    show_progress: bool = False,
) -> dict:
    """A model's figures as the app runs it: with the views its sidecar asks for (``flip_tta``).

    The top-level sidecar figures are single-pass, to compare with the Keras network; these are
    the ones a user gets, so the app's settings quote them. ``public`` and ``private`` are
    ``(images, labels)``.
    """
    from ferdesk.vision.classifier import EmotionClassifier
    from training.evaluate import evaluate_probabilities, predict_tflite

    classifier = EmotionClassifier(path, num_threads=1)
    (public_images, public_labels), (private_images, private_labels) = public, private
    names = tuple(class_names)
    public_metrics = evaluate_probabilities(
        public_labels, predict_tflite(classifier, public_images, show_progress=show_progress), names
    )
    private_metrics = evaluate_probabilities(
        private_labels, predict_tflite(classifier, private_images, show_progress=show_progress), names
    )
    figures = {
        "views": "flip" if classifier.flip_tta else "single",
        "privatetest_accuracy": round(private_metrics["accuracy"], 6),
        "privatetest_macro_f1": round(private_metrics["macro_f1"], 6),
        "privatetest_ece": round(private_metrics["ece"], 6),
        "privatetest_count": private_metrics["count"],
        "publictest_accuracy": round(public_metrics["accuracy"], 6),
        "publictest_macro_f1": round(public_metrics["macro_f1"], 6),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if timing_runs:
        figures["ms_per_face_1thread"] = round(time_per_face(path, private_images[:1], runs=timing_runs), 4)
    return figures


REFIT_PUBLICTEST_NOTE = "none: a final refit trained on PublicTest"


def without_publictest(metrics: dict) -> dict:
    """A final refit's figures without PublicTest's, at every level (single pass, as run, Keras).

    The refit trained on those faces, so its PublicTest accuracy (75 % where PrivateTest gives
    68 %) would read as a validation figure in the sidecar, the settings and any comparison.
    """
    kept = {
        key: without_publictest(value) if isinstance(value, dict) else value
        for key, value in metrics.items()
        if not key.startswith("publictest_")
    }
    if any(key.startswith("publictest_") for key in metrics):
        kept["publictest"] = REFIT_PUBLICTEST_NOTE
    return kept


def remeasure_as_run(
    model_path: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    timing_runs: int = TIMING_RUNS,
    show_progress: bool = False,
) -> dict:
    """Measure an exported ``.tflite`` as the app runs it and write the figures into its sidecar.

    For a model exported before the sidecar carried them, or whose ``flip_tta`` was changed by
    hand: nothing is converted and every other sidecar field is kept as it was.
    """
    from ferdesk.vision.classifier import read_sidecar
    from training.data import DEFAULT_DATA_ROOT, load_split

    path = Path(model_path).expanduser()
    if path.suffix != ".tflite" or not path.is_file():
        raise ExportError(f"--remeasure {path}: expected an exported .tflite file with its .json sidecar.")
    sidecar_path = path.with_suffix(".json")
    info = read_sidecar(path)
    raw = _read_json(sidecar_path)
    if not raw:
        raise ExportError(f"{sidecar_path}: no sidecar to write the figures into; export the model first.")
    data_root = Path(data_root or DEFAULT_DATA_ROOT).expanduser()
    if not data_root.is_dir():
        raise ExportError(
            f"Data folder not found: {data_root}. Measuring needs FER2013 or FER+ "
            "(see ../shared/data/README.md); pass --data PATH."
        )
    training = raw.get("training") if isinstance(raw.get("training"), dict) else {}
    source = str(training.get("source") or ("ferplus8" if len(info.labels) == 8 else "fer2013"))
    public = load_split(data_root, "PublicTest", source, show_progress=show_progress)
    private = load_split(data_root, "PrivateTest", source, show_progress=show_progress)
    if tuple(public.class_names) != tuple(info.labels):
        raise ExportError(
            f"{path}: its sidecar's labels {list(info.labels)} are not the {source} data's "
            f"{list(public.class_names)}."
        )
    figures = as_run_metrics(
        path,
        (public.images, public.labels),
        (private.images, private.labels),
        info.labels,
        timing_runs,
        show_progress,
    )
    metrics = raw.get("metrics") if isinstance(raw.get("metrics"), dict) else {}
    raw["metrics"] = {**metrics, "as_run": figures}
    config = training.get("config") if isinstance(training.get("config"), dict) else {}
    if config.get("refit_publictest"):
        raw["metrics"] = without_publictest(raw["metrics"])
        figures = raw["metrics"]["as_run"]
    _write_atomic(sidecar_path, (json.dumps(raw, indent=2) + "\n").encode())
    return figures


def export_model(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    variants: Sequence[str] = VARIANTS,
    data_root: str | os.PathLike | None = None,
    source: str = "fer2013",
    name: str | None = None,
    temperature: float | str = 1.0,
    run_dir: str | os.PathLike | None = None,
    measure: bool = True,
    representative_count: int = REPRESENTATIVE_FACES,
    timing_runs: int = TIMING_RUNS,
    show_progress: bool = False,
    log=print,
    flip_tta: bool = False,
    description: str = "",
) -> list[ExportResult]:
    """Convert, write and (unless ``measure=False``) measure each variant; returns one result each.

    ``temperature`` is a number, or ``"auto"`` to fit it on PublicTest (needs the data).
    ``flip_tta`` (the app averages each face with its mirror image) and ``description`` go into
    every variant's sidecar, so a shipped model needs no hand-edited sidecar. The figures measured
    here are single-pass either way.
    """
    from ferdesk.vision.classifier import calibrate, write_sidecar
    from ferdesk.vision.emotions import EMOTIONS
    from ferdesk.vision.preprocess import INPUT_SIZE
    from training.data import DEFAULT_DATA_ROOT, load_split

    keras = require_tensorflow_backend()
    import tensorflow as tf

    from training.evaluate import evaluate_probabilities, load_keras_model, predict_keras

    checkpoint = Path(checkpoint).expanduser()
    if checkpoint.suffix != ".keras":
        raise ExportError(f"Expected a .keras checkpoint to export, got {checkpoint}.")
    if not checkpoint.is_file():
        raise FileNotFoundError(f"Checkpoint not found: {checkpoint}.")
    variants = parse_variants(variants)
    paths = {variant: variant_path(out, variant) for variant in variants}
    data_root = Path(data_root or DEFAULT_DATA_ROOT).expanduser()
    auto_temperature = isinstance(temperature, str) and temperature.strip().lower() == "auto"
    if not auto_temperature:
        try:
            temperature = float(temperature)
        except ValueError:
            raise ExportError(f"--temperature {temperature!r}: expected a number > 0 or 'auto'.") from None
        if not temperature > 0:
            raise ExportError(
                f"--temperature == {temperature}, must be > 0 (1.0 leaves probabilities as they are)."
            )
    needs_data = measure or auto_temperature or "int8" in variants
    if needs_data and not data_root.is_dir():
        raise ExportError(
            f"Data folder not found: {data_root}. Measuring the exported models, fitting "
            "'--temperature auto' and calibrating int8 all need FER2013 (see ../shared/data/README.md); "
            "pass --data PATH, or convert only with '--no-measure --variants float32,float16'."
        )

    model = load_keras_model(checkpoint)
    if tuple(model.input_shape[1:]) != (INPUT_SIZE, INPUT_SIZE, 1):
        raise ExportError(
            f"{checkpoint}: the network takes input {model.input_shape[1:]}, but ferdesk feeds "
            f"({INPUT_SIZE}, {INPUT_SIZE}, 1) gray faces in [0, 1]; export a network from training.models."
        )
    run = find_run_dir(checkpoint, run_dir)
    config = _read_json(run / "config.json") if run else {}
    state = _read_json(run / "state.json") if run else {}
    if auto_temperature and config.get("refit_publictest"):
        raise ExportError(
            f"{checkpoint} is a final refit that trained on PublicTest, so a temperature fitted there "
            "would be too confident; pass the selection run's (--temperature T, e.g. from its sidecar)."
        )
    base_name = name or model.name or checkpoint.stem

    reference: _Measured | None = None
    if measure or auto_temperature:
        public = load_split(data_root, "PublicTest", source, show_progress=show_progress)
        private = (
            load_split(data_root, "PrivateTest", source, show_progress=show_progress) if measure else public
        )
        if int(model.output_shape[-1]) != len(public.class_names):
            raise ExportError(
                f"{checkpoint}: the network has {model.output_shape[-1]} outputs but the {source} data has "
                f"{len(public.class_names)} classes {list(public.class_names)}."
            )
        log(f"Keras reference predictions on PublicTest ({len(public)}) and PrivateTest ({len(private)}) ...")
        reference = _Measured(
            public.labels,
            public.images,
            private.labels,
            private.images,
            tuple(public.class_names),
            predict_keras(model, public.images, show_progress=show_progress),
            predict_keras(model, private.images, show_progress=show_progress)
            if measure
            else np.zeros((0, 1)),
        )
    # Without data the class order is ferdesk's fixed one, the order every reader produces.
    class_names = reference.class_names if reference else EMOTIONS
    if int(model.output_shape[-1]) != len(class_names):
        raise ExportError(
            f"{checkpoint}: the network has {model.output_shape[-1]} outputs, not {len(class_names)} "
            f"({list(class_names)})."
        )
    temperature_note = "given"
    if auto_temperature and reference is not None:
        temperature = fit_temperature(reference.public_labels, reference.keras_public)
        temperature_note = "fitted on PublicTest (minimum log loss)"
        log(f"Calibration temperature fitted on PublicTest: T = {temperature}")

    keras_metrics: dict = {}
    if measure and reference is not None:
        keras_private = evaluate_probabilities(
            reference.private_labels, calibrate(reference.keras_private, temperature), class_names
        )
        keras_public = evaluate_probabilities(reference.public_labels, reference.keras_public, class_names)
        keras_metrics = {
            "privatetest_accuracy": round(keras_private["accuracy"], 6),
            "privatetest_macro_f1": round(keras_private["macro_f1"], 6),
            "publictest_accuracy": round(keras_public["accuracy"], 6),
        }

    representative = None
    if "int8" in variants:
        representative = representative_faces(
            data_root, source, representative_count, show_progress=show_progress
        )

    training_info = {
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": _sha256(checkpoint),
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "parameters": int(model.count_params()),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "data": str(data_root),
        "source": source,
        "temperature_source": temperature_note,
        "run_dir": str(run) if run else None,
        "config": config,
        "state": state,
    }
    results: list[ExportResult] = []
    for variant in variants:
        path = paths[variant]
        log(f"Converting {variant} → {path} ...")
        _write_atomic(path, convert(model, variant, representative))
        model_name = base_name if variant == "float32" else f"{base_name}-{variant}"
        info = {
            **training_info,
            "variant": variant,
            "quantization": QUANTIZATION[variant],
            "representative_faces": len(representative)
            if variant == "int8" and representative is not None
            else 0,
        }
        metrics: dict = {"file_bytes": path.stat().st_size}
        # Written before measuring (the classifier needs it) and again with the figures.
        sidecar = functools.partial(
            write_sidecar,
            path,
            model_name,
            class_names,
            temperature=float(temperature),
            training=info,
            flip_tta=flip_tta,
            description=description,
        )
        sidecar(metrics=metrics)
        if measure and reference is not None:
            log(f"Measuring {variant} through EmotionClassifier ...")
            metrics.update(_measure_variant(path, reference, float(temperature), timing_runs, show_progress))
            metrics["keras_reference"] = keras_metrics
            if config.get("refit_publictest"):
                metrics = without_publictest(metrics)
            sidecar(metrics=metrics)
        results.append(ExportResult(variant, path, metrics["file_bytes"], metrics))
    return results


def format_table(results: Sequence[ExportResult]) -> str:
    """One line per variant: size, accuracies, macro-F1, speed and agreement with the Keras network."""
    header = (
        f"{'variant':8}  {'file':34}  {'size':>9}  {'Public acc':>10}  {'Private acc':>11}  "
        f"{'Private F1':>10}  {'ms/face':>8}  {'= keras':>7}"
    )
    lines = [header, "-" * len(header)]

    def number(value, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    for result in results:
        m = result.metrics
        lines.append(
            f"{result.variant:8}  {result.path.name:34}  {result.file_bytes / 1e6:7.2f}MB  "
            f"{number(m.get('publictest_accuracy'), 4):>10}  {number(m.get('privatetest_accuracy'), 4):>11}  "
            f"{number(m.get('privatetest_macro_f1'), 4):>10}  {number(m.get('ms_per_face_1thread'), 3):>8}  "
            f"{number(m.get('privatetest_agreement_with_keras'), 4):>7}"
        )
    keras_reference = next(
        (r.metrics.get("keras_reference") for r in results if r.metrics.get("keras_reference")), None
    )
    if keras_reference:
        reference = keras_reference
        lines.append(
            f"{'.keras':8}  {'(reference network)':34}  {'':>9}  "
            f"{number(reference.get('publictest_accuracy'), 4):>10}  "
            f"{number(reference.get('privatetest_accuracy'), 4):>11}  "
            f"{number(reference.get('privatetest_macro_f1'), 4):>10}  {'':>8}  {'':>7}"
        )
    lines.append(
        "ms/face: EmotionClassifier.predict at batch 1 on 1 thread (median); '= keras': share of PrivateTest "
        "faces with the same answer as the Keras network."
    )
    if any(r.metrics.get("publictest") == REFIT_PUBLICTEST_NOTE for r in results):
        lines.append("Public acc: none, the network is a final refit that trained on PublicTest.")
    return "\n".join(lines)
