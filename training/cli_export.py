"""``python -m training export``: write the .tflite models ferdesk ships, with sidecars and figures.

Writes NAME.tflite (float32), NAME_float16.tflite and NAME_int8.tflite (int8 weights and
activations, float32 input/output), each with a NAME.json sidecar, then measures each through the
app's EmotionClassifier: PublicTest and PrivateTest accuracy, PrivateTest macro-F1, ms per face at
one thread. PrivateTest is reported, never used to choose anything. Those figures are single-pass
(to compare with the Keras network); a model exported with ``--flip-tta`` also gets them as the app
runs it (``metrics.as_run``), which the app's settings quote.

``--remeasure MODEL.tflite`` converts nothing: it measures an exported model as the app runs it
and writes ``metrics.as_run`` into its sidecar (for a sidecar from before, or a hand-set flip).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.data import DEFAULT_DATA_ROOT


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="convert a .keras checkpoint to .tflite (float32, float16, int8) and measure each",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "checkpoint",
        type=Path,
        nargs="?",
        metavar="CHECKPOINT.keras",
        help="e.g. a run folder's best.keras",
    )
    parser.add_argument(
        "--out", type=Path, help="the float32 model's path, e.g. models/NAME.tflite (needed to export)"
    )
    parser.add_argument(
        "--remeasure",
        type=Path,
        metavar="MODEL.tflite",
        help="convert nothing: measure this exported model as the app runs it (its sidecar's views) "
        "and write the figures into its sidecar's metrics.as_run",
    )
    parser.add_argument(
        "--variants",
        default="float32,float16,int8",
        help="comma-separated, from float32, float16, int8 (default: %(default)s)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA_ROOT,
        help="FER2013 data root for measuring and int8 calibration (default: %(default)s)",
    )
    parser.add_argument(
        "--source",
        choices=("fer2013", "ferplus", "ferplus8"),
        default="fer2013",
        help="labels to measure against (default: %(default)s)",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="model name in the sidecar (default: the network's name; variants get -float16/-int8)",
    )
    parser.add_argument(
        "--temperature",
        default="1.0",
        help="calibration temperature written to the sidecar: a number > 0, or 'auto' to fit "
        "it on PublicTest (default: %(default)s)",
    )
    parser.add_argument(
        "--run",
        type=Path,
        default=None,
        help="training run folder whose config.json/state.json go into the sidecar "
        "(default: the checkpoint's folder if it is one)",
    )
    parser.add_argument(
        "--no-measure",
        action="store_true",
        help="only convert (no accuracy or timing); int8 still needs Training faces from --data",
    )
    parser.add_argument(
        "--representative",
        type=int,
        default=500,
        help="Training faces for int8 calibration (default: %(default)s)",
    )
    parser.add_argument(
        "--timing-runs",
        type=int,
        default=300,
        help="timed single-face invocations per variant (default: %(default)s)",
    )
    parser.add_argument(
        "--flip-tta",
        action="store_true",
        help="the sidecar asks the app to average each face with its mirror image (choose it on PublicTest)",
    )
    parser.add_argument(
        "--description", default="", help="one sentence on the model, shown in the app's settings"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from training.export import export_model, format_table, remeasure_as_run

    if args.representative < 1:
        raise ValueError(f"--representative == {args.representative}, must be >= 1.")
    if args.timing_runs < 1:
        raise ValueError(f"--timing-runs == {args.timing_runs}, must be >= 1.")
    if args.remeasure is not None:
        if args.checkpoint is not None or args.out is not None:
            raise ValueError(
                "--remeasure measures an exported model and converts nothing; "
                "give it without CHECKPOINT.keras and --out."
            )
        figures = remeasure_as_run(
            args.remeasure, args.data, timing_runs=args.timing_runs, show_progress=sys.stderr.isatty()
        )
        print(
            f"{args.remeasure} as the app runs it ({figures['views']} views): PrivateTest "
            f"{100 * figures['privatetest_accuracy']:.2f} %, macro-F1 {figures['privatetest_macro_f1']:.4f}, "
            f"ECE {100 * figures['privatetest_ece']:.1f} %; PublicTest "
            f"{100 * figures['publictest_accuracy']:.2f} %; {figures['ms_per_face_1thread']:.2f} ms/face"
        )
        print(f"wrote metrics.as_run into {args.remeasure.with_suffix('.json')}")
        return 0
    if args.checkpoint is None or args.out is None:
        raise ValueError(
            "Give the checkpoint to export and --out, e.g. 'python -m training export "
            "RUN/best.keras --out models/NAME.tflite' (or --remeasure MODEL.tflite)."
        )
    results = export_model(
        args.checkpoint,
        args.out,
        variants=args.variants,
        data_root=args.data,
        source=args.source,
        name=args.name,
        temperature=args.temperature,
        run_dir=args.run,
        measure=not args.no_measure,
        representative_count=args.representative,
        timing_runs=args.timing_runs,
        show_progress=sys.stderr.isatty(),
        log=lambda message: print(message, file=sys.stderr),
        flip_tta=args.flip_tta,
        description=args.description,
    )
    print(format_table(results))
    for result in results:
        print(f"wrote {result.path} and {result.path.with_suffix('.json')}")
    return 0
