"""Train an emotion classifier on FER2013, selecting on PublicTest, resumable after a kill.

    python -m training train --model vgg_compact --epochs 60 --run ~/.cache/ferdesk/runs/vgg

The run folder holds ``config.json``, ``log.csv`` (one row per epoch), ``curves.png``,
``state.json``, ``last.keras`` (model + optimizer, written atomically after every epoch) and
``best.keras`` (the bare network with the best PublicTest accuracy so far). Running the same
command again resumes from ``last.keras`` without losing a finished epoch; ``--time-budget``
stops cleanly before a deadline so a later session can continue the same schedule.
PrivateTest is never read here.

``refit_publictest`` is the final refit: a recipe already chosen on PublicTest is trained again
on Training + PublicTest for the same number of epochs. Nothing is left to select on, so there is
no validation and ``best.keras`` is the last epoch's network.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import keras
import numpy as np

from training.augment import AugmentConfig, AugmentedFaces, class_weights
from training.balance import BALANCE_METHODS, balance
from training.data import DEFAULT_DATA_ROOT, SOURCES, FaceDataset, cache_dir, layout_of, load_split
from training.figures import save_figure
from training.optimizers import OPTIMIZERS, is_head, make_optimizer
from training.precision import PRECISIONS, build_in_precision, precision_warning

#: The Keras backend the recipes are trained under: the fastest measured on the 2-core CPU
#: (benchmarks/bench_training.py, 2026-12-01: vgg_compact bare fit 228-281 faces/s under
#: TensorFlow 2.21, 78-131 under PyTorch 2.13).
DEFAULT_BACKEND = "tensorflow"
SCHEDULES = ("cosine", "plateau", "constant")


@dataclass
class TrainConfig:
    model: str = "vgg_compact"
    data: str = str(DEFAULT_DATA_ROOT)
    source: str = "fer2013"
    epochs: int = 60
    batch_size: int = 64
    optimizer: str = "adamw"
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    label_smoothing: float = 0.1
    dropout: float = 0.4
    schedule: str = "cosine"
    warmup_epochs: int = 2
    plateau_factor: float = 0.5
    plateau_patience: int = 5
    early_stopping_patience: int = 20
    class_weight_power: float = 0.0
    l2: float = 0.0
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    balance: str = "none"
    init_weights: str = ""
    freeze_epochs: int = 0
    body_lr_multiplier: float = 1.0
    #: Polyak averaging of the weights (0 = off): PublicTest, best.keras and the export see the
    #: average, which is smoother than the last step's weights and costs no extra training.
    ema_momentum: float = 0.0
    #: Distillation (training/distill.py): an app model (.tflite) or accurate-mode manifest (.json)
    #: whose probabilities on the Training faces make ``teacher_weight`` of every target.
    teacher: str = ""
    teacher_weight: float = 0.5
    #: FER+ votes (training/ferplus_votes.py): this share of each Training face's target is FER+'s
    #: vote distribution for the same image (source fer2013 only; 0 = FER2013's labels alone).
    ferplus_weight: float = 0.0
    #: The final refit: PublicTest joins Training (both cleaned, so no PrivateTest copy is learnt);
    #: no validation, no selection, best.keras = the last epoch. Fix the recipe and its epochs on
    #: a selection run first: this run's PublicTest figures are on faces it trained on.
    refit_publictest: bool = False
    #: float32, or mixed_bfloat16 (bfloat16 compute, float32 weights: faster on CPUs with AVX-512
    #: BF16 / AMX, training/precision.py). The exported model is float32 either way.
    precision: str = "float32"
    seed: int = 1234
    time_budget_minutes: float = 0.0
    clean: bool = True
    limit_train: int = 0
    limit_val: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown training settings {unknown}; known: {sorted(known)}.")
        values = dict(values)
        augment = values.pop("augment", None)
        config = cls(**values)
        if isinstance(augment, dict):
            config.augment = AugmentConfig(**augment)
        return config

    def validate(self) -> TrainConfig:
        checks = [
            (self.epochs >= 1, f"epochs == {self.epochs}, must be >= 1."),
            (self.batch_size >= 1, f"batch_size == {self.batch_size}, must be >= 1."),
            (self.learning_rate > 0, f"learning_rate == {self.learning_rate}, must be > 0."),
            (0 <= self.label_smoothing < 1, f"label_smoothing == {self.label_smoothing}, must be in [0, 1)."),
            (0 <= self.dropout < 1, f"dropout == {self.dropout}, must be in [0, 1)."),
            (
                self.optimizer in OPTIMIZERS,
                f"optimizer {self.optimizer!r}: use one of {', '.join(OPTIMIZERS)}.",
            ),
            (
                self.schedule in SCHEDULES,
                f"schedule {self.schedule!r}: use one of {', '.join(SCHEDULES)}.",
            ),
            (
                self.balance in BALANCE_METHODS,
                f"balance {self.balance!r}: use one of {', '.join(BALANCE_METHODS)}.",
            ),
            (self.l2 >= 0, f"l2 == {self.l2}, must be >= 0."),
            (self.mixup_alpha >= 0 and self.cutmix_alpha >= 0, "mixup_alpha and cutmix_alpha must be >= 0."),
            (
                0 <= self.freeze_epochs < self.epochs,
                f"freeze_epochs == {self.freeze_epochs}, must be in [0, epochs) = [0, {self.epochs}).",
            ),
            (self.body_lr_multiplier > 0, f"body_lr_multiplier == {self.body_lr_multiplier}, must be > 0."),
            (
                0 <= self.ema_momentum < 1,
                f"ema_momentum == {self.ema_momentum}, must be in [0, 1) (0 turns weight averaging off; "
                "0.998 averages over about 500 steps).",
            ),
            (self.source in SOURCES, f"source {self.source!r}: use one of {', '.join(SOURCES)}."),
            (
                self.precision in PRECISIONS,
                f"precision {self.precision!r}: use one of {', '.join(PRECISIONS)}.",
            ),
            (
                0 < self.teacher_weight <= 1,
                f"teacher_weight == {self.teacher_weight}, must be in (0, 1] (the teacher's share of "
                "each target; 0.5 mixes it evenly with the label).",
            ),
            (
                0 <= self.ferplus_weight <= 1,
                f"ferplus_weight == {self.ferplus_weight}, must be in [0, 1] (FER+'s share of each "
                "matched Training face's target; 0 trains on FER2013's labels alone).",
            ),
            (
                not self.ferplus_weight or self.source == "fer2013",
                f"ferplus_weight mixes FER+ votes into FER2013's labels; source {self.source!r} "
                "already trains on FER+ (use source fer2013, or ferplus_weight 0).",
            ),
            (
                not self.refit_publictest or self.schedule != "plateau",
                "refit_publictest trains on PublicTest, so nothing is left for the plateau schedule "
                "to watch; use schedule cosine or constant (the selection run's, with its epochs).",
            ),
            (
                not self.refit_publictest or self.clean,
                "refit_publictest needs clean: uncleaned PublicTest holds exact copies of PrivateTest "
                "faces, which the refit would learn; leave clean true (no --no-clean).",
            ),
            (
                not self.refit_publictest or not self.ferplus_weight,
                "refit_publictest with ferplus_weight: FER+ votes are matched to Training faces "
                "only; refit with ferplus_weight 0, or without refit_publictest.",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if self.teacher:
            from training.distill import resolve_teacher

            resolve_teacher(self.teacher)  # a missing teacher fails before any data is read
        from training.models import create_model, list_models

        if self.model not in list_models():
            create_model(self.model)  # raises with the closest known names, before any data is read
        return self


def _drop_unfinished_log_rows(log_path: Path, epochs_done: int) -> None:
    """A kill between the log's row and the checkpoint leaves a row the resumed run will write
    again; keep only the epochs the checkpoint holds."""
    if not log_path.is_file():
        return
    with log_path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    kept = [row for row in rows if int(row.get("epoch", -1)) < epochs_done]
    if len(kept) == len(rows) or not rows:
        return
    tmp = log_path.with_suffix(".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    os.replace(tmp, log_path)


def default_run_dir(model: str) -> Path:
    return cache_dir() / "runs" / f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"


def _atomic_save(model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    model.save(tmp)
    os.replace(tmp, path)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def plot_curves(log_csv: Path, out_png: Path) -> None:
    """Loss and accuracy curves from ``log.csv`` (train vs PublicTest)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with log_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))

    def logged(key: str) -> bool:
        # A refit on Training + PublicTest validates nothing: Keras writes "NA" in val_* columns.
        return all(r.get(key) not in (None, "", "NA") for r in rows)

    for key, label in (("loss", "train"), ("val_loss", "PublicTest")):
        if logged(key):
            ax_loss.plot(epochs, [float(r[key]) for r in rows], label=label)
    for key, label in (("accuracy", "train"), ("val_accuracy", "PublicTest")):
        if logged(key):
            ax_acc.plot(epochs, [float(r[key]) for r in rows], label=label)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for axis in (ax_loss, ax_acc):
        axis.grid(alpha=0.3)
        axis.legend()
    fig.tight_layout()
    save_figure(fig, out_png, dpi=100)


