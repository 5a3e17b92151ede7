"""``python -m training calibrate``: fit the temperature on PublicTest; ECE before and after on the
report split; a reliability diagram. ``--write-sidecar`` stores it in a .tflite model's sidecar."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.data import DEFAULT_DATA_ROOT, SPLITS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="fit a calibration temperature; reliability diagram", description=__doc__
    )
    parser.add_argument("model", type=Path, metavar="MODEL", help="a .keras checkpoint or a .tflite model")
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA_ROOT, help="data root (default: %(default)s)"
    )
    parser.add_argument("--fit-split", choices=("Training", "PublicTest"), default="PublicTest")
    parser.add_argument("--report-split", choices=SPLITS, default="PrivateTest")
    parser.add_argument("--source", choices=("fer2013", "ferplus", "ferplus8"), default="fer2013")
    parser.add_argument("--tta", choices=("none", "flip", "tencrop"), default="none")
    parser.add_argument("--out", type=Path, default=None, help="folder for calibration.json, reliability.png")
    parser.add_argument(
        "--write-sidecar", action="store_true", help="store the temperature in MODEL's sidecar"
    )
    parser.add_argument("--json", action="store_true", help="print the record as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from training.calibration import calibrate_model

    record = calibrate_model(
        args.model,
        args.data,
        fit_split=args.fit_split,
        report_split=args.report_split,
        source=args.source,
        tta=args.tta,
        out_dir=args.out,
        write_sidecar=args.write_sidecar,
        show_progress=sys.stderr.isatty(),
    )
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    print(
        f"temperature fitted on {record['fit_split']}: {record['fitted_temperature']} "
        f"(model's total {record['temperature']}); on {record['report_split']}: ECE "
        f"{100 * record['ece_before']:.2f} % → {100 * record['ece_after']:.2f} %, log loss "
        f"{record['log_loss_before']:.4f} → {record['log_loss_after']:.4f}"
    )
    if record.get("sidecar"):
        print(f"temperature written to {record['sidecar']}")
    print(f"written: {record['out_dir']}/calibration.json, reliability.png")
    return 0
