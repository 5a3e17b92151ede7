"""``ferdesk predict``: emotions of the faces in image files, as a table or JSON lines.

A stable contract that scripts rely on::

    ferdesk predict [--faces auto|whole] [--json] [--model PATH | --accurate] [--detector short|full] PATH...

PATHs are image files or folders (searched recursively). Every file gives exactly one result — its
faces or its one-line error — whatever it holds, and the run goes on: see :data:`EPILOG` for the
JSON fields, how file names that are not UTF-8 are written, and the exit statuses.

Memory stays bounded whatever the folder size: files are found lazily by an iterative walk (no
recursion, so any depth) and at most ``2 x workers`` files, and 40 MP in all, are decoded ahead of
the one being analysed; results are written, in input order, as each file is done.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import errno
import json
import os
import stat
import sys
import time
import traceback
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from ferdesk.vision.imageio import (
    IMAGE_SUFFIXES,
    ImageLoadError,
    describe_os_error,
    error_name,
    image_pixels,
    load_image,
)

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_CANNOT_RUN = 2
EXIT_INTERNAL_ERROR = 3
EXIT_INTERRUPTED = 130

#: Whole-image crops are classified in batches of this many (one interpreter call each)...
WHOLE_BATCH = 64
#: ...or fewer, so that a batch of large photos never holds more than this many pixels.
WHOLE_BATCH_PIXELS = 16_000_000

#: Files decoded ahead of the one being analysed, per decoding thread (the memory bound)...
WINDOW_PER_WORKER = 2
#: ...and the pixels they may hold in all (~3 bytes each as RGB, twice that while decoding).
DECODE_PIXEL_BUDGET = 40_000_000

EPILOG = """\
output:
  A table by default: one line per image ("PATH: 2 faces", "PATH: no face found",
  "PATH: error: WHY"), then one line per face. With --json, one JSON object per image per line:
    {"path": ..., "faces": [{"box": [x, y, w, h], "emotion": ..., "confidence": ...,
     "probabilities": {...}}], "error": null or "one sentence"}
  Every file found gives exactly one line, in input order (folders sorted by name).

file names that are not UTF-8:
  JSON: "path" holds the name with each undecodable byte replaced by U+FFFD, and an extra field
  "path_bytes_b64" holds the exact bytes of the path, base64-encoded (present only for such
  names): base64-decode it to open the file. The table shows such bytes as \\xNN and
  control characters as backslash escapes (\\n, \\t, \\x1b).

accurate mode:
  --accurate averages the calibrated probabilities of every network the shipped manifest
  models/ferdesk_accurate.json lists, each on its views of the face (flip: the face and its mirror;
  tencrop: four corner crops and the centre crop, each mirrored). The time per face grows with the
  network passes: the default runs 2 (the face and its mirror), a ten-crop member 10 (about 5 times
  the time). The output has the same fields. models/MODEL_CARD.md gives its measured accuracy.

exit status:
  0    every image was read (with or without faces)
  1    some images could not be read; each has its error line, the others are printed
  2    the run could not be done: a usage error, an unusable model or face detector, or output
       that cannot be written (disk full, the reading program closed the pipe)
  3    internal error (a bug in ferdesk, not in your files): a one-line message on stderr, the
       traceback in a log file it names (on stderr with --debug); other files are still printed
  130  interrupted (Ctrl+C)