def _one_hot(dataset: FaceDataset) -> np.ndarray:
    if dataset.soft_labels is not None:
        return dataset.soft_labels.astype(np.float32)
    return np.eye(len(dataset.class_names), dtype=np.float32)[dataset.labels]


def _without(dataset: FaceDataset, drop: set[str], split: str) -> FaceDataset:
    """Leave out what ``python -m training clean`` flags (blank, duplicate, leaked faces), counted."""
    keep = [i for i, source in enumerate(dataset.sources) if source not in drop]
    print(
        f"Cleaning: left out {len(dataset) - len(keep)} of {len(dataset)} {split} faces "
        "(python -m training clean lists them)."
    )
    return dataset.subset(keep)


def _limit(dataset: FaceDataset, limit: int, seed: int) -> FaceDataset:
    if not limit or limit >= len(dataset):
        return dataset
    order = np.random.default_rng(seed).permutation(len(dataset))[:limit]
    return dataset.subset(np.sort(order))


def _best_so_far(config: TrainConfig, state: dict) -> str:
    """Where the selection stands, in words (a refit selects nothing)."""
    if config.refit_publictest:
        return f"final refit on Training + PublicTest, no selection: epoch {state['best_epoch']} is kept"
    return f"best PublicTest accuracy {state['best_val_accuracy']:.4f} at epoch {state['best_epoch']}"


