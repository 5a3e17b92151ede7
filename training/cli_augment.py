"""``python -m training augment``: a preview grid of exactly what the network sees while training.

Each row is one face from the data set: the original (as ``preprocess_face`` gives it) first, then
augmented versions drawn by ``training.augment.augment_batch`` with the settings below. Look at it
before a long run: a flip that mirrors text, a zoom that cuts off the mouth or erasing that hides
the whole face would all show here.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

from ferdesk.vision.emotions import EMOTIONS
from ferdesk.vision.imageio import ImageLoadError, is_image_file, load_image
from ferdesk.vision.preprocess import INPUT_SIZE, preprocess_face
from training.augment import AugmentConfig, augment_batch
from training.cleaning import detect_source
from training.data import DEFAULT_DATA_ROOT, FERPLUS_FOLDERS, DatasetError, cache_dir, list_fer2013_folder
from training.figures import save_figure
from training.stats import ferplus_majority

_GAP = 2  # pixels between cells of the mosaic


def list_labelled_images(data_root: str | os.PathLike) -> list[tuple[Path, str]]:
    """(image, class name) pairs from FER2013 Training, FER+ Training, class folders or a plain folder."""
    source, root = detect_source(data_root)
    if source == "fer2013":
        paths, labels, _ = list_fer2013_folder(root, "Training")
        return [(path, EMOTIONS[label]) for path, label in zip(paths, labels, strict=True)]
    if source == "ferplus":
        folder = root / FERPLUS_FOLDERS["Training"]
        with (folder / "label.csv").open(newline="") as handle:
            rows = [row for row in csv.reader(handle) if row and row[0].strip()]
        pairs = [(folder / row[0].strip(), ferplus_majority(row) or "?") for row in rows]
        return [(path, label) for path, label in pairs if path.is_file()]
    pairs = [(path, "") for path in sorted(root.iterdir()) if path.is_file() and is_image_file(path)]
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        pairs += [
            (p, class_dir.name) for p in sorted(class_dir.rglob("*")) if p.is_file() and is_image_file(p)
        ]
    if not pairs:
        raise DatasetError(
            f"No images under {root}; expected FER2013 folders, FER+ or image (class) folders."
        )
    return pairs


def sample_faces(
    data_root: str | os.PathLike, count: int, seed: int = 0
) -> tuple[np.ndarray, list[str], list[Path]]:
    """``count`` preprocessed faces, taking classes in turn so the grid shows several of them.

    Files that fail to decode are passed over (and named on stderr), never shown as black cells.
    """
    pairs = list_labelled_images(data_root)
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[tuple[Path, str]]] = {}
    for pair in pairs:
        by_class.setdefault(pair[1], []).append(pair)
    queues = {label: [items[i] for i in rng.permutation(len(items))] for label, items in by_class.items()}
    faces: list[np.ndarray] = []
    labels: list[str] = []
    paths: list[Path] = []
    while len(faces) < count and any(queues.values()):
        for label in list(queues):
            if len(faces) >= count or not queues[label]:
                continue
            path, _ = queues[label].pop()
            try:
                faces.append(preprocess_face(load_image(path)))
            except ImageLoadError as error:
                print(f"skipped {error}", file=sys.stderr)
                continue
            labels.append(label)
            paths.append(path)
    if not faces:
        raise DatasetError(f"None of the images under {data_root} could be read.")
    return np.stack(faces), labels, paths


def preview_mosaic(faces: np.ndarray, config: AugmentConfig, cols: int, seed: int = 0) -> np.ndarray:
    """A float32 mosaic: one row per face, the original then ``cols - 1`` augmented versions."""
    if cols < 2:
        raise ValueError(f"cols == {cols}, must be >= 2 (the original and at least one augmented version).")
    size = faces.shape[1]
    rows = len(faces)
    mosaic = np.ones((rows * (size + _GAP) - _GAP, cols * (size + _GAP) - _GAP), np.float32)
    rng = np.random.default_rng(seed)
    for row, face in enumerate(faces):
        versions = augment_batch(np.repeat(face[np.newaxis], cols - 1, axis=0), rng, config)
        for col, cell in enumerate([face, *versions]):
            top, left = row * (size + _GAP), col * (size + _GAP)
            mosaic[top : top + size, left : left + size] = cell[:, :, 0]
    return mosaic


def write_preview(
    mosaic: np.ndarray, labels: list[str], cols: int, config: AugmentConfig, out_png: str | os.PathLike
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    step = INPUT_SIZE + _GAP
    fig, axis = plt.subplots(figsize=(1.0 + 0.9 * cols, 0.6 + 0.9 * len(labels)))
    axis.imshow(mosaic, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    axis.set_xticks([INPUT_SIZE / 2 + i * step for i in range(cols)], ["original"] + [""] * (cols - 1))
    axis.set_yticks([INPUT_SIZE / 2 + i * step for i in range(len(labels))], labels)
    axis.tick_params(length=0)
    for spine in axis.spines.values():
        spine.set_visible(False)
    settings = ", ".join(f"{f.name}={getattr(config, f.name)}" for f in fields(config))
    axis.set_title(f"augmented (columns 2-{cols})\n{settings}", fontsize=7)
    fig.tight_layout()
    save_figure(fig, out_png, dpi=110)
    return out_png


#: What each ``AugmentConfig`` setting does, for ``--help``.
_SETTING_HELP: dict[str, str] = {
    "rotation_degrees": "largest rotation either way, in degrees",
    "zoom": "largest zoom in or out, as a fraction (0.1 = 90-110 %%)",
    "translate": "largest shift, as a fraction of the face size",
    "brightness": "largest brightness change, in [0, 1] grey units",
    "contrast": "largest contrast change, as a fraction",
    "erasing_probability": "chance that a random rectangle of the face is painted over",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "augment",
        help="write a preview grid of faces and their augmented versions (PNG)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA_ROOT,
        help=f"FER2013 / FER+ folder, or one folder per class (default {DEFAULT_DATA_ROOT})",
    )
    parser.add_argument(
        "--out", type=Path, help="PNG path (default ~/.cache/ferdesk/reports/augment_grid.png)"
    )
    parser.add_argument("--rows", type=int, default=6, help="faces, one per row (default 6)")
    parser.add_argument(
        "--cols", type=int, default=8, help="the original and cols-1 augmented versions (default 8)"
    )
    parser.add_argument("--seed", type=int, default=0, help="picks the faces and the draws (default 0)")
    defaults = AugmentConfig()
    parser.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=defaults.flip,
        help=f"mirror half of the faces (default {'on' if defaults.flip else 'off'})",
    )
    for setting in fields(AugmentConfig):
        if setting.name != "flip":
            default = getattr(defaults, setting.name)
            parser.add_argument(
                f"--{setting.name.replace('_', '-')}",
                type=float,
                default=default,
                help=f"{_SETTING_HELP.get(setting.name, setting.name)} (default {default}; 0 turns it off)",
            )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.rows < 1:
        raise ValueError(f"--rows == {args.rows}, must be >= 1.")
    if args.cols < 2:
        raise ValueError(f"--cols == {args.cols}, must be >= 2 (the original and one augmented version).")
    config = AugmentConfig(**{f.name: getattr(args, f.name) for f in fields(AugmentConfig)})
    for setting in fields(AugmentConfig):
        if setting.name == "flip":
            continue
        limit = 180 if setting.name == "rotation_degrees" else 1
        value = getattr(config, setting.name)
        if not 0 <= value <= limit:
            raise ValueError(f"--{setting.name.replace('_', '-')} == {value}, must be in [0, {limit}].")
    faces, labels, paths = sample_faces(args.data, args.rows, args.seed)
    mosaic = preview_mosaic(faces, config, args.cols, args.seed)
    out = args.out or cache_dir() / "reports" / "augment_grid.png"
    path = write_preview(mosaic, labels, args.cols, config, out)
    print(f"Preview of {len(faces)} faces x {args.cols - 1} augmented versions: {path}")
    for label, source in zip(labels, paths, strict=True):
        print(f"  {label or '(no class)'}: {source}")
    return 0