"""

_FOLDER_KINDS = "JPEG, PNG, BMP, WebP, TIFF, GIF, PGM/PPM"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferdesk predict",
        description="Detect faces in images and report the emotion each one appears to show.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        "--accurate",
        action="store_true",
        help="accurate mode: the networks and views listed in models/ferdesk_accurate.json, averaged "
        "(slower per face: see 'accurate mode' below); not with --model or --flip-tta",
    )
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
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (it is shown on a terminal only, for runs over 2 s)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an internal error on stderr"
    )
    parser.add_argument(
        "--explain",
        type=Path,
        metavar="DIR",
        help="write an occlusion heatmap PNG per face into DIR: which part of the face mattered",
    )
    parser.add_argument(
        "--trust-model",
        action="store_true",
        help="load a model file whose SHA-256 differs from the one recorded for it (changed on purpose)",
    )
    return parser


# --------------------------------------------------------------------------- finding the files


@dataclass(frozen=True)
class Entry:
    """One input: a file to read, or a path that already failed (``error`` says why)."""

    path: str
    error: str | None = None


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _folder_listing(folder: str) -> tuple[list[tuple[str, bool]], str | None]:
    """The folder's (path, is_folder) children sorted by name, or the error that stops reading it.

    Image-named entries that are not folders are kept whatever they are — a dangling symlink, a
    link loop, a named pipe — so each gets its own error line from :func:`load_image`.
    """
    children: list[tuple[str, bool]] = []
    try:
        with os.scandir(folder) as scan:
            for entry in scan:
                try:
                    is_folder = entry.is_dir()
                except OSError:  # a link loop or an unreadable link: not a folder to enter
                    is_folder = False
                if is_folder or _is_image_name(entry.name):
                    children.append((os.path.join(folder, entry.name), is_folder))
    except OSError as error:
        return [], f"cannot read this folder: {describe_os_error(folder, error)}"
    children.sort(key=lambda child: os.path.basename(child[0]))
    return children, None


def _walk_images(root: str, root_info: os.stat_result) -> Iterator[Entry]:
    """Image files under ``root`` depth first, names sorted: iterative, so any depth is fine.

    Folders reached through symbolic links are followed once (a link back up is skipped, not
    walked forever). A folder that cannot be read — permissions, a path over the system limit —
    gives one error entry and the walk goes on.
    """
    seen = {(root_info.st_dev, root_info.st_ino)}
    stack: list[Iterator[tuple[str, bool]]] = []
    children, error = _folder_listing(root)
    if error:
        yield Entry(root, error)
        return
    stack.append(iter(children))
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        path, is_folder = child
        if not is_folder:
            yield Entry(path)
            continue
        try:
            info = os.stat(path)
        except OSError as failure:
            yield Entry(path, f"cannot read this folder: {describe_os_error(path, failure)}")
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen:
            continue
        seen.add(key)
        children, error = _folder_listing(path)
        if error:
            yield Entry(path, error)
            continue
        stack.append(iter(children))


def iter_inputs(paths: Iterable[str]) -> Iterator[Entry]:
    """Expand folders lazily; a path that cannot be reached becomes an entry with its error."""
    for raw in paths:
        path = os.fspath(raw)
        try:
            info = os.stat(path)
        except OSError as error:
            yield Entry(path, describe_os_error(path, error))
            continue
        except ValueError:
            yield Entry(path, "the path holds a NUL character, which no file name can.")
            continue
        if not stat.S_ISDIR(info.st_mode):
            yield Entry(path)
            continue
        found = False
        for entry in _walk_images(path, info):
            found = True
            yield entry
        if not found:
            yield Entry(path, f"folder holds no image files ({_FOLDER_KINDS}).")


# --------------------------------------------------------------------------- decoding, bounded


@dataclass
class Loaded:
    path: str
    image: np.ndarray | None
    error: str | None


def _load(entry: Entry) -> Loaded:
    if entry.error:
        return Loaded(entry.path, None, entry.error)
    try:
        return Loaded(entry.path, load_image(entry.path), None)
    except ImageLoadError as failure:
        return Loaded(entry.path, None, failure.full_reason)


def decode_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def iter_loaded(
    entries: Iterable[Entry], workers: int, window: int, pixel_budget: int = DECODE_PIXEL_BUDGET
) -> Iterator[Loaded]:
    """Decode ``entries`` on ``workers`` threads, in input order, never more than ``window`` ahead.

    Decoding releases the GIL, so a few threads overlap it with analysis; the window is what keeps
    memory flat (an unbounded ``pool.map`` decodes the whole folder into memory ahead of analysis).
    The files ahead also share ``pixel_budget``, read from their headers, so a run of 100 MP images
    is decoded one at a time rather than ``window`` at a time. Only the head of the queue is ever
    waited for, so this cannot deadlock.
    """
    window = max(window, 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ferdesk-decode") as pool:
        pending: deque[tuple[Future[Loaded], int]] = deque()
        ahead_pixels = 0

        def take_head() -> Loaded:
            # No local of this generator may keep the yielded image (or its future) alive while
            # the next file decodes: two 100 MP images at once is what the budget is against.
            nonlocal ahead_pixels
            future, pixels = pending.popleft()
            ahead_pixels -= pixels
            return future.result()

        try:
            for entry in entries:
                pixels = 0 if entry.error else image_pixels(entry.path)
                while pending and (len(pending) >= window or ahead_pixels + pixels > pixel_budget):
                    yield take_head()
                if pixels > pixel_budget:
                    # Alone anyway: decoded on this thread, so huge images reuse one heap (glibc
                    # keeps a heap per thread and seldom returns it): seven 25-68 MP images peaked
                    # at 860 MB spread over the pool, 800 MB this way; the largest alone, 620 MB.
                    yield _load(entry)
                    continue
                pending.append((pool.submit(_load, entry), pixels))
                ahead_pixels += pixels
            while pending:
                yield take_head()
        finally:
            for future, _ in pending:
                future.cancel()


# --------------------------------------------------------------------------- writing results


class OutputError(Exception):
    """Results could not be written (disk full, closed pipe): nothing more can be delivered."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def json_path_fields(path: str) -> dict[str, str]:
    """``{"path": text}``, plus ``"path_bytes_b64"`` (the exact bytes) when the name is not UTF-8.

    Python keeps undecodable bytes of a file name as lone surrogates, which are not valid Unicode:
    strict JSON readers refuse them. The text form is readable; the base64 form maps back exactly.
    """
    raw = os.fsencode(path)
    try:
        return {"path": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {
            "path": raw.decode("utf-8", errors="replace"),
            "path_bytes_b64": base64.b64encode(raw).decode("ascii"),
        }


def table_path(path: str) -> str:
    """The path for the table: undecodable bytes and control characters as ``\\xNN`` escapes."""
    parts = []
    for char in path:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
            parts.append(f"\\x{code - 0xDC00:02x}")
        elif not char.isprintable():
            parts.append(char.encode("unicode_escape").decode("ascii"))
        else:
            parts.append(char)
    return "".join(parts)


def _valid_text(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes of a name quoted in an error) as U+FFFD."""
    return "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text)


def make_record(path: str, faces: list, error: str | None) -> dict:
    """The JSON object of one image (valid Unicode throughout, error on one line)."""
    record: dict = json_path_fields(path)
    record["faces"] = [face.to_json() for face in faces]
    record["error"] = None if error is None else _valid_text(_one_line(error))
    return record


def format_table_rows(record: dict, shown_path: str | None = None) -> list[str]:
    """The table lines of one record; ``shown_path`` is the escaped path (see :func:`table_path`)."""
    shown = record["path"] if shown_path is None else shown_path
    if record["error"]:
        return [f"{shown}: error: {record['error']}"]
    faces = record["faces"]
    if not faces:
        return [f"{shown}: no face found"]
    lines = [f"{shown}: {len(faces)} face{'s' if len(faces) != 1 else ''}"]
    for number, face in enumerate(faces, start=1):
        x, y, w, h = face["box"]
        if face["emotion"] is None:
            lines.append(f"  {number}. box ({x}, {y}, {w}x{h})  too small to classify")
        else:
            lines.append(
                f"  {number}. box ({x}, {y}, {w}x{h})  {face['emotion']:<8} {face['confidence'] * 100:5.1f} %"
            )
    return lines


def _describe_output_error(error: OSError) -> str:
    if isinstance(error, BrokenPipeError):
        return "the program reading the output closed it (broken pipe)"
    if error.errno == errno.ENOSPC:
        return "no space left on the device (the disk is full)"
    if error.errno is not None:
        return os.strerror(error.errno)
    return str(error)


class ResultWriter:
    """Writes each result as it is done (flushed: a pipeline sees it at once) or raises OutputError."""

    def __init__(self, stream: TextIO, as_json: bool) -> None:
        self.stream = stream
        self.as_json = as_json
        self.written = 0

    def write(self, path: str, record: dict) -> None:
        rows = [json.dumps(record)] if self.as_json else format_table_rows(record, table_path(path))
        text = "\n".join(rows)
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except ValueError:  # "I/O operation on closed file"
            raise OutputError("could not write the results: the output was closed.") from None
        except OSError as error:
            raise OutputError(
                f"could not write the results: {_describe_output_error(error)}; "
                f"{self.written:,} image(s) were written before it stopped."
            ) from None
        self.written += 1


# --------------------------------------------------------------------------- internal errors


def error_log_path() -> Path:
    """Beside the app's log, in the user log folder (``$FERDESK_LOG_DIR`` overrides it)."""
    from ferdesk.logs import log_dir

    return log_dir() / "predict-errors.log"


def record_traceback(error: BaseException, debug: bool, context: str) -> str:
    """Keep the traceback of an internal error: on stderr with --debug, else in the log file.

    Returns where it went, for the one-line message.
    """
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    if debug and sys.stderr is not None:
        try:
            sys.stderr.write(f"--- {context}\n{text}")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        return "above"
    path = error_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8", errors="backslashreplace") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} ferdesk predict: {context}\n{text}")
    except OSError:
        return "nowhere (the log file could not be written; run again with --debug)"
    return f"in {path}"


