"""``python -m training clean``: find blank, broken, stray and duplicated faces, and say how many.

Prints a table of problems per split and writes the full report (every offending file, every
duplicate group, the files to drop) as JSON. Nothing is deleted: training leaves the files out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ferdesk.vision.preprocess import INPUT_SIZE
from training.cleaning import SOURCES, clean_dataset
from training.data import DEFAULT_DATA_ROOT, cache_dir


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "clean",
        help="report blank, broken, stray and duplicate images (writes a JSON report)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA_ROOT,
        help=f"FER2013 Kaggle folder, FER+ folder or one sub-folder per class (default {DEFAULT_DATA_ROOT})",
    )
    parser.add_argument(
        "--source",
        choices=("auto", *SOURCES),
        default="auto",
        help="layout of --data (default: auto-detect; 'folders' = one sub-folder per class)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON report path (default ~/.cache/ferdesk/reports/cleaning-SOURCE.json)",
    )
    parser.add_argument(
        "--size", type=int, default=INPUT_SIZE, help=f"expected image side in pixels (default {INPUT_SIZE})"
    )
    parser.add_argument("--any-size", action="store_true", help="do not check image sizes (photo sets)")
    parser.add_argument(
        "--blank-std",
        type=float,
        default=1.0,
        help="an image whose grey-level standard deviation is below this is blank (default 1.0)",
    )
    parser.add_argument("--show", type=int, default=3, help="example files printed per problem (default 3)")
    parser.add_argument("--no-cache", action="store_true", help="decode every file again, ignoring the cache")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    report = clean_dataset(
        args.data,
        source=args.source,
        expected_size=None if args.any_size else args.size,
        blank_std=args.blank_std,
        use_cache=not args.no_cache,
        show_progress=not args.quiet,
    )
    print(report.format_table(examples=max(args.show, 0)))
    out = args.out or cache_dir() / "reports" / f"cleaning-{report.source}.json"
    path = report.write_json(out)
    print(f"\nFull report (every file, every duplicate group): {path}")
    return 0
