"""From the PATHs on the command line to inputs, output names and output folders.

A PATH is a video file, a folder of images (read as one sequence, in natural name order) or a
folder of videos, searched recursively: inside a folder every video is one input and every folder
that directly holds images is one image-sequence input. Outputs go to ``--out`` or, by default,
beside the input (the video's folder; for an image folder, the folder that holds it).

Each input's outputs are named after it (``clip.mp4`` -> ``clip.csv``). Two inputs that would get
the same name in one output folder (``a/clip.mp4`` and ``b/clip.mp4`` with one ``--out``), or an
input called ``summary``, get a short, stable suffix from their full path instead
(``clip-3f2a9c1e``), so nothing is ever written over another input's results.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ferdesk.analysis.analyzer import AnalysisInput

#: Names an input's outputs may not take (``summary.csv`` is the run's own table).
RESERVED_NAMES = frozenset({"summary"})


@dataclass(frozen=True)
class PlannedInput:
    """An input with where its outputs go."""

    input: AnalysisInput
    out_dir: Path
    name: str


@dataclass(frozen=True)
class BadPath:
    """A PATH that gave no input; ``reason`` is the one-line message."""

    path: str
    reason: str


def _video_suffixes() -> frozenset[str]:
    from ferdesk.capture.sources import VIDEO_SUFFIXES

    return VIDEO_SUFFIXES


def _has_images(folder: Path) -> bool:
    from ferdesk.vision.imageio import is_image_file

    try:
        return any(p.is_file() and is_image_file(p) for p in folder.iterdir())
    except OSError:
        return False


def expand(raw_paths: list[str]) -> tuple[list[AnalysisInput], list[BadPath]]:
    """The inputs the PATHs name, in order, without duplicates; and the PATHs that name none."""
    from ferdesk.vision.imageio import is_image_file

    videos = _video_suffixes()
    found: list[AnalysisInput] = []
    bad: list[BadPath] = []
    seen: set[tuple[str, str]] = set()

    def add(item: AnalysisInput) -> None:
        key = (str(Path(item.path).resolve()), item.kind)
        if key not in seen:
            seen.add(key)
            found.append(item)

    for raw in raw_paths:
        path = Path(raw).expanduser()
        if path.is_file():
            if path.suffix.lower() in videos:
                add(AnalysisInput(str(path), "video"))
            elif is_image_file(path):
                bad.append(
                    BadPath(
                        raw,
                        f"{raw}: a single image; pass the folder that holds the sequence, "
                        "or use 'ferdesk predict' for still images.",
                    )
                )
            else:
                bad.append(
                    BadPath(
                        raw,
                        f"{raw}: not a video file ferdesk reads ({', '.join(sorted(videos))}) nor a folder.",
                    )
                )
        elif path.is_dir():
            before = len(found)
            folders = [path, *sorted(p for p in path.rglob("*") if p.is_dir())]
            for folder in folders:
                if _has_images(folder):
                    add(AnalysisInput(str(folder), "images"))
                try:
                    children = sorted(folder.iterdir())
                except OSError:
                    continue
                for child in children:
                    if child.is_file() and child.suffix.lower() in videos:
                        add(AnalysisInput(str(child), "video"))
            if len(found) == before:
                bad.append(BadPath(raw, f"{raw}: the folder holds no videos and no images."))
        else:
            bad.append(BadPath(raw, f"{raw}: no such file or folder."))
    return found, bad


def default_out_dir(item: AnalysisInput) -> Path:
    path = Path(item.path).resolve()
    return path.parent


def plan(inputs: list[AnalysisInput], out: Path | None) -> list[PlannedInput]:
    """Where each input's outputs go and under which name (see the module notes)."""
    dirs = [Path(out).resolve() if out is not None else default_out_dir(item) for item in inputs]
    names = [item.name for item in inputs]
    counts = Counter((d, n.lower()) for d, n in zip(dirs, names, strict=True))
    planned = []
    for item, out_dir, name in zip(inputs, dirs, names, strict=True):
        if counts[(out_dir, name.lower())] > 1 or name.lower() in RESERVED_NAMES:
            digest = hashlib.sha1(str(Path(item.path).resolve()).encode("utf-8")).hexdigest()[:8]
            name = f"{name}-{digest}"
        planned.append(PlannedInput(item, out_dir, name))
    return planned


def summary_dir(planned: list[PlannedInput], out: Path | None) -> Path:
    """``--out``, else the output folder all inputs share, else their common parent folder."""
    import os

    if out is not None:
        return Path(out).resolve()
    if not planned:
        return Path.cwd()
    return Path(os.path.commonpath([str(p.out_dir) for p in planned]))
