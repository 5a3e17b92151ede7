"""``python -m training report``: the side-by-side comparison of every run, written to
``docs/model-zoo.md`` (with two plots), beside the five studies' own figures and the ``fer`` library.

A row per run folder (``config.json`` + ``state.json`` + ``best.keras``): parameters, MACs per face,
training time and budget (epochs done of the schedule, CPU or GPU — a run stopped early or given a
short CPU budget says so), PublicTest and PrivateTest accuracy, macro-F1, per-class recall, ECE,
and the ``.tflite`` ms/face at one thread. Figures come from the run's ``eval-best-*`` folders
(written by ``python -m training evaluate``); ``--measure`` creates the missing ones (and converts
``best.keras`` to a temporary ``.tflite`` to time it). Selection is on PublicTest; PrivateTest is
shown, never used to pick.

Run folders do not travel between machines or sessions, so every measured row is also kept in a
small committed ledger, ``docs/model-zoo-runs.json`` (next to the markdown): the rows of folders
present here replace their ledger entries by name, the rows whose folders are gone stay in the
table from the ledger (marked so, with the date they were last read), and ``--forget NAME`` drops
one on purpose.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

#: What the studies this project grew out of reported on FER2013 (their own splits and budgets).
STUDY_FIGURES: tuple[tuple[str, str, float], ...] = (
    ("FCNN (fully connected)", "fcnn", 45.0),
    ("baseline CNN", "baseline_cnn", 56.0),
    ("DeepFER CNN", "deepfer_cnn", 60.0),
    ("VGG-style", "vgg_*", 67.0),
    ("ResNet-50 transfer (VGGFace weights)", "resnet50_transfer", 71.0),
)
#: The studies' models that started from pretrained weights (none can be downloaded here).
PRETRAINED_IN_STUDY = frozenset({"resnet50_transfer"})
FER_LIBRARY = ("`fer` library (PrivateTest, measured here)", 65.87)
#: Runs named ``layers-*`` form the cheaper-layer ablation: one recipe and budget, one change each.
LAYER_STUDY_PREFIX = "layers-"
LAYER_STUDY_BASELINE = "vgg_compact"
LAYER_CHANGES = {
    "vgg_compact": "baseline: dense 3x3 convs, first block at 48x48",
    "vgg_compact_s2": "stride-2 stem (nothing at 48x48)",
    "vgg_compact_sep": "depthwise-separable convs in blocks 2-4",
}
#: Runs named ``arch-*`` form the architecture study (training/configs/architecture_study.sh): the
#: same CPU minutes for every network, each run sized to finish a whole schedule in them.
ARCH_STUDY_PREFIX = "arch-"
#: Runs named ``optim-*`` form the optimizer study (training/configs/optimizer_study.sh).
OPTIMIZER_STUDY_PREFIX = "optim-"
#: Runs named ``ferplusmix-*`` form the FER+-votes study (training/configs/ferplus_mix_study.sh).
FERPLUS_MIX_STUDY_PREFIX = "ferplusmix-"
#: Fewer epochs than this on a CPU is a short budget: the row is not a converged figure.
SHORT_BUDGET_EPOCHS = 30
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "model-zoo.md"
#: The ledger's file name; it lives beside the markdown unless ``--ledger`` says otherwise.
LEDGER_NAME = "model-zoo-runs.json"
LEDGER_FORMAT = 1
#: The metrics the report shows: all a ledger entry keeps of a run's ``metrics.json``.
LEDGER_METRICS = ("count", "accuracy", "macro_f1", "ece", "class_names", "per_class")


@dataclass
class Row:
    name: str
    model: str
    run_dir: Path
    parameters: int | None = None
    macs: int | None = None
    epochs_done: int = 0
    epochs_planned: int = 0
    finished: bool = False
    reason: str = ""
    hours: float = 0.0
    hardware: str = "CPU"
    notes: str = ""
    public: dict = field(default_factory=dict)
    private: dict = field(default_factory=dict)
    ms_per_face: float | None = None
    train_faces_per_s: float | None = None
    balance: str = "none"
    train_faces: int | None = None
    #: The labels it learned ("fer2013", "ferplus", "ferplus8"): FER+ figures are not FER2013's.
    source: str = "fer2013"
    #: The day this row was last read from its run folder (YYYY-MM-DD).
    measured_on: str = ""
    #: The recipe's optimizer and peak learning rate ("" and 0 in rows kept before they were read).
    optimizer: str = ""
    learning_rate: float = 0.0
    #: FER+ votes' share of each matched FER2013 Training target (``ferplus_weight``; 0 = none).
    ferplus_weight: float = 0.0
    #: True when the row comes from the ledger because its run folder was not found (not stored).
    from_ledger: bool = field(default=False, compare=False)

    @property
    def budget(self) -> str:
        text = f"{self.epochs_done}/{self.epochs_planned} ep, {self.hours:.1f} h {self.hardware}"
        gone = self.from_ledger and not (Path(self.run_dir).expanduser() / "last.keras").is_file()
        if not self.finished and gone:
            text += ", stopped (its run folder is gone, so it cannot resume)"
        elif not self.finished:
            resumable = "time budget" in self.reason or not self.reason  # paused, or running now
            text += ", in progress (resumable)" if resumable else f", stopped ({self.reason})"
        if self.hardware == "CPU" and self.epochs_done < SHORT_BUDGET_EPOCHS:
            text += " — **short CPU budget**"
        return text


class LedgerError(ValueError):
    """The ledger file is not one this report can read; the message names the file and the way out."""


@dataclass
class Ledger:
    """The rows measured so far, by run name, and the shipped model's ms/face of the last --measure."""

    rows: dict[str, Row] = field(default_factory=dict)
    shipped_ms: float | None = None
    shipped_ms_measured_on: str = ""


