"""``python -m training report``: write docs/model-zoo.md (and its two plots) from the run folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.data import DEFAULT_DATA_ROOT, cache_dir


def register(subparsers) -> None:
    from training.report import DEFAULT_OUT

    parser = subparsers.add_parser("report", help="the side-by-side model zoo table", description=__doc__)
    parser.add_argument(
        "--runs",
        type=Path,
        nargs="+",
        default=None,
        help="run folders, or folders of run folders (default: ~/.cache/ferdesk/runs)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="(default: %(default)s)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument(
        "--measure",
        action="store_true",
        help="evaluate runs without eval-best-* folders and time their .tflite (minutes per run)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from training.report import build_report

    roots = args.runs or [cache_dir() / "runs"]
    out, rows = build_report(roots, args.out, args.data, args.measure, sys.stderr.isatty())
    print(f"{len(rows)} runs → {out}")
    return 0
