"""``ferdesk analyze``: per-face emotion timelines of videos and image sequences (a stable contract).

::

    ferdesk analyze [--out DIR] [--format csv|parquet] [--every N] [--detector short|full]
                    [--model PATH | --accurate] [--engine local|ray] [--address ADDR] [--workers N] [--force]
                    PATH...

For each input, ``<name>.csv`` (or ``.parquet``), ``<name>_timeline.png`` and the manifest
``<name>.analysis.json``; ``summary.csv`` over all inputs. Exit status 0 when every input was read,
1 when some failed (the others are still written; each failure is one line on stderr), 2 for a
usage or model error. See ``docs/analyze.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small, must be >= 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferdesk analyze",
        description=(
            "Analyse videos and image sequences with the live app's pipeline (detect, classify, track, "
            "smooth): one row per face per analysed frame, a timeline plot per input and a summary."
        ),
        epilog="The output format is a stable contract: see docs/analyze.md.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="video files, folders of images (one sequence), folders of videos",
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="where the outputs go (default: beside each input)"
    )
    parser.add_argument(
        "--format", choices=("csv", "parquet"), default="csv", help="table format (default csv)"
    )
    parser.add_argument(
        "--every",
        type=_positive_int,
        default=1,
        metavar="N",
        help="analyse every N-th frame (default 1: all)",
    )
    parser.add_argument(
        "--detector",
        choices=("short", "full"),
        default="full",
        help="face detector (default full, as the app)",
    )
    which_model = parser.add_mutually_exclusive_group()
    which_model.add_argument(
        "--model", type=Path, metavar="PATH", help="emotion model .tflite (default: the shipped one)"
    )
    which_model.add_argument(
        "--accurate",
        action="store_true",
        help="accurate mode: the networks and views of models/ferdesk_accurate.json, averaged "
        "(as ferdesk predict --accurate; several network passes per face, so slower)",
    )
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: Ray tasks",
    )
    parser.add_argument(
        "--address", metavar="ADDR", help="with --engine ray: join this Ray cluster (host:port, 'auto')"
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="with --engine ray: at most N inputs at once (default: a local cluster, one worker per core)",
    )
    parser.add_argument("--force", action="store_true", help="analyse again and overwrite existing outputs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    return parser


def _usage_error(message: str) -> int:
    print(f"ferdesk analyze: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _check_extras(args: argparse.Namespace) -> str | None:
    """A missing optional package, as the message to print; None when all are there."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        return "the timeline plots need matplotlib: pip install 'ferdesk[analysis]'."
    if args.format == "parquet" and importlib.util.find_spec("pyarrow") is None:
        return "--format parquet needs pyarrow: pip install 'ferdesk[analysis]' (or use --format csv)."
    if args.engine == "ray" and importlib.util.find_spec("ray") is None:
        return "--engine ray needs Ray: pip install 'ferdesk[cluster]' (or use --engine local)."
    if args.engine == "local" and args.address:
        return "--address joins a Ray cluster; use it with --engine ray."
    if args.engine == "local" and args.workers not in (None, 1):
        return "--workers sets the Ray engine's parallelism; use it with --engine ray."
    return None


def run(args: argparse.Namespace) -> int:
    from ferdesk.analysis.analyzer import AnalysisOptions
    from ferdesk.analysis.inputs import expand, plan, summary_dir
    from ferdesk.analysis.runner import RunReport, run_analysis, say
    from ferdesk.vision.classifier import ModelError
    from ferdesk.vision.detector import DetectorError

    options = AnalysisOptions(
        every=args.every,
        detector=args.detector,
        model=str(args.model) if args.model else None,
        accurate=args.accurate,
    )
    inputs, bad_paths = expand(args.paths)
    report = RunReport()
    for bad in bad_paths:
        report.failures.append(bad.reason)
        say(f"ferdesk analyze: {bad.reason}")
    planned = plan(inputs, args.out)
    progress = not args.no_progress
    try:
        if args.engine == "ray":
            from ferdesk.analysis.ray_engine import RayEngine, check_models

            check_models(options)
            engine = RayEngine(options, address=args.address, workers=args.workers, progress=progress)
        else:
            from ferdesk.analysis.analyzer import VideoAnalyzer
            from ferdesk.analysis.engines import local_engine

            analyzer = VideoAnalyzer(options)
            engine = local_engine(analyzer, progress=progress)
    except (ModelError, DetectorError) as error:
        return _usage_error(f"the face or emotion model could not be loaded. {error}")
    try:
        run_analysis(
            planned, engine, options, args.format, args.force, summary_dir(planned, args.out), report
        )
    finally:
        if args.engine == "ray":
            engine.close()
        else:
            analyzer.close()
    done, skipped, failed = len(report.analysed), len(report.skipped), len(report.failures)
    where = f"; summary: {report.summary}" if report.summary else ""
    print(f"{done} analysed, {skipped} skipped (unchanged), {failed} failed{where}", flush=True)
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0), or a usage error argparse has explained (2)
        return int(exit_.code or 0)
    problem = _check_extras(args)
    if problem:
        return _usage_error(problem)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        return _usage_error(f"--out {args.out} is a file; --out takes a folder (it is created if missing).")
    try:
        return run(args)
    except KeyboardInterrupt:
        print(
            "Interrupted; run the same command again to finish (complete outputs are skipped).",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
