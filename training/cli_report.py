"""``python -m training report``: write docs/model-zoo.md (and its two plots) from the run folders,
keeping the rows of folders no longer here in the ledger docs/model-zoo-runs.json."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.data import DEFAULT_DATA_ROOT, cache_dir


def register(subparsers) -> None:
    from training.report import DEFAULT_OUT, LEDGER_NAME

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
    parser.add_argument(
        "--ledger",
        type=Path,
        default=None,
        help=f"the committed rows of every run measured so far (default: {LEDGER_NAME} next to --out)",
    )
    parser.add_argument(
        "--forget",
        metavar="NAME",
        action="append",
        default=[],
        help="drop this run's row from the ledger and the table (repeat for more); a run folder still "
        "under --runs comes back next time",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from training.report import build_report, default_ledger

    roots = args.runs or [cache_dir() / "runs"]
    ledger = args.ledger or default_ledger(args.out)
    out, rows = build_report(
        roots, args.out, args.data, args.measure, sys.stderr.isatty(), ledger=ledger, forget=args.forget
    )
    kept = sum(row.from_ledger for row in rows)
    forgotten = f", forgot {', '.join(args.forget)}" if args.forget else ""
    print(f"{len(rows)} runs ({kept} from the ledger {ledger}{forgotten}) → {out}")
    return 0