#: Row fields that describe this report's view of a row, not a measurement: never written.
_NOT_IN_LEDGER = frozenset({"from_ledger"})
_REQUIRED_IN_LEDGER = ("name", "model", "run_dir", "measured_on")
_LEDGER_KEYS = frozenset({"about", "format", "shipped_ms_per_face", "shipped_ms_measured_on", "runs"})
_LEDGER_ABOUT = (
    "Written by 'python -m training report': one entry per run it has measured, so rows survive the "
    "loss of their run folders. A run folder present replaces its entry by name; "
    "'--forget NAME' drops one."
)


def default_ledger(out: Path) -> Path:
    return Path(out).parent / LEDGER_NAME


def _portable(path: Path) -> str:
    """The run folder as a string, home spelt ``~`` so the committed file names no user."""
    path = Path(path).expanduser()
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except ValueError:
        return path.as_posix()


def _compact_metrics(metrics: dict) -> dict:
    """The part of a metrics.json ``metrics`` dict the report shows; per class only the recall."""
    kept = {key: metrics[key] for key in LEDGER_METRICS if key in metrics and key != "per_class"}
    if "per_class" in metrics:
        kept["per_class"] = {name: {"recall": row["recall"]} for name, row in metrics["per_class"].items()}
    return kept


def _has_figures(row: Row) -> bool:
    """A row worth keeping: one never evaluated nor timed has nothing to lose with its folder."""
    return bool(row.public or row.private or row.ms_per_face is not None)


def _ledger_entry(row: Row) -> dict:
    entry: dict = {}
    for spec in fields(Row):
        if spec.name in _NOT_IN_LEDGER:
            continue
        value = getattr(row, spec.name)
        if spec.name == "run_dir":
            value = _portable(value)
        elif spec.name in ("public", "private"):
            value = _compact_metrics(value)
        entry[spec.name] = value
    return entry


def _ledger_types() -> dict[str, tuple[type, ...]]:
    """What JSON value each stored Row field may hold (a path is a string, a float may be written 1)."""
    expected: dict[str, tuple[type, ...]] = {}
    for name, hint in typing.get_type_hints(Row).items():
        if name in _NOT_IN_LEDGER:
            continue
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        allowed = typing.get_args(hint) if union else (hint,)
        allowed = tuple(str if kind is Path else kind for kind in allowed)
        if float in allowed:
            allowed += (int,)
        expected[name] = allowed
    return expected


def _ledger_problem(path: Path, problem: str) -> LedgerError:
    return LedgerError(
        f"{path}: {problem}. This is the model-zoo ledger (JSON written by 'python -m training report'): "
        f"fix that by hand, or restore the committed one with 'git checkout -- {path}'; deleting it "
        "starts an empty ledger, which loses the rows whose run folders are not on this machine."
    )


def _check_metrics(path: Path, name: str, split: str, metrics: object) -> dict:
    if not isinstance(metrics, dict):
        raise _ledger_problem(path, f"run {name!r}: {split!r} is {type(metrics).__name__}, not an object")
    unknown = sorted(set(metrics) - set(LEDGER_METRICS))
    if unknown:
        raise _ledger_problem(
            path, f"run {name!r}: unknown {split} metrics {unknown} (known: {', '.join(LEDGER_METRICS)})"
        )
    for key in ("accuracy", "macro_f1", "ece"):
        if key in metrics and not isinstance(metrics[key], int | float):
            raise _ledger_problem(path, f"run {name!r}: {split} {key} is not a number")
    per_class = metrics.get("per_class", {})
    if not isinstance(per_class, dict) or not all(
        isinstance(row, dict) and set(row) == {"recall"} and isinstance(row["recall"], int | float)
        for row in per_class.values()
    ):
        raise _ledger_problem(
            path, f'run {name!r}: {split} per_class must map each class to {{"recall": number}}'
        )
    order = metrics.get("class_names") or []
    if order:
        # The file is written with sorted keys; class_names restores the order recall is shown in.
        ranked = {class_name: i for i, class_name in enumerate(order)}
        metrics["per_class"] = dict(
            sorted(per_class.items(), key=lambda item: ranked.get(item[0], len(ranked)))
        )
    return metrics


