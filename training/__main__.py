"""``python -m training COMMAND``: the training workbench's command line.

Each command lives in its own module with a ``register(subparsers)`` function, so the CLI stays a
thin dispatcher and every step is importable and testable on its own.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if len(sys.argv) > 1 and sys.argv[1] in ("export", "explain"):
    # TFLite conversion and gradients need the TensorFlow backend; set it before Keras is imported.
    os.environ["KERAS_BACKEND"] = "tensorflow"
# The recipes' backend, measured fastest here (training.train.DEFAULT_BACKEND); KERAS_BACKEND overrides.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

COMMANDS: tuple[str, ...] = (
    "stats",
    "clean",
    "augment",
    "train",
    "evaluate",
    "calibrate",
    "explain",
    "export",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Train, evaluate and export ferdesk's emotion models (FER2013 / FER+).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"training.cli_{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted; finished epochs are kept in the run folder.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
