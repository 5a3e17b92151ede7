"""Accuracy of an emotion model through `ferdesk predict`: FER2013 PrivateTest, or FER+ majority votes.

    python benchmarks/bench_accuracy.py [--data ../shared/data] [--model models/ferdesk_emotion.tflite]
    python benchmarks/bench_accuracy.py --split valid [--accurate]      # FER2013 PublicTest: for choosing
    python benchmarks/bench_accuracy.py --source ferplus [--split test|valid] [--model PATH]

FER2013 (the default source): runs the real command line (`ferdesk predict --faces whole --json` on
the 3,589 PrivateTest crops, or with `--split valid` the 3,589 PublicTest crops that models are
chosen on), times it, and scores its JSON lines against the folder labels: accuracy, macro-F1,
per-class recall, also on the faces that have no exact pixel copy in Training (FER2013 has such
copies; a model may have memorised them). `--accurate` scores accurate mode (`ferdesk predict
--accurate`); with `FERDESK_MODELS=DIR` it scores the manifest in DIR, which is how accurate-mode
candidates are compared on PublicTest. The `fer` library's model, measured on
the same crops on this machine, reached 65.87 % / 0.6415 macro-F1 (the figure issue 3 quotes).

FER+ (`--source ferplus`): the same command on the PNGs of one FER+ split, scored against the 10
annotators' votes in its label.csv, over the 8 FER+ emotions (FER2013's 7 and contempt):

* majority-vote accuracy, the figure FER+ papers report: faces whose top vote is unknown or NF (not a
  face) are dropped; the label is the top-voted emotion. The majority rule is training.data's
  ``read_ferplus`` (imported, so training and this benchmark agree): a tie goes to the first tied
  column in label.csv order (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt,
  unknown, NF), so a face tied between an emotion and unknown/NF is kept with that emotion.
* macro-F1 and per-class recall over the 8 classes (contempt included even when the model cannot
  predict it: a FER2013 7-class model runs, and the report says contempt is never predicted).
* plurality agreement: the share of faces where the predicted class got the most votes, a tie for
  most counting as right (some FER+ papers quote it; it is never below majority-vote accuracy).
* strict-majority accuracy: majority-vote accuracy on the faces Microsoft's FERPlus reader keeps in
  its "majority" mode (src/ferplus.py: single votes are dropped as outliers, then the top class must
  hold more than half of the remaining votes), the subset Microsoft's published training code scores
  its test accuracy on; the labels are the same, only the set of faces (smaller, cleaner) differs.

`--split test` (FER2013Test = FER2013 PrivateTest) is the final figure, never tuned on;
`--split valid` (FER2013Valid = PublicTest) is the split to choose models on. The output says which.
Ends with one JSON line (with "source" and "split" for FER+).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.common import finish, machine  # noqa: E402
from ferdesk.vision.emotions import (  # noqa: E402
    EMOTIONS,
    FERPLUS_COLUMNS,
    FERPLUS_EMOTIONS,
    FERPLUS_TO_EMOTION,
)
from training.cleaning import scan  # noqa: E402
from training.data import FERPLUS_FOLDERS, DatasetError, read_ferplus  # noqa: E402
from training.evaluate import evaluate_probabilities  # noqa: E402

FER_LIBRARY = {"accuracy": 0.6587, "macro_f1": 0.6415}

#: `--split` values (FER2013 and FER+ alike), mapped to the FER2013 split names training.data uses.
SPLITS: dict[str, str] = {"test": "PrivateTest", "valid": "PublicTest"}
#: FER+'s own name for its test split (FER2013's PrivateTest images).
FERPLUS_TEST = FERPLUS_FOLDERS["PrivateTest"]


def split_use(split: str, test_name: str) -> str:
    """What a split is for, printed with its figures so a number is never quoted for the wrong use;
    ``test_name`` is the data set's own name for its test split (PrivateTest, FER2013Test)."""
    if split == "test":
        return "the test split: report it as the final figure, never tune or choose models on it"
    return f"the selection split: choose models and tune on it; quote {test_name} as the final figure"


def copied_in_training(data_root: Path, split: str = "PrivateTest") -> set[Path]:
    """``split``'s files whose exact pixels are also a Training file, from the cleaner's (cached) scan."""
    _, _, records = scan(data_root, "fer2013")
    training = {r.digest for r in records if r.split == "Training" and r.digest}
    return {Path(r.path).resolve() for r in records if r.split == split and r.digest in training}