def load_ledger(path: Path) -> Ledger:
    """The rows kept in ``path``; a missing file is an empty ledger, a damaged one a LedgerError."""
    path = Path(path)
    if not path.is_file():
        return Ledger()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise _ledger_problem(path, f"not valid JSON ({error.msg} at line {error.lineno})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise _ledger_problem(path, f"could not be read ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise _ledger_problem(path, 'not a ledger: expected an object with a "runs" list')
    unknown = sorted(set(data) - _LEDGER_KEYS)
    if unknown:
        raise _ledger_problem(
            path, f"unknown top-level fields {unknown} (known: {', '.join(sorted(_LEDGER_KEYS))})"
        )
    if data.get("format", LEDGER_FORMAT) != LEDGER_FORMAT:
        raise _ledger_problem(
            path,
            f"format {data.get('format')!r}, this report reads format {LEDGER_FORMAT} (a newer ferdesk?)",
        )
    shipped_ms = data.get("shipped_ms_per_face")
    if shipped_ms is not None and not isinstance(shipped_ms, int | float):
        raise _ledger_problem(path, "shipped_ms_per_face is not a number")
    ledger = Ledger(shipped_ms=shipped_ms, shipped_ms_measured_on=str(data.get("shipped_ms_measured_on", "")))
    expected = _ledger_types()
    for position, entry in enumerate(data["runs"], start=1):
        if not isinstance(entry, dict):
            raise _ledger_problem(path, f"run {position} is {type(entry).__name__}, not an object")
        name = entry.get("name", f"number {position}")
        unknown = sorted(set(entry) - set(expected))
        if unknown:
            raise _ledger_problem(
                path, f"run {name!r} has unknown fields {unknown} (known: {', '.join(sorted(expected))})"
            )
        missing = [key for key in _REQUIRED_IN_LEDGER if key not in entry]
        if missing:
            raise _ledger_problem(path, f"run {name!r} lacks {', '.join(missing)}")
        for key, value in entry.items():
            if not isinstance(value, expected[key]) or (
                isinstance(value, bool) and bool not in expected[key]
            ):
                kinds = " or ".join("null" if kind is type(None) else kind.__name__ for kind in expected[key])
                raise _ledger_problem(path, f"run {name!r}: {key} is {value!r}, expected {kinds}")
        if name in ledger.rows:
            raise _ledger_problem(path, f"run {name!r} appears twice")
        for split in ("public", "private"):
            if split in entry:
                entry[split] = _check_metrics(path, name, split, entry[split])
        ledger.rows[name] = Row(**{**entry, "run_dir": Path(entry["run_dir"])}, from_ledger=True)
    return ledger


def _diffable_json(value: object, depth: int = 0) -> str:
    """JSON with sorted keys, one line per field, and a container of plain values on one line
    (a class's recall, the class names), so a re-measured figure is a one-line diff."""
    nested = isinstance(value, dict | list) and any(
        isinstance(item, dict | list) for item in (value.values() if isinstance(value, dict) else value)
    )
    if not nested:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    inner, outer = "  " * (depth + 1), "  " * depth
    if isinstance(value, dict):
        items = [
            f"{inner}{json.dumps(key)}: {_diffable_json(value[key], depth + 1)}" for key in sorted(value)
        ]
        return "{\n" + ",\n".join(items) + f"\n{outer}}}"
    assert isinstance(value, list)
    return "[\n" + ",\n".join(f"{inner}{_diffable_json(item, depth + 1)}" for item in value) + f"\n{outer}]"


def save_ledger(ledger: Ledger, path: Path) -> Path:
    """Write the rows with figures, sorted by name with sorted keys, so a change reads as a small diff."""
    data = {
        "about": _LEDGER_ABOUT,
        "format": LEDGER_FORMAT,
        "shipped_ms_per_face": ledger.shipped_ms,
        "shipped_ms_measured_on": ledger.shipped_ms_measured_on,
        "runs": [_ledger_entry(row) for _, row in sorted(ledger.rows.items()) if _has_figures(row)],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(_diffable_json(data) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _absent_note(row: Row) -> str:
    """Why a ledger row has no folder behind it today, and how old its figures are."""
    here = (Path(row.run_dir).expanduser() / "config.json").is_file()
    where = "run folder not under --runs" if here else "run folder not on this machine"
    return f"{where}; figures from {row.measured_on or 'an unknown date'}"


def _notes(row: Row) -> str:
    if not row.from_ledger:
        return row.notes
    return "; ".join(part for part in (row.notes, _absent_note(row)) if part)


def find_runs(roots: list[Path]) -> list[Path]:
    runs = []
    for root in roots:
        root = root.expanduser()
        candidates = [root] if (root / "config.json").is_file() else sorted(root.glob("*/"))
        runs += [c for c in candidates if (c / "config.json").is_file() and (c / "best.keras").is_file()]
    return runs


def _metrics(run_dir: Path, split: str) -> dict:
    path = run_dir / f"eval-best-{split}" / "metrics.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text()).get("metrics", {})


def _stale(run_dir: Path, name: str) -> bool:
    """A figure measured on an older best.keras (the run found a better epoch since)."""
    path = run_dir / name
    return path.is_file() and path.stat().st_mtime < (run_dir / "best.keras").stat().st_mtime


def _tflite_ms(run_dir: Path, model) -> float | None:
    cached = run_dir / "tflite_timing.json"
    if cached.is_file() and not (model is not None and _stale(run_dir, cached.name)):
        return json.loads(cached.read_text()).get("ms_per_face_1thread")
    if model is None:
        return None
    from ferdesk.vision.classifier import write_sidecar
    from ferdesk.vision.emotions import EMOTIONS, FERPLUS_EMOTIONS
    from training.export import convert, require_tensorflow_backend, time_per_face

    require_tensorflow_backend()
    import numpy as np

    classes = int(model.output_shape[-1])
    labels = EMOTIONS if classes == len(EMOTIONS) else FERPLUS_EMOTIONS[:classes]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.tflite"
        path.write_bytes(convert(model, "float32"))
        write_sidecar(path, model.name, labels)
        face = np.random.default_rng(0).random((1, *model.input_shape[1:]), dtype=np.float32)
        milliseconds = round(time_per_face(path, face, runs=200), 4)
    cached.write_text(json.dumps({"ms_per_face_1thread": milliseconds}) + "\n")
    return milliseconds


def collect(run_dir: Path, data_root: Path, measure: bool, show_progress: bool = False) -> Row:
    from training.complexity import describe
    from training.evaluate import evaluate_model, load_keras_model

    config = json.loads((run_dir / "config.json").read_text())
    state = json.loads((run_dir / "state.json").read_text()) if (run_dir / "state.json").is_file() else {}
    row = Row(name=run_dir.name, model=config.get("model", "?"), run_dir=run_dir)
    row.epochs_done = int(state.get("epoch", 0))
    row.epochs_planned = int(config.get("epochs", 0))
    row.finished = bool(state.get("finished"))
    row.reason = state.get("reason", "")
    row.hours = float(state.get("elapsed_seconds", 0.0)) / 3600.0
    row.hardware = state.get("hardware", "CPU")
    row.balance = config.get("balance", "none")
    row.source = config.get("source", "fer2013")
    row.train_faces = state.get("train_faces")
    row.optimizer = config.get("optimizer", "")
    row.learning_rate = float(config.get("learning_rate", 0.0))
    row.ferplus_weight = float(config.get("ferplus_weight", 0.0))
    notes = []
    if config.get("balance", "none") != "none":
        notes.append(f"balance={config['balance']}")
    if config.get("init_weights"):
        notes.append(
            f"init from {Path(config['init_weights']).parent.name}/{Path(config['init_weights']).name}"
        )
    if config.get("source") in ("ferplus", "ferplus8"):
        notes.append("FER+ vote distributions")
    if row.ferplus_weight:
        notes.append(f"FER+ votes mixed into FER2013's labels (weight {row.ferplus_weight:g})")
    if config.get("teacher"):
        notes.append(
            f"distilled from {Path(config['teacher']).name} (weight {config.get('teacher_weight', 0.5)})"
        )
    if config.get("precision", "float32") != "float32":
        notes.append(f"trained in {config['precision']} (exported float32)")
    refit = bool(config.get("refit_publictest"))
    if refit:
        notes.append("final refit on Training + PublicTest: no PublicTest figure (it trained on those faces)")
    if config.get("limit_train"):
        # A limit above the split's size trains on all of it: say what was trained, not the cap.
        trained = min(int(config["limit_train"]), int(state.get("train_faces") or config["limit_train"]))
        notes.append(f"{trained} Training faces")
    row.notes = ", ".join(notes)
    model = None
    try:
        model = load_keras_model(run_dir / "best.keras")
        row.parameters, row.macs = describe(model).values()
    except ValueError as error:
        row.notes = (row.notes + "; " if row.notes else "") + f"best.keras unreadable: {error}"
    measured_splits = ("PrivateTest",) if refit else ("PublicTest", "PrivateTest")
    if measure and model is not None:
        for split in measured_splits:
            if not _metrics(run_dir, split) or _stale(run_dir, f"eval-best-{split}/metrics.json"):
                evaluate_model(
                    run_dir / "best.keras",
                    data_root,
                    split,
                    config.get("source", "fer2013"),
                    show_progress=show_progress,
                )
    if any(_stale(run_dir, f"eval-best-{s}/metrics.json") for s in measured_splits):
        row.notes = (row.notes + "; " if row.notes else "") + "figures from an earlier best epoch (--measure)"
    if state.get("best_epoch") and not refit:
        row.notes = (row.notes + "; " if row.notes else "") + f"best epoch {state['best_epoch']}"
    row.public = {} if refit else _metrics(run_dir, "PublicTest")
    row.private = _metrics(run_dir, "PrivateTest")
    if measure or (run_dir / "tflite_timing.json").is_file():
        row.ms_per_face = _tflite_ms(run_dir, model if measure else None)
    row.train_faces_per_s = _train_faces_per_s(state, config, row.epochs_done)
    return row


def _train_faces_per_s(state: dict, config: dict, epochs_done: int) -> float | None:
    """Training faces a second over whole epochs (validation included, as an epoch costs).

    The median epoch where the run logged each epoch's time: a run paused to free the CPU (or
    sharing it for an hour) would otherwise look slower than its network is. Older runs logged only
    the total, which counts the pauses.
    """
    faces = int(state.get("train_faces") or config.get("limit_train") or 0)
    epoch_seconds = [float(s) for s in state.get("epoch_seconds") or [] if float(s) > 0]
    if faces and epoch_seconds:
        return faces / statistics.median(epoch_seconds)
    seconds = float(state.get("elapsed_seconds", 0.0))
    if faces and epochs_done and seconds:
        return faces * epochs_done / seconds
    return None


def _points_over(metrics: dict, baseline: dict | None) -> str:
    """Accuracy over a study's baseline in percentage points ("+1.23"); "–" where either is missing."""
    if baseline is None or metrics.get("accuracy") is None or baseline.get("accuracy") is None:
        return "–"
    return f"{100 * (metrics['accuracy'] - baseline['accuracy']):+.2f}"


def _pct(metrics: dict, key: str = "accuracy") -> str:
    return f"{100 * metrics[key]:.2f} %" if key in metrics else "–"


def _cells(r: Row) -> dict[str, str]:
    """The cells several tables show for a run, formatted one way ("–" where not measured)."""
    return {
        "parameters": f"{r.parameters:,}" if r.parameters else "–",
        "mmac": f"{(r.macs or 0) / 1e6:.1f}",
        "faces_per_s": f"{r.train_faces_per_s:.0f}" if r.train_faces_per_s else "–",
        "ms": f"{r.ms_per_face:.2f}" if r.ms_per_face is not None else "–",
        "f1": f"{r.private['macro_f1']:.4f}" if "macro_f1" in r.private else "–",
        "ece": f"{100 * r.private['ece']:.1f} %" if "ece" in r.private else "–",
    }


def _recalls(metrics: dict) -> str:
    per_class = metrics.get("per_class")
    if not per_class:
        return "–"
    return " / ".join(f"{row['recall']:.2f}" for row in per_class.values())


def _registered_mmac(name: str) -> str:
    from training.complexity import macs_per_face
    from training.models import create_model, list_models

    return f"{macs_per_face(create_model(name)) / 1e6:.1f}" if name in list_models() else "–"


def _shipped_sidecar() -> dict | None:
    """The shipped default model's sidecar, or None where there is none."""
    from ferdesk.vision.paths import default_emotion_model

    sidecar = Path(default_emotion_model()).with_suffix(".json")
    return json.loads(sidecar.read_text()) if sidecar.is_file() else None


def shipped_row() -> str | None:
    data = _shipped_sidecar()
    if data is None:
        return None
    m = data.get("metrics", {})
    recall = m.get("privatetest_per_class_recall", {})
    training = data.get("training", {})
    state = training.get("state") or {}
    architecture = (training.get("config") or {}).get("model") or data.get("name", "")
    budget = (
        f"{state['epoch']} ep, {state.get('elapsed_seconds', 0) / 3600:.1f} h {state.get('hardware', 'CPU')}"
        if state.get("epoch")
        else "see models/MODEL_CARD.md"
    )
    return (
        f"| **shipped** `{data.get('name')}` (models/ferdesk_emotion.tflite, single pass) | "
        f"{training.get('parameters', 0):,} | {_registered_mmac(architecture)} | "
        f"{budget} | – | "
        f"{_pct({'a': m['publictest_accuracy']}, 'a') if 'publictest_accuracy' in m else '–'} | "
        f"{_pct({'a': m['privatetest_accuracy']}, 'a') if 'privatetest_accuracy' in m else '–'} | "
        f"{m.get('privatetest_macro_f1', 0):.4f} | "
        f"{' / '.join(f'{v:.2f}' for v in recall.values()) or '–'} | "
        f"{100 * m.get('privatetest_ece', 0):.1f} % | {m.get('ms_per_face_1thread', '–')} | |"
    )


def plot(rows: list[Row], out_dir: Path) -> list[Path]:
    from training.figures import pyplot, save_figure

    plt = pyplot()
    written = []
    for key, label, file_name in (
        ("parameters", "parameters (millions)", "model-zoo-accuracy-vs-params.png"),
        ("ms_per_face", ".tflite ms/face, 1 thread", "model-zoo-accuracy-vs-ms.png"),
    ):
        points = [
            (getattr(r, key) / (1e6 if key == "parameters" else 1.0), 100 * r.public["accuracy"], r)
            for r in rows
            if getattr(r, key) and r.public.get("accuracy") is not None
        ]
        fig, axis = plt.subplots(figsize=(6, 4))
        for x, y, r in points:
            axis.scatter(x, y, marker="o" if r.epochs_done >= SHORT_BUDGET_EPOCHS else "x")
            axis.annotate(r.name, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        axis.set(xlabel=label, ylabel="PublicTest accuracy (%)", title="Accuracy vs " + label.split(" (")[0])
        if key == "parameters" and points:
            axis.set_xscale("log")
        axis.grid(alpha=0.3)
        fig.text(0.01, 0.01, "x = short CPU budget (not converged)", fontsize=7)
        fig.tight_layout()
        written.append(save_figure(fig, out_dir / file_name, dpi=100))
    return written


def _shipped_export_timing() -> str:
    """The shipped model's own ms/face from its sidecar (timed at export), quoted beside this run's."""
    try:
        ms = (_shipped_sidecar() or {})["metrics"]["ms_per_face_1thread"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return f" ({ms} ms when it was exported, its sidecar)"


def shipped_ms_now() -> float | None:
    """The shipped model's ms/face timed in this run: the baseline the new rows' timings compare to."""
    import numpy as np

    from ferdesk.vision.paths import default_emotion_model
    from training.export import time_per_face

    path = Path(default_emotion_model())
    if not path.is_file():
        return None
    return round(
        time_per_face(path, np.random.default_rng(0).random((1, 48, 48, 1), dtype=np.float32), 200), 3
    )


def write_report(
    rows: list[Row],
    out: Path,
    date: str,
    baseline_ms: float | None = None,
    ledger_name: str = LEDGER_NAME,
) -> Path:
    from ferdesk.vision.emotions import EMOTIONS

    lines = [
        "# Model zoo — every training run side by side",
        "",
        f"Written by `python -m training report` on {date} from the run folders and the rows kept in "
        f"`{ledger_name}`; do not edit by hand.",
        "Selection is on PublicTest; PrivateTest is the benchmark (shown, never used to choose).",
        f"Per-class recall order: {' / '.join(EMOTIONS)}. ms/face: float32 `.tflite`, batch 1, one thread.",
        f"Budgets are honest: a CPU run of fewer than {SHORT_BUDGET_EPOCHS} epochs is marked "
        "**short CPU budget** —",
        "its accuracy is where that budget got, not what the architecture reaches.",
        *(
            [
                f"Timings were taken on a shared machine: the shipped model timed in the same run took "
                f"{baseline_ms} ms/face{_shipped_export_timing()} — compare ratios, not ms."
            ]
            if baseline_ms
            else []
        ),
        "",
        "| run | parameters | MMAC/face | budget (epochs, time, hardware) | faces/s (whole epochs) | "
        "PublicTest | PrivateTest | macro-F1 (Private) | recall per class (Private) | ECE (Private) | "
        "ms/face | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    shipped = shipped_row()
    if shipped:
        lines.append(shipped)
    for r in sorted(rows, key=lambda r: -(r.public.get("accuracy") or 0)):
        c = _cells(r)
        lines.append(
            f"| {r.name} (`{r.model}`) | {c['parameters']} | {c['mmac']} | {r.budget} | {c['faces_per_s']} | "
            f"{_pct(r.public)} | {_pct(r.private)} | {c['f1']} | {_recalls(r.private)} | {c['ece']} | "
            f"{c['ms']} | {_notes(r)} |"
        )
    studied = [r for r in rows if r.name.startswith("imbalance-") or r.balance != "none"]
    if studied:
        lines += [
            "",
            "## Class imbalance: the same network and epochs, one remedy each (disgust: 436 Training faces)",
            "",
            "| run | remedy | Training faces an epoch | PublicTest acc | disgust recall (Public) | "
            "PrivateTest acc | macro-F1 (Private) | disgust recall (Private) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in sorted(studied, key=lambda r: r.name):

            def disgust(metrics: dict) -> str:
                row = metrics.get("per_class", {}).get("disgust")
                return f"{row['recall']:.3f}" if row else "–"

            lines.append(
                f"| {r.name} | {r.balance} | {r.train_faces or '–'} | {_pct(r.public)} | "
                f"{disgust(r.public)} | "
                f"{_pct(r.private)} | {_cells(r)['f1']} | {disgust(r.private)} |"
            )
    lines += _layer_study_lines(rows)
    lines += _architecture_study_lines(rows)
    lines += _optimizer_study_lines(rows)
    lines += _ferplus_mix_study_lines(rows)
    lines += [
        "",
        "## The studies' own figures (their splits, budgets and hardware), and the `fer` library",
        "",
        "| what | model here | reported accuracy | best run here (PublicTest / PrivateTest) |",
        "|---|---|---|---|",
    ]
    import fnmatch

    for label, pattern, figure in STUDY_FIGURES:
        # The studies' figures are FER2013 accuracies: a FER+ run is a different task.
        ours = [
            r
            for r in rows
            if fnmatch.fnmatch(r.model, pattern)
            and r.public
            and r.source == "fer2013"
            and "FER+" not in r.notes
        ]
        best = max(ours, key=lambda r: r.public.get("accuracy", 0), default=None)
        here = (
            f"{_pct(best.public)} / {_pct(best.private)} ({best.name}, {best.budget})"
            if best
            else "not run yet"
        )
        if best and pattern in PRETRAINED_IN_STUDY and "init from" not in best.notes:
            here += " — from scratch: without the pretrained weights the study started from"
        lines.append(f"| {label} | `{pattern}` | {figure:.0f} % | {here} |")
    lines.append(f"| {FER_LIBRARY[0]} | – | {FER_LIBRARY[1]:.2f} % | – |")
    lines += [
        "",
        "![accuracy vs parameters](model-zoo-accuracy-vs-params.png) "
        "![accuracy vs ms/face](model-zoo-accuracy-vs-ms.png)",
        "",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, out)
    return out


def _best_first(rows: list[Row], prefix: str) -> list[Row]:
    """The runs of one study (named ``prefix*``), best PublicTest accuracy first."""
    study = [r for r in rows if r.name.startswith(prefix)]
    return sorted(study, key=lambda r: -(r.public.get("accuracy") or 0))


def _section(title: str, intro: str, columns: str) -> list[str]:
    """A report section's heading, its one-paragraph reading guide and its table's header
    (``columns`` as the header's cells joined by " | ")."""
    return ["", f"## {title}", "", intro, "", f"| {columns} |", "|---" * len(columns.split(" | ")) + "|"]


def _layer_study_lines(rows: list[Row]) -> list[str]:
    """The cheaper-layer ablation (issue 12 section 0): training speed and PublicTest side by side,
    each as a ratio to the baseline network trained in the same study (a shared machine's absolute
    faces/s drift from run to run; the ratio is the finding)."""
    study = sorted((r for r in rows if r.name.startswith(LAYER_STUDY_PREFIX)), key=lambda r: r.name)
    if not study:
        return []
    base = next((r for r in study if r.model == LAYER_STUDY_BASELINE), None)
    lines = [
        "",
        "## Cheaper layers: the same recipe and epochs, one change to the network each",
        "",
        "A layer is worth keeping when it trains faster and costs no PublicTest accuracy; the ratios "
        f"are to `{LAYER_STUDY_BASELINE}` in the same study.",
        "",
        "| run | change | parameters | MMAC/face | faces/s (whole epochs) | × baseline speed | "
        "PublicTest | Δ PublicTest (points) | PrivateTest | ms/face |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in study:
        speed = r.train_faces_per_s
        ratio = "–"
        if base is not None and base.train_faces_per_s and speed:
            ratio = f"{speed / base.train_faces_per_s:.2f}×"
        delta = _points_over(r.public, base.public if base else None)
        c = _cells(r)
        lines.append(
            f"| {r.name} (`{r.model}`, {r.budget}) | {LAYER_CHANGES.get(r.model, r.model)} | "
            f"{c['parameters']} | {c['mmac']} | {c['faces_per_s']} | {ratio} | {_pct(r.public)} | {delta} | "
            f"{_pct(r.private)} | {c['ms']} |"
        )
    return lines


def _architecture_study_lines(rows: list[Row]) -> list[str]:
    """The architecture study: what the same few CPU minutes buy with each network. Slow networks
    see fewer Training faces in them, which is the finding, so the faces trained are shown beside
    the accuracy; best PublicTest first."""
    study = _best_first(rows, ARCH_STUDY_PREFIX)
    if not study:
        return []
    minutes = sorted(60 * r.hours for r in study)
    lines = _section(
        "Architectures at the same CPU budget",
        f"Each network trained for about {minutes[len(minutes) // 2]:.0f} CPU minutes "
        "(`bash training/configs/architecture_study.sh`): a whole warm-up + cosine schedule over as many "
        "Training faces as its measured speed allows in them. Far from what any of them converges to; "
        "it ranks what a CPU-hour buys.",
        "run | parameters | MMAC/face | Training faces × epochs | CPU minutes | "
        "faces/s (whole epochs) | PublicTest | PrivateTest | macro-F1 (Private) | ms/face",
    )
    for r in study:
        c = _cells(r)
        faces = f"{r.train_faces:,}" if r.train_faces else "–"
        lines.append(
            f"| {r.name} (`{r.model}`) | {c['parameters']} | {c['mmac']} | {faces} × {r.epochs_done} | "
            f"{60 * r.hours:.0f} | {c['faces_per_s']} | {_pct(r.public)} | {_pct(r.private)} | {c['f1']} | "
            f"{c['ms']} |"
        )
    return lines


def _optimizer_study_lines(rows: list[Row]) -> list[str]:
    """The optimizers the studies compared, on one network, recipe and number of epochs."""
    study = _best_first(rows, OPTIMIZER_STUDY_PREFIX)
    if not study:
        return []
    lines = _section(
        "Optimizers: the same network, recipe and epochs, one optimizer each",
        "`bash training/configs/optimizer_study.sh`: SGD is Nesterov momentum 0.9; weight decay is "
        "decoupled for AdamW and SGD, none for Adam and RMSprop (`training/optimizers.py`).",
        "run | optimizer | peak learning rate | budget | "
        "PublicTest | PrivateTest | macro-F1 (Private) | ECE (Private)",
    )
    for r in study:
        c = _cells(r)
        rate = f"{r.learning_rate:g}" if r.learning_rate else "–"
        lines.append(
            f"| {r.name} (`{r.model}`) | {r.optimizer or '–'} | {rate} | "
            f"{r.budget} | {_pct(r.public)} | {_pct(r.private)} | {c['f1']} | {c['ece']} |"
        )
    return lines


def _ferplus_mix_study_lines(rows: list[Row]) -> list[str]:
    """Do FER+ votes help on FER2013's own labels? The same recipe with and without them; the
    difference is to the run without votes in the same study."""
    study = sorted(
        (r for r in rows if r.name.startswith(FERPLUS_MIX_STUDY_PREFIX)), key=lambda r: r.ferplus_weight
    )
    if not study:
        return []
    base = next((r for r in study if not r.ferplus_weight), None)
    lines = _section(
        "FER+ votes on FER2013's labels: the same recipe, a share of each target from FER+",
        "`bash training/configs/ferplus_mix_study.sh`: each FER2013 Training face's target is "
        "`(1 - w) · its label + w · FER+'s votes for the same image` (faces paired by their pixels, "
        "`training/ferplus_votes.py`); selection and both test figures on FER2013's own labels. "
        "Δ is to the run without votes (w = 0).",
        "run | w (FER+ share) | budget | PublicTest | Δ PublicTest (points) | PrivateTest | "
        "Δ PrivateTest (points) | macro-F1 (Private) | ECE (Private)",
    )
    for r in study:
        c = _cells(r)
        lines.append(
            f"| {r.name} (`{r.model}`) | {r.ferplus_weight:g} | {r.budget} | {_pct(r.public)} | "
            f"{_points_over(r.public, base.public if base else None)} | {_pct(r.private)} | "
            f"{_points_over(r.private, base.private if base else None)} | {c['f1']} | {c['ece']} |"
        )
    return lines


def build_report(
    roots: list[Path],
    out: Path = DEFAULT_OUT,
    data_root: Path | None = None,
    measure: bool = False,
    show_progress: bool = False,
    ledger: Path | None = None,
    forget: Sequence[str] = (),
) -> tuple[Path, list[Row]]:
    """Collect the run folders under ``roots``, merge them into the ledger (``forget`` names dropped),
    write the ledger back, then the markdown and plots from the union; returns the rows shown."""
    import time

    from tqdm import tqdm

    from training.data import DEFAULT_DATA_ROOT

    ledger_path = Path(ledger) if ledger else default_ledger(out)
    kept = load_ledger(ledger_path)
    runs = find_runs(roots)
    by_name: dict[str, Path] = {}
    for run in runs:
        if run.name in by_name:
            raise ValueError(
                f"Two run folders are named {run.name!r} ({by_name[run.name]} and {run}); the ledger keeps "
                "rows by name, so rename one or pass --runs for one of them."
            )
        by_name[run.name] = run
    unknown = sorted(set(forget) - set(by_name) - set(kept.rows))
    if unknown:
        known = ", ".join(sorted(set(by_name) | set(kept.rows))) or "none"
        raise ValueError(
            f"--forget {', '.join(unknown)}: no such row in the run folders or {ledger_path} (rows: {known})."
        )
    runs = [run for run in runs if run.name not in forget]
    for name in forget:
        kept.rows.pop(name, None)
    if not runs and not kept.rows:
        raise FileNotFoundError(
            f"No run folders (config.json + best.keras) under {', '.join(str(r) for r in roots)} and no rows "
            f"in {ledger_path}; train one with 'python -m training train' or pass --runs DIR."
        )
    data_root = Path(data_root or DEFAULT_DATA_ROOT)
    if measure and runs and not data_root.is_dir():
        raise FileNotFoundError(f"--measure needs the data at {data_root}; pass --data PATH.")
    today = time.strftime("%Y-%m-%d")
    for run in tqdm(runs, desc="runs", unit="run", disable=not show_progress):
        row = collect(run, data_root, measure, show_progress)
        row.measured_on = today
        kept.rows[row.name] = row
    if measure:
        kept.shipped_ms, kept.shipped_ms_measured_on = shipped_ms_now(), today
    save_ledger(kept, ledger_path)
    rows = list(kept.rows.values())
    written = write_report(rows, out, today, kept.shipped_ms, ledger_path.name)
    plot(rows, out.parent)
    return written, rows