def _joined(first: FaceDataset, second: FaceDataset) -> FaceDataset:
    """Two splits as one training set (the refit's Training + PublicTest), in that order."""
    if first.class_names != second.class_names:
        raise ValueError(f"Cannot join splits with classes {first.class_names} and {second.class_names}.")
    soft = None
    if first.soft_labels is not None and second.soft_labels is not None:
        soft = np.concatenate([first.soft_labels, second.soft_labels])
    return FaceDataset(
        images=np.concatenate([first.images, second.images]),
        labels=np.concatenate([first.labels, second.labels]),
        sources=[*first.sources, *second.sources],
        class_names=first.class_names,
        soft_labels=soft,
        skipped=[*first.skipped, *second.skipped],
    )


def build_network(config: TrainConfig, num_classes: int):
    from training.models import create_model

    kwargs: dict = {"dropout": config.dropout}
    if config.l2:
        kwargs["l2"] = config.l2
    return build_in_precision(
        lambda: create_model(config.model, num_classes=num_classes, **kwargs), config.precision
    )


def _hardware() -> str:
    """Return GPU when Keras's backend sees one, else CPU (the report states each run's budget)."""
    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
        if backend == "torch":
            import torch

            return "GPU" if torch.cuda.is_available() else "CPU"
        if backend == "jax":
            import jax

            return "GPU" if jax.default_backend() == "gpu" else "CPU"
    except (ImportError, RuntimeError):
        pass
    return "CPU"


def set_frozen(model, frozen: bool) -> bool:
    """Freeze (or unfreeze) every top-level layer but the head; True when anything changed."""
    changed = False
    for layer in model.layers:
        trainable = True if not frozen else is_head(layer.name)
        if layer.weights and layer.trainable != trainable:
            layer.trainable = trainable
            changed = True
    return changed


def _compile(model, config: TrainConfig, steps_per_epoch: int, iterations: int = 0) -> None:
    optimizer = _optimizer(config, steps_per_epoch)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
    )
    _keep_raw_weights_between_fits(model)
    if iterations:
        # A new optimizer after unfreezing continues the learning-rate schedule where it was.
        optimizer.build(model.trainable_variables)
        optimizer.iterations.assign(iterations)


