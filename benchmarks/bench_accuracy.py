"""Accuracy of the shipped model on FER2013 PrivateTest through `ferdesk predict`, and its speed.

    python benchmarks/bench_accuracy.py [--data ../shared/data] [--model models/ferdesk_emotion.tflite]

Runs the real command line (`ferdesk predict --faces whole --json` on the 3,589 PrivateTest crops),
times it, and scores its JSON lines against the folder labels: accuracy, macro-F1, per-class recall,
also on the PrivateTest faces that have no exact pixel copy in Training (FER2013 has such copies; a
model may have memorised them). The `fer` library's model, measured on the same crops on this
machine, reached 65.87 % / 0.6415 macro-F1 (the figure issue 3 quotes). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.common import finish, machine  # noqa: E402
from ferdesk.vision.emotions import EMOTIONS  # noqa: E402
from training.cleaning import scan  # noqa: E402
from training.evaluate import evaluate_probabilities  # noqa: E402

FER_LIBRARY = {"accuracy": 0.6587, "macro_f1": 0.6415}


def copied_in_training(data_root: Path) -> set[Path]:
    """PrivateTest files whose exact pixels are also a Training file, from the cleaner's (cached) scan."""
    _, _, records = scan(data_root, "fer2013")
    training = {r.digest for r in records if r.split == "Training" and r.digest}
    return {Path(r.path).resolve() for r in records if r.split == "PrivateTest" and r.digest in training}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--flip-tta", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args()
    test = args.data / "fer2013" / "test"
    if not test.is_dir():
        sys.exit(f"FER2013 not found under {args.data} (see ../shared/data/README.md).")
    files = sorted(test.glob("*/PrivateTest_*"))
    command = [sys.executable, "-m", "ferdesk", "predict", "--faces", "whole", "--json", "--no-progress"]
    if args.model:
        command += ["--model", str(args.model)]
    if args.flip_tta is not None:
        command.append("--flip-tta" if args.flip_tta else "--no-flip-tta")
    started = time.perf_counter()
    result = subprocess.run(command + [str(f) for f in files], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"ferdesk predict failed ({result.returncode}): {result.stderr[-2000:]}")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    labels = np.array([EMOTIONS.index(Path(r["path"]).parent.name) for r in records])
    probabilities = np.array([[r["faces"][0]["probabilities"][e] for e in EMOTIONS] for r in records])
    metrics = evaluate_probabilities(labels, probabilities, EMOTIONS)

    copies = copied_in_training(args.data)
    unseen = np.array([Path(r["path"]).resolve() not in copies for r in records])
    unseen_metrics = evaluate_probabilities(labels[unseen], probabilities[unseen], EMOTIONS)

    recall = {name: round(values["recall"], 4) for name, values in metrics["per_class"].items()}
    print(
        f"ferdesk predict on {len(records)} PrivateTest crops: {seconds:.1f} s ({len(records) / seconds:.0f} img/s)"
    )
    print(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  ECE {metrics['ece']:.4f}")
    print("per-class recall: " + ", ".join(f"{k} {v:.3f}" for k, v in recall.items()))
    print(
        f"without the {int((~unseen).sum())} crops copied in Training: accuracy "
        f"{unseen_metrics['accuracy']:.4f}  macro-F1 {unseen_metrics['macro_f1']:.4f} ({int(unseen.sum())} crops)"
    )
    print(f"fer library (same crops, measured earlier): accuracy {FER_LIBRARY['accuracy']}, macro-F1 0.6415")
    print(f"machine: {machine()}")
    finish(
        {
            "privatetest_accuracy": round(metrics["accuracy"], 4),
            "privatetest_macro_f1": round(metrics["macro_f1"], 4),
            "privatetest_ece": round(metrics["ece"], 4),
            "privatetest_per_class_recall": recall,
            "privatetest_unseen_accuracy": round(unseen_metrics["accuracy"], 4),
            "privatetest_unseen_macro_f1": round(unseen_metrics["macro_f1"], 4),
            "privatetest_unseen_count": int(unseen.sum()),
            "predict_seconds": round(seconds, 1),
            "crops": len(records),
            "fer_library": FER_LIBRARY,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
