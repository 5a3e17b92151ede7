"""``python -m training stats``: images per class and split, as a table and a bar chart.

Counts come from file names and label files, without decoding an image, so this runs in seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.data import DEFAULT_DATA_ROOT, cache_dir
from training.stats import STAT_SOURCES, count_classes, write_stats


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="count images per class and split (table + bar chart PNG)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA_ROOT, help=f"data folder (default {DEFAULT_DATA_ROOT})"
    )
    parser.add_argument(
        "--source",
        choices=STAT_SOURCES,
        default="fer2013",
        help="fer2013 (Kaggle folders), ferplus (label.csv votes) or folders (one sub-folder per class)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the PNG and JSON (default ~/.cache/ferdesk/reports)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    stats = count_classes(args.data, args.source)
    print(stats.format_table())
    png, json_path = write_stats(stats, args.out or cache_dir() / "reports")
    print(f"\nBar chart: {png}\nCounts as JSON: {json_path}")
    return 0