def _optimizer(config: TrainConfig, steps_per_epoch: int):
    if config.schedule == "cosine":
        warmup = config.warmup_epochs * steps_per_epoch
        total = max(config.epochs * steps_per_epoch - warmup, 1)
        learning_rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate * (0.1 if warmup else 1.0),
            decay_steps=total,
            alpha=0.01,
            warmup_target=config.learning_rate if warmup else None,
            warmup_steps=warmup,
        )
    else:
        learning_rate = config.learning_rate
    return make_optimizer(
        config.optimizer,
        learning_rate,
        weight_decay=config.weight_decay,
        momentum=config.momentum,
        body_lr_multiplier=config.body_lr_multiplier,
        ema_momentum=config.ema_momentum,
    )


class PlateauAcrossFits(keras.callbacks.ReduceLROnPlateau):
    """ReduceLROnPlateau whose patience count survives ``train``'s one ``fit`` call per epoch."""

    _begun = False

    def on_train_begin(self, logs=None):
        if not self._begun:
            self._begun = True
            super().on_train_begin(logs)


class SwapAverageEachEpoch(keras.callbacks.SwapEMAWeights):
    """SwapEMAWeights(swap_on_epoch=True) for one ``fit`` call per epoch.

    Keras treats the end of every ``fit`` as the end of training: the callback copies the average
    over the raw weights in the optimizer's slots, and ``finalize_variable_values`` writes it into
    the model, so the next epoch would train the average. Here the swap alone happens at each epoch
    end (the average in the model for validation and checkpoints, the raw weights kept in the slots)
    and :func:`_keep_raw_weights_between_fits` disables the overwrite.
    """

    def __init__(self) -> None:
        super().__init__(swap_on_epoch=True)

    def on_epoch_end(self, epoch, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True


def _keep_raw_weights_between_fits(model) -> None:
    """See :class:`SwapAverageEachEpoch`: no average overwrite when a per-epoch ``fit`` ends."""
    if getattr(model.optimizer, "use_ema", False):
        model.optimizer.finalize_variable_values = lambda var_list: None


class RunProgbar(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, numbering epochs out of the run's total across per-epoch ``fit`` calls."""

    def __init__(self, run_epochs: int) -> None:
        super().__init__()
        self.run_epochs = run_epochs

    def set_params(self, params):
        super().set_params(params)
        self.epochs = self.run_epochs


def train(
    config: TrainConfig,
    run_dir: Path,
    restart: bool = False,
    verbose: int | None = None,
    extra_callbacks: list | None = None,
) -> dict:
    """Train (or resume) one run; returns the final state (best epoch and PublicTest accuracy).

    ``extra_callbacks`` (e.g. :class:`training.throughput.FacesPerSecond`) join the run's own.
    """
    config.validate()
    run_dir = Path(run_dir).expanduser()
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.json"
    last_path = run_dir / "last.keras"
    log_path = run_dir / "log.csv"
    resuming = not restart and state_path.is_file() and last_path.is_file()
    if resuming:
        saved = json.loads((run_dir / "config.json").read_text())
        saved.setdefault("clean", False)  # runs started before cleaning existed keep their data
        # The recipe is the run's own; only this session's time budget comes from the caller.
        saved["time_budget_minutes"] = config.time_budget_minutes
        config = TrainConfig.from_dict(saved)
        state = json.loads(state_path.read_text())
        if state.get("finished"):
            print(f"Run {run_dir} already finished ({state['reason']}); {_best_so_far(config, state)}.")
            return state
        state["reason"] = ""  # the previous session's reason (e.g. its time budget) is history
        _drop_unfinished_log_rows(log_path, state["epoch"])
    else:
        for stale in (log_path, state_path, last_path, run_dir / "best.keras"):
            stale.unlink(missing_ok=True)
        state = {
            "epoch": 0,
            "best_epoch": 0,
            "best_val_accuracy": -1.0,
            "epochs_since_best": 0,
            "finished": False,
            "reason": "",
            "elapsed_seconds": 0.0,
        }
        _write_json(run_dir / "config.json", asdict(config))

    state["hardware"] = _hardware()
    warning = precision_warning(config.precision)
    if warning:
        print(f"Warning: {warning}")
    keras.utils.set_random_seed(config.seed + state["epoch"])
    train_set = load_split(config.data, "Training", config.source)
    val_set = load_split(config.data, "PublicTest", config.source)
    if config.clean:
        from training.cleaning import clean_dataset

        report = clean_dataset(config.data, layout_of(config.source))
        train_set = _without(train_set, report.files_to_drop("Training"), "Training")
        val_set = _without(val_set, report.files_to_drop("PublicTest"), "PublicTest")
    if config.refit_publictest:
        train_set = _joined(train_set, val_set)
        print(
            f"Final refit: {len(val_set)} PublicTest faces join Training; no validation, and "
            "best.keras is the last epoch's network."
        )
    train_set = _limit(train_set, config.limit_train, config.seed)
    val_set = _limit(val_set, config.limit_val, config.seed)
    num_classes = len(train_set.class_names)
    targets = _one_hot(train_set)
    if config.ferplus_weight:
        from training.ferplus_votes import ferplus_votes, mixed_targets

        votes = ferplus_votes(config.data, "Training", train_set)
        print(
            f"FER+ votes: {votes.matched_count} of {len(train_set)} Training faces matched by their "
            f"pixels; {config.ferplus_weight:g} of each matched target is FER+'s vote distribution."
        )
        targets = mixed_targets(targets, votes, config.ferplus_weight)
    if config.teacher:
        from training.distill import distilled_targets, teacher_probabilities

        taught = teacher_probabilities(
            config.teacher, train_set.images, train_set.sources, train_set.class_names, run_dir
        )
        targets = distilled_targets(targets, taught, config.teacher_weight)
    train_images, train_targets, train_labels = balance(
        train_set.images, targets, train_set.labels, config.balance, config.seed
    )
    if len(train_labels) != len(train_set):
        print(
            f"Balancing ({config.balance}): {len(train_set)} → {len(train_labels)} Training faces, "
            f"{np.bincount(train_labels, minlength=num_classes).tolist()} per class."
        )
    steps_per_epoch = math.ceil(len(train_labels) / config.batch_size)
    state["train_faces"] = len(train_labels)

    if resuming:
        model = keras.models.load_model(last_path)
        _keep_raw_weights_between_fits(model)
        print(
            f"Resuming {run_dir} after epoch {state['epoch']} of {config.epochs} "
            f"({_best_so_far(config, state)})."
        )
    else:
        model = build_network(config, num_classes)
        if config.init_weights:
            from training.models.transfer import load_init_weights

            print(f"Initial weights: {load_init_weights(model, config.init_weights)}.")
        set_frozen(model, config.freeze_epochs > 0)
        _compile(model, config, steps_per_epoch)
    power = config.class_weight_power or (1.0 if config.balance == "class_weight" else 0.0)
    weights = class_weights(train_labels, num_classes, power)
    sample_weight = np.asarray([weights[i] for i in train_labels], np.float32) if power else None
    budget_seconds = config.time_budget_minutes * 60.0
    started = time.monotonic()
    elapsed_before = float(state.get("elapsed_seconds", 0.0))

    class RunKeeper(keras.callbacks.Callback):
        """Atomic per-epoch checkpoint, best-on-PublicTest, early stopping, time budget."""

        def __init__(self) -> None:
            super().__init__()
            self.epoch_started = time.monotonic()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_started = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            val_accuracy = float(logs.get("val_accuracy", 0.0))
            epoch_seconds = time.monotonic() - self.epoch_started
            state["epoch"] = epoch + 1
            state["elapsed_seconds"] = elapsed_before + time.monotonic() - started
            # Each epoch's own wall time: a run paused (kill -STOP) or sharing the CPU for a while
            # inflates a few epochs, and the report's median of these ignores them.
            state.setdefault("epoch_seconds", []).append(round(epoch_seconds, 1))
            if config.refit_publictest:  # nothing to select on: every epoch is the latest
                state.update(best_epoch=epoch + 1, epochs_since_best=0)
                _atomic_save(self.model, run_dir / "best.keras")
            elif val_accuracy > state["best_val_accuracy"]:
                state.update(best_val_accuracy=val_accuracy, best_epoch=epoch + 1, epochs_since_best=0)
                _atomic_save(self.model, run_dir / "best.keras")
            else:
                state["epochs_since_best"] += 1
            _atomic_save(self.model, last_path)
            _write_json(state_path, state)
            with contextlib.suppress(OSError, ValueError, KeyError):
                plot_curves(log_path, run_dir / "curves.png")
            if state["epochs_since_best"] >= config.early_stopping_patience:
                state["reason"] = (
                    f"early stopping: no PublicTest gain in {config.early_stopping_patience} epochs"
                )
                self.model.stop_training = True
            out_of_time = time.monotonic() - started + epoch_seconds > budget_seconds
            if budget_seconds and epoch + 1 < config.epochs and out_of_time:
                state["reason"] = "time budget reached; run the same command again to resume"
                self.model.stop_training = True

    class FlushingCSVLogger(keras.callbacks.CSVLogger):
        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            lr = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))
            logs["seconds"] = round(time.monotonic() - started, 1)
            super().on_epoch_end(epoch, logs)

    csv_logger = FlushingCSVLogger(str(log_path), append=resuming)
    callbacks: list = [csv_logger]
    if config.ema_momentum:
        # Before RunKeeper: at each epoch's end the averaged weights are in the model (validated,
        # saved as best.keras and last.keras; the raw ones wait in the optimizer's average slots),
        # and they are swapped back when the next epoch begins.
        swap = SwapAverageEachEpoch()
        # A resumed last.keras holds the swapped state; the first epoch's begin swaps it back.
        swap._ema_weights_in_model = resuming
        callbacks.append(swap)
    callbacks += [RunKeeper(), *(extra_callbacks or [])]
    if config.schedule == "plateau":
        callbacks.append(
            PlateauAcrossFits(
                monitor="val_accuracy",
                mode="max",
                factor=config.plateau_factor,
                patience=config.plateau_patience,
                min_lr=config.learning_rate / 100,
            )
        )
    if verbose is None:
        verbose = 1 if os.isatty(2) else 2
    selecting = (
        "no selection (final refit)"
        if config.refit_publictest
        else f"selecting on {len(val_set)} PublicTest faces"
    )
    print(f"Training {config.model} on {len(train_set)} faces, {selecting}; run folder {run_dir}")
    # Phases: the body frozen for the first freeze_epochs (head only), then everything trains.
    phases = (
        [(config.freeze_epochs, True), (config.epochs, False)]
        if config.freeze_epochs
        else [(config.epochs, False)]
    )
    validation = None if config.refit_publictest else (val_set.images, _one_hot(val_set))
    if verbose:
        callbacks.append(RunProgbar(config.epochs))
    for phase_end, frozen in phases:
        if state["epoch"] >= phase_end or state["reason"]:
            continue
        if set_frozen(model, frozen):
            print(f"{'Freezing' if frozen else 'Unfreezing'} the body at epoch {state['epoch']}.")
            _compile(model, config, steps_per_epoch, iterations=state["epoch"] * steps_per_epoch)
        batches = AugmentedFaces(
            train_images,
            train_targets,
            sample_weight,
            config.batch_size,
            config.augment,
            config.seed,
            epoch=state["epoch"],
            mixup_alpha=config.mixup_alpha,
            cutmix_alpha=config.cutmix_alpha,
        )
        # One fit per epoch on that epoch's augmented arrays: arrays run at the bare step speed,
        # a batch-by-batch PyDataset did not (training/augment.py). RunKeeper advances state.
        for epoch in range(state["epoch"], phase_end):
            if state["reason"]:
                break
            images, targets, weights = batches.epoch_arrays()
            model.fit(
                images,
                targets,
                sample_weight=weights,
                batch_size=config.batch_size,
                shuffle=False,
                epochs=epoch + 1,
                initial_epoch=epoch,
                validation_data=validation,
                callbacks=callbacks,
                verbose=verbose,
            )
            csv_logger.append = True  # later fits (epochs, phases) add rows to the same log
            batches.on_epoch_end()
    if not state["reason"].startswith("time budget"):
        state["finished"] = True
        state["reason"] = state["reason"] or f"completed {config.epochs} epochs"
    _write_json(state_path, state)
    print(f"{state['reason']}; {_best_so_far(config, state)}; best network: {run_dir / 'best.keras'}")
    return state