def _internal_reason(error: BaseException) -> str:
    return _one_line(
        f"internal error ({error_name(error)}: {error}): a bug in ferdesk, not in this image; "
        f"please report it."
    )


# --------------------------------------------------------------------------- the run


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from tqdm import tqdm

    from ferdesk.vision.analyze import FaceAnalyzer
    from ferdesk.vision.classifier import ModelError
    from ferdesk.vision.detector import DetectorError

    stream = out if out is not None else sys.stdout
    if stream is None:  # started with stdout closed (>&-)
        raise OutputError("could not write the results: there is no standard output (it was closed).")
    writer = ResultWriter(stream, args.json)
    debug = bool(getattr(args, "debug", False))
    if getattr(args, "accurate", False):
        analyzer = FaceAnalyzer(detector=args.detector, num_threads=args.threads, accurate=True)
    else:
        analyzer = FaceAnalyzer(
            args.model, detector=args.detector, num_threads=args.threads, flip_tta=args.flip_tta
        )
    failed = 0
    internal: list[str] = []
    explainer = None
    if getattr(args, "explain", None) is not None:
        from ferdesk.vision.explain import ExplanationWriter

        explainer = ExplanationWriter(args.explain, analyzer.classifier)
    show_progress = not args.no_progress and sys.stderr is not None and sys.stderr.isatty()
    progress = tqdm(unit="img", file=sys.stderr, disable=not show_progress, delay=2.0, desc="ferdesk predict")

    def emit(path: str, faces: list, error: str | None) -> None:
        nonlocal failed
        failed += error is not None
        writer.write(path, make_record(path, faces, error))
        progress.update(1)

    def emit_internal(path: str, error: BaseException) -> None:
        internal.append(record_traceback(error, debug, f"while analysing {table_path(path)}"))
        emit(path, [], _internal_reason(error))

    pending: list[tuple[str, np.ndarray]] = []

    def flush_whole() -> None:
        batch = list(pending)
        pending.clear()
        try:
            results = analyzer.analyze_whole([image for _, image in batch])
        except (ModelError, DetectorError):
            raise
        except MemoryError:
            for path, _ in batch:
                emit(path, [], "not enough memory to classify this image.")
            return
        except Exception as error:  # a bug: reported per file, the run goes on
            for path, _ in batch:
                emit_internal(path, error)
            return
        for (path, image), faces in zip(batch, results, strict=True):
            if explainer is not None:
                explainer.write(path, image, faces, whole=True)
            emit(path, faces, None)

    def handle(loaded: Loaded) -> None:
        """One file's result; a bug in its analysis is its error line, the run goes on."""
        if loaded.image is None:
            if pending:
                flush_whole()
            emit(loaded.path, [], loaded.error)
            return
        if args.faces == "whole":
            pending.append((loaded.path, loaded.image))
            if (
                len(pending) >= WHOLE_BATCH
                or sum(image.shape[0] * image.shape[1] for _, image in pending) > WHOLE_BATCH_PIXELS
            ):
                flush_whole()
            return
        try:
            faces = analyzer.analyze(loaded.image, "auto")
        except (ModelError, DetectorError):
            raise
        except MemoryError:
            emit(loaded.path, [], "not enough memory to analyse this image.")
            return
        except Exception as error:  # a bug: reported per file, the run goes on
            emit_internal(loaded.path, error)
            return
        if explainer is not None:
            explainer.write(loaded.path, loaded.image, faces)
        emit(loaded.path, faces, None)

    workers = decode_workers()
    try:
        with analyzer:
            if args.faces == "auto":
                analyzer.detector  # noqa: B018 - a bad --detector fails now, before any output
            for loaded in iter_loaded(iter_inputs(args.paths), workers, WINDOW_PER_WORKER * workers):
                handle(loaded)
                del loaded  # not kept alive while the next file decodes
            if pending:
                flush_whole()
    finally:
        progress.close()
    if internal:
        _say(
            f"ferdesk predict: {len(internal)} image(s) hit an internal error (a bug in ferdesk); "
            f"the traceback is {internal[0]}."
        )
        return EXIT_INTERNAL_ERROR
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _say(line: str) -> None:
    """One line on stderr; a closed or full stderr must not turn a message into a traceback."""
    if sys.stderr is None:  # started with stderr closed (2>&-): nowhere to say it
        return
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    # Point stdout at /dev/null, so the interpreter's final flush of what is still buffered cannot
    # fail again ("Exception ignored ... BrokenPipeError") after our one-line message.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.accurate and (args.model is not None or args.flip_tta is not None):
        clashing = "--model" if args.model is not None else "--flip-tta/--no-flip-tta"
        # parser.error: the usage line and exit status 2, as for any other usage error.
        parser.error(
            f"--accurate cannot be combined with {clashing}: accurate mode runs the models and views "
            f"its manifest lists. Drop one of them."
        )
    if args.trust_model:  # read by every EmotionClassifier this run creates
        os.environ["FERDESK_TRUST_MODEL"] = "1"
    if args.threads < 1:
        _say(f"error: --threads == {args.threads}, must be >= 1.")
        return EXIT_CANNOT_RUN
    if args.explain is not None and args.explain.exists() and not args.explain.is_dir():
        _say(f"error: --explain {args.explain} is a file; --explain takes a folder (created if missing).")
        return EXIT_CANNOT_RUN
    # Names are written with escapes (table) or replaced (JSON); a stdout that cannot encode some
    # character must still print the line rather than fail.
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    try:
        from ferdesk.vision.classifier import ModelError
        from ferdesk.vision.detector import DetectorError

        try:
            return run(args)
        except (ModelError, DetectorError) as error:
            _say(f"error: {error}")
            return EXIT_CANNOT_RUN
    except OutputError as error:
        _silence_stdout()
        _say(f"ferdesk predict: {error}")
        return EXIT_CANNOT_RUN
    except BrokenPipeError:
        _silence_stdout()
        _say("ferdesk predict: the program reading the output closed it (broken pipe).")
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        _say("Interrupted.")
        return EXIT_INTERRUPTED
    except Exception as error:  # the top-level guard: a bug, told in one line, never a bare traceback
        where = record_traceback(error, args.debug, "the run stopped")
        _say(
            f"ferdesk predict: internal error ({_one_line(f'{error_name(error)}: {error}')}). "
            f"This is a bug in ferdesk; the traceback is {where}."
        )
        return EXIT_INTERNAL_ERROR
