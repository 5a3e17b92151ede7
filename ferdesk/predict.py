"""``ferdesk predict``: emotions of the faces in image files, as a table or JSON lines.

A stable contract that scripts rely on::

    ferdesk predict [--faces auto|whole] [--json] [--model PATH] [--detector short|full] PATH...

PATHs are image files or folders (searched recursively). With ``--json`` each image gives one line
``{"path", "faces": [{"box", "emotion", "confidence", "probabilities"}], "error"}``. Exit status 0
when every image was read, 1 when some failed (the others are still printed), 2 for a usage or
model error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ferdesk.vision.imageio import ImageLoadError, is_image_file, load_image

#: Whole-image crops are classified in batches of this many (one interpreter call each).
WHOLE_BATCH = 64


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferdesk predict",
        description="Detect faces in images and report the emotion each one appears to show.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (recursive)")
    parser.add_argument(
        "--faces",
        choices=("auto", "whole"),
        default="auto",
        help="auto: detect faces (default); whole: each image is one face crop (e.g. FER2013)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per image per line")
    parser.add_argument("--model", type=Path, default=None, help="emotion model .tflite (default: shipped)")
    parser.add_argument(
        "--detector",
        default="full",
        help="face detector: 'full' (default, small faces too), 'short' or a path",
    )
    parser.add_argument("--threads", type=int, default=1, help="interpreter threads (default 1)")
    parser.add_argument(
        "--flip-tta",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="average each face with its mirror image (default: as the model's sidecar recommends)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return parser


def collect_files(paths: list[str]) -> list[tuple[Path, str | None]]:
    """Expand folders; a missing path becomes an entry with its error."""
    files: list[tuple[Path, str | None]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and is_image_file(p))
            if not found:
                files.append((path, "folder holds no image files (JPEG, PNG, BMP, WebP, TIFF, GIF)."))
            files.extend((p, None) for p in found)
        elif path.exists():
            files.append((path, None))
        else:
            files.append((path, "file not found."))
    return files


def _load(entry: tuple[Path, str | None]) -> tuple[Path, np.ndarray | None, str | None]:
    path, error = entry
    if error:
        return path, None, error
    try:
        return path, load_image(path), None
    except ImageLoadError as failure:
        return path, None, failure.reason
    except MemoryError:
        return path, None, "not enough memory to decode this image."


def _loaded(files: list[tuple[Path, str | None]]) -> Iterator[tuple[Path, np.ndarray | None, str | None]]:
    # Decoding releases the GIL; a few threads overlap it with classification, in order.
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield from pool.map(_load, files)


def _record(path: Path, faces: list, error: str | None) -> dict:
    return {"path": str(path), "faces": [face.to_json() for face in faces], "error": error}


def _format_table_rows(record: dict) -> list[str]:
    if record["error"]:
        return [f"{record['path']}: error: {record['error']}"]
    faces = record["faces"]
    if not faces:
        return [f"{record['path']}: no face found"]
    lines = [f"{record['path']}: {len(faces)} face{'s' if len(faces) != 1 else ''}"]
    for number, face in enumerate(faces, start=1):
        x, y, w, h = face["box"]
        if face["emotion"] is None:
            lines.append(f"  {number}. box ({x}, {y}, {w}x{h})  too small to classify")
        else:
            lines.append(
                f"  {number}. box ({x}, {y}, {w}x{h})  {face['emotion']:<8} {face['confidence'] * 100:5.1f} %"
            )
    return lines


def run(args: argparse.Namespace, out=None) -> int:
    from tqdm import tqdm

    from ferdesk.vision.analyze import FaceAnalyzer

    out = out if out is not None else sys.stdout
    files = collect_files(args.paths)
    analyzer = FaceAnalyzer(
        args.model, detector=args.detector, num_threads=args.threads, flip_tta=args.flip_tta
    )
    failures = 0
    progress = tqdm(
        total=len(files),
        unit="img",
        file=sys.stderr,
        disable=args.no_progress or len(files) < 20,
        desc="ferdesk predict",
    )

    def emit(record: dict) -> None:
        nonlocal failures
        failures += record["error"] is not None
        if args.json:
            out.write(json.dumps(record) + "\n")
        else:
            out.write("\n".join(_format_table_rows(record)) + "\n")
        progress.update(1)

    try:
        with analyzer:
            pending: list[tuple[Path, np.ndarray]] = []

            def flush_whole() -> None:
                results = analyzer.analyze_whole([image for _, image in pending])
                for (path, _), faces in zip(pending, results, strict=True):
                    emit(_record(path, faces, None))
                pending.clear()

            for path, image, error in _loaded(files):
                if image is None:
                    if pending:
                        flush_whole()
                    emit(_record(path, [], error))
                    continue
                if args.faces == "whole":
                    pending.append((path, image))
                    if len(pending) >= WHOLE_BATCH:
                        flush_whole()
                    continue
                try:
                    faces = analyzer.analyze(image, "auto")
                except (ValueError, RuntimeError) as failure:
                    emit(_record(path, [], f"analysis failed ({failure})."))
                    continue
                emit(_record(path, faces, None))
            if pending:
                flush_whole()
    finally:
        progress.close()
        out.flush()
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads < 1:
        print(f"error: --threads == {args.threads}, must be >= 1.", file=sys.stderr)
        return 2
    from ferdesk.vision.classifier import ModelError
    from ferdesk.vision.detector import DetectorError

    try:
        return run(args)
    except (ModelError, DetectorError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `ferdesk predict ... | head` closed the pipe: not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