def predict_command(model: Path | None, flip_tta: bool | None, accurate: bool = False) -> list[str]:
    """The `ferdesk predict` command line every mode runs, before the file names."""
    command = [sys.executable, "-m", "ferdesk", "predict", "--faces", "whole", "--json", "--no-progress"]
    if accurate:
        command.append("--accurate")
    if model:
        command += ["--model", str(model)]
    if flip_tta is not None:
        command.append("--flip-tta" if flip_tta else "--no-flip-tta")
    return command


def run_fer2013(args: argparse.Namespace) -> None:
    test = args.data / "fer2013" / "test"
    if not test.is_dir():
        sys.exit(f"FER2013 not found under {args.data} (see ../shared/data/README.md).")
    split = SPLITS[args.split or "test"]
    files = sorted(test.glob(f"*/{split}_*"))
    command = predict_command(args.model, args.flip_tta, args.accurate)
    started = time.perf_counter()
    result = subprocess.run(command + [str(f) for f in files], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"ferdesk predict failed ({result.returncode}): {result.stderr[-2000:]}")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    labels = np.array([EMOTIONS.index(Path(r["path"]).parent.name) for r in records])
    probabilities = np.array([[r["faces"][0]["probabilities"][e] for e in EMOTIONS] for r in records])
    metrics = evaluate_probabilities(labels, probabilities, EMOTIONS)

    copies = copied_in_training(args.data, split)
    unseen = np.array([Path(r["path"]).resolve() not in copies for r in records])
    unseen_metrics = evaluate_probabilities(labels[unseen], probabilities[unseen], EMOTIONS)

    recall = {name: round(values["recall"], 4) for name, values in metrics["per_class"].items()}
    use = split_use(args.split or "test", "PrivateTest")
    model_name = "accurate mode" if args.accurate else str(args.model or "shipped default")
    print(f"scored split: FER2013 {split}, {use}; model: {model_name}")
    print(
        f"ferdesk predict on {len(records)} {split} crops: {seconds:.1f} s ({len(records) / seconds:.0f} img/s)"
    )
    print(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  ECE {metrics['ece']:.4f}")
    print("per-class recall: " + ", ".join(f"{k} {v:.3f}" for k, v in recall.items()))
    print(
        f"without the {int((~unseen).sum())} crops copied in Training: accuracy "
        f"{unseen_metrics['accuracy']:.4f}  macro-F1 {unseen_metrics['macro_f1']:.4f} ({int(unseen.sum())} crops)"
    )
    print(f"fer library (same crops, measured earlier): accuracy {FER_LIBRARY['accuracy']}, macro-F1 0.6415")
    print(f"machine: {machine()}")
    key = split.lower()
    finish(
        {
            "source": "fer2013",
            "split": split,
            "model": model_name,
            f"{key}_accuracy": round(metrics["accuracy"], 4),
            f"{key}_macro_f1": round(metrics["macro_f1"], 4),
            f"{key}_ece": round(metrics["ece"], 4),
            f"{key}_per_class_recall": recall,
            f"{key}_unseen_accuracy": round(unseen_metrics["accuracy"], 4),
            f"{key}_unseen_macro_f1": round(unseen_metrics["macro_f1"], 4),
            f"{key}_unseen_count": int(unseen.sum()),
            "predict_seconds": round(seconds, 1),
            "crops": len(records),
            "fer_library": FER_LIBRARY,
            "machine": machine(),
        }
    )


@dataclass
class FerplusVotes:
    """The scored faces of one FER+ split: where each is, its majority label and its vote shares.

    ``paths`` are resolved (the keys predictions are matched on); ``majority`` indexes
    FERPLUS_EMOTIONS; ``shares`` is ``(N, 8)``, each face's votes over the 8 emotions divided by
    their sum; ``strict`` marks the faces Microsoft's reader keeps (see :func:`microsoft_reader_keeps`);
    ``dropped`` counts the label.csv rows left out, by reason (``unknown``, ``NF``, ``other``).
    """

    paths: list[Path]
    majority: np.ndarray
    shares: np.ndarray
    strict: np.ndarray
    dropped: dict[str, int]


def microsoft_reader_keeps(votes: np.ndarray) -> bool:
    """Whether Microsoft's FERPlus reader (src/ferplus.py, "majority" mode) keeps a face of these votes.

    ``votes`` are the 10 label.csv counts. That reader zeroes single votes (outliers), then keeps
    the face only if the top count is more than half of what remains and is an emotion (not unknown
    or NF). Such a top count is unique, so its label is the same as ``read_ferplus``'s majority.
    """
    remaining = np.where(votes > 1, votes, 0.0)
    top = int(np.argmax(remaining))
    return bool(remaining[top] > 0.5 * remaining.sum()) and FERPLUS_COLUMNS[top] not in ("unknown", "NF")


def _label_csv_votes(label_file: Path) -> dict[str, np.ndarray]:
    """Image name -> its 10 vote counts, for the rows read_ferplus kept (so every row parses)."""
    votes: dict[str, np.ndarray] = {}
    with label_file.open(newline="") as handle:
        for row in csv.reader(handle):
            if row and row[0].strip():
                try:
                    votes[row[0].strip()] = np.array([float(v) for v in row[2 : 2 + len(FERPLUS_COLUMNS)]])
                except ValueError:
                    continue  # read_ferplus reports broken rows; they are not scored
    return votes


def read_ferplus_votes(data_root: Path, split: str) -> FerplusVotes:
    """Read the scored faces of FER+ ``split`` (``test`` or ``valid``) with training.data's reader.

    ``read_ferplus`` also decodes the images (a few seconds for a split); that is the price of having
    one majority rule for training and benchmark. Raises DatasetError with what is missing where.
    """
    dataset = read_ferplus(data_root, SPLITS[split], classes=FERPLUS_EMOTIONS)
    reasons: Counter[str] = Counter()
    for skipped in dataset.skipped:
        column = skipped.reason.removeprefix("majority vote is ")
        reasons[column if column in ("unknown", "NF") else "other"] += 1
    paths = [Path(source) for source in dataset.sources]
    raw = _label_csv_votes(paths[0].parent / "label.csv")
    strict = np.array([microsoft_reader_keeps(raw[path.name]) for path in paths])
    if dataset.soft_labels is None:  # read_ferplus always gives them; a change there must not pass silently
        raise DatasetError("read_ferplus returned no vote shares; the FER+ scores need them.")
    return FerplusVotes(
        paths=[path.resolve() for path in paths],
        majority=dataset.labels,
        shares=dataset.soft_labels,
        strict=strict,
        dropped={reason: reasons[reason] for reason in ("unknown", "NF", "other")},
    )


def ferplus_class(label: str) -> str:
    """A model's label as one of FERPLUS_EMOTIONS (FER+'s own names, "happiness", are accepted too)."""
    name = FERPLUS_TO_EMOTION.get(label, label)
    if name not in FERPLUS_EMOTIONS:
        raise ValueError(
            f"The model's label {label!r} is not a FER+ emotion; expected one of {', '.join(FERPLUS_EMOTIONS)}."
        )
    return name


def score_ferplus(predictions: Mapping[Path, str], votes: FerplusVotes) -> dict:
    """Score predicted labels (resolved path -> label) against the FER+ votes, over the 8 emotions.

    Every scored face needs a prediction (a missing one is a ValueError naming it: a broken run must
    not pass for a smaller test set); predictions for other files are ignored. Keys:
    ``count``, ``majority_vote_accuracy``, ``macro_f1`` and ``per_class_recall`` (macro over the
    classes present in labels or predictions, as training.evaluate computes it, contempt included),
    ``per_class_support``, ``plurality_agreement``, ``strict_majority_accuracy``,
    ``strict_majority_count``, ``confusion_matrix`` (rows = majority label, FERPLUS_EMOTIONS order).
    """
    missing = [path for path in votes.paths if path not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} scored faces have no prediction, e.g. {missing[0]}.")
    predicted = np.array([FERPLUS_EMOTIONS.index(ferplus_class(predictions[path])) for path in votes.paths])
    # One-hot "probabilities" give training.evaluate's confusion matrix and macro-F1, the same
    # definitions the FER2013 mode and the training reports use.
    one_hot = np.eye(len(FERPLUS_EMOTIONS))[predicted]
    metrics = evaluate_probabilities(votes.majority, one_hot, FERPLUS_EMOTIONS)
    rows = np.arange(len(predicted))
    plurality = votes.shares[rows, predicted] >= votes.shares.max(axis=1)
    correct = predicted == votes.majority
    strict_count = int(votes.strict.sum())
    return {
        "count": len(predicted),
        "majority_vote_accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "per_class_recall": {name: values["recall"] for name, values in metrics["per_class"].items()},
        "per_class_support": {name: values["support"] for name, values in metrics["per_class"].items()},
        "plurality_agreement": float(plurality.mean()),
        "strict_majority_accuracy": float(correct[votes.strict].mean()) if strict_count else None,
        "strict_majority_count": strict_count,
        "confusion_matrix": metrics["confusion_matrix"],
    }


def run_ferplus(args: argparse.Namespace) -> None:
    split = args.split or "test"
    folder_name = FERPLUS_FOLDERS[SPLITS[split]]
    try:
        votes = read_ferplus_votes(args.data, split)
    except DatasetError as error:
        sys.exit(
            f"Cannot read FER+ {folder_name}: {error} Each FER+ folder holds its PNGs and a label.csv "
            "of the annotators' vote counts."
        )
    command = predict_command(args.model, args.flip_tta)
    started = time.perf_counter()
    result = subprocess.run(
        command + [str(path) for path in votes.paths], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"ferdesk predict failed ({result.returncode}): {result.stderr[-2000:]}")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    unanswered = [
        r["path"] for r in records if r["error"] or not r["faces"] or r["faces"][0]["emotion"] is None
    ]
    if unanswered:
        sys.exit(f"ferdesk predict gave no emotion for {len(unanswered)} faces, e.g. {unanswered[0]}.")
    model_labels = list(records[0]["faces"][0]["probabilities"])
    try:
        classes = {ferplus_class(label) for label in model_labels}
        predictions = {Path(r["path"]).resolve(): r["faces"][0]["emotion"] for r in records}
        scores = score_ferplus(predictions, votes)
    except ValueError as error:
        sys.exit(str(error))
    contempt_predictable = "contempt" in classes

    strict_accuracy = scores["strict_majority_accuracy"]
    recall = {name: round(value, 4) for name, value in scores["per_class_recall"].items()}
    print(f"scored split: FER+ {folder_name} (FER2013 {SPLITS[split]}), {split_use(split, FERPLUS_TEST)}")
    print(
        f"ferdesk predict on {scores['count']} faces: {seconds:.1f} s ({scores['count'] / seconds:.0f} img/s); "
        f"dropped rows: {votes.dropped['unknown']} majority unknown, {votes.dropped['NF']} majority not-a-face, "
        f"{votes.dropped['other']} other"
    )
    if not contempt_predictable:
        contempt_faces = scores["per_class_support"]["contempt"]
        print(
            f"the model's labels ({', '.join(model_labels)}) have no contempt: contempt can never be predicted, "
            f"its {contempt_faces} face{'' if contempt_faces == 1 else 's'} count as wrong"
        )
    print(
        f"majority-vote accuracy {scores['majority_vote_accuracy']:.4f}  macro-F1 {scores['macro_f1']:.4f} "
        f"(8 classes)  plurality agreement {scores['plurality_agreement']:.4f}"
    )
    print("per-class recall: " + ", ".join(f"{k} {v:.3f}" for k, v in recall.items()))
    if strict_accuracy is not None:
        print(
            f"strict-majority accuracy (faces Microsoft's FERPlus reader keeps): {strict_accuracy:.4f} "
            f"({scores['strict_majority_count']} faces)"
        )
    print(f"machine: {machine()}")
    finish(
        {
            "source": "ferplus",
            "split": split,
            "split_folder": folder_name,
            "split_use": split_use(split, FERPLUS_TEST),
            "majority_vote_accuracy": round(scores["majority_vote_accuracy"], 4),
            "macro_f1": round(scores["macro_f1"], 4),
            "per_class_recall": recall,
            "per_class_support": scores["per_class_support"],
            "plurality_agreement": round(scores["plurality_agreement"], 4),
            "strict_majority_accuracy": None if strict_accuracy is None else round(strict_accuracy, 4),
            "strict_majority_count": scores["strict_majority_count"],
            "count": scores["count"],
            "dropped": votes.dropped,
            "model": str(args.model) if args.model else "shipped default",
            "model_labels": model_labels,
            "contempt_predictable": contempt_predictable,
            "predict_seconds": round(seconds, 1),
            "machine": machine(),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--flip-tta", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument(
        "--source",
        choices=("fer2013", "ferplus"),
        default="fer2013",
        help="fer2013: PrivateTest folder labels (default); ferplus: FER+ majority votes",
    )
    parser.add_argument(
        "--split",
        choices=tuple(SPLITS),
        default=None,
        help="test: PrivateTest / FER2013Test, the final figure (default); valid: PublicTest / "
        "FER2013Valid, the split to choose models on",
    )
    parser.add_argument(
        "--accurate",
        action="store_true",
        help="score accurate mode (FER2013 only; FERDESK_MODELS=DIR scores the manifest in DIR)",
    )
    args = parser.parse_args()
    if args.accurate and (args.model or args.flip_tta is not None):
        parser.error(
            "--accurate runs the manifest's own members and views; leave out --model and --flip-tta."
        )
    if args.source == "ferplus":
        if args.accurate:
            parser.error("--accurate is FER2013's 7-class ensemble; score it with --source fer2013.")
        run_ferplus(args)
    else:
        run_fer2013(args)


if __name__ == "__main__":
    main()
