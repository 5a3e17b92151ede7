"""``python -m training evaluate``: accuracy, macro-F1, per-class figures and a confusion matrix.

MODEL is a ``.keras`` checkpoint (the bare network) or a ``.tflite`` model with its sidecar (run
through the app's own EmotionClassifier). PublicTest is the validation split; PrivateTest is the
benchmark to report, never to choose a model by.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.data import DEFAULT_DATA_ROOT, SPLITS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure a .keras or .tflite model on a FER2013 split",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", type=Path, metavar="MODEL", help="a .keras checkpoint or a .tflite model")
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA_ROOT, help="data root (default: %(default)s)"
    )
    parser.add_argument(
        "--split", choices=SPLITS, default="PublicTest", help="split to measure (default: %(default)s)"
    )
    parser.add_argument(
        "--source",
        choices=("fer2013", "ferplus", "ferplus8"),
        default="fer2013",
        help="labels: FER2013's own or FER+ majority votes (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for metrics.json, report.txt, confusion_matrix.png, probabilities.npz "
        "(default: eval-<model>-<split> beside a run folder's checkpoint, else "
        "~/.cache/ferdesk/evaluations/)",
    )
    parser.add_argument(
        "--tta",
        choices=("none", "flip", "tencrop"),
        default="none",
        help="'flip' averages each face with its mirror image (2 passes per face); 'tencrop' "
        "averages the four corner and the centre 42-px crops and their mirrors, resized to 48 "
        "(10 passes per face, ten times the cost) (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="LiteRT threads for a .tflite model (default: %(default)s, as in the app)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the metrics record as JSON instead of the table"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate_model

    if args.threads < 1:
        raise ValueError(f"--threads == {args.threads}, must be >= 1.")
    record = evaluate_model(
        args.model,
        args.data,
        split=args.split,
        source=args.source,
        out_dir=args.out,
        tta=args.tta,
        num_threads=args.threads,
        show_progress=sys.stderr.isatty(),
    )
    if args.json:
        print(json.dumps({k: v for k, v in record.items() if k != "report"}, indent=2))
        return 0
    print(record["report"])
    cost = (
        f"{record['inference_seconds']:.1f} s for {record['metrics']['count']} faces "
        f"({record['ms_per_face_batched']:.2f} ms/face, batched, {record['inference_passes']} pass"
        f"{'es' if record['inference_passes'] > 1 else ''} per face)"
    )
    print(f"\ninference: {cost}")
    if args.tta != "none":
        print(f"{args.tta} TTA costs {record['inference_passes']} inference passes per face.")
    pairs = ", ".join(f"{p['true']}→{p['predicted']} {p['count']}" for p in record["confusion_pairs"][:5])
    print(f"most frequent confusions (true→predicted): {pairs}")
    print(
        f"written: {record['out_dir']}/metrics.json, report.txt, confusion_matrix.png, reliability.png, "
        "mistakes.png, probabilities.npz"
    )
    return 0
