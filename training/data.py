"""Readers for the face data sets ferdesk trains on, all returning one :class:`FaceDataset`.

Supported layouts (see ``../shared/data/README.md``):

* FER2013, Kaggle folder layout: ``train/<class>/`` and ``test/<class>/``; the split is the
  file-name prefix (``Training_``, ``PublicTest_``, ``PrivateTest_``).
* The original ``fer2013.csv`` (``emotion,pixels,Usage``).
* FER+: ``FER2013Train|Valid|Test/label.csv`` vote counts beside the PNGs.
* Any folder-per-class set (``root/<class>/*.png``).

Class order is :data:`ferdesk.vision.emotions.EMOTIONS`, stated once there. Every image passes
through ``load_image`` and ``preprocess_face`` — exactly what the app does with a face crop.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferdesk.vision.emotions import EMOTIONS, FERPLUS_COLUMNS, FERPLUS_EMOTIONS, FERPLUS_TO_EMOTION
from ferdesk.vision.imageio import ImageLoadError, is_image_file, load_image
from ferdesk.vision.preprocess import INPUT_SIZE, preprocess_face

#: FER2013 split names, as they appear in file-name prefixes and the CSV ``Usage`` column.
SPLITS: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
#: FER+ folders for each FER2013 split.
FERPLUS_FOLDERS: dict[str, str] = {
    "Training": "FER2013Train",
    "PublicTest": "FER2013Valid",
    "PrivateTest": "FER2013Test",
}
#: Default location of the shared data, relative to the repository root.
DEFAULT_DATA_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


class DatasetError(ValueError):
    """A data set could not be read; the message says what was expected where."""


@dataclass
class Skipped:
    """One input a reader left out, and why (reported, never silent)."""

    source: str
    reason: str


@dataclass
class FaceDataset:
    """Preprocessed faces with labels: ``images`` is float32 ``(N, 48, 48, 1)`` in [0, 1]."""

    images: np.ndarray
    labels: np.ndarray
    sources: list[str]
    class_names: tuple[str, ...] = EMOTIONS
    soft_labels: np.ndarray | None = None
    skipped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(count) for name, count in zip(self.class_names, counts, strict=True)}

    def subset(self, indices: Sequence[int] | np.ndarray) -> FaceDataset:
        indices = np.asarray(indices, dtype=np.int64)
        return FaceDataset(
            images=self.images[indices],
            labels=self.labels[indices],
            sources=[self.sources[i] for i in indices],
            class_names=self.class_names,
            soft_labels=None if self.soft_labels is None else self.soft_labels[indices],
            skipped=list(self.skipped),
        )


def split_of(file_name: str) -> str | None:
    """FER2013 split of a Kaggle-layout file name, from its prefix (None if it has none)."""
    for split in SPLITS:
        if file_name.startswith(split + "_"):
            return split
    return None


def _load_faces(
    paths: Sequence[Path], progress: Callable[[int], None] | None = None
) -> tuple[list[np.ndarray | None], list[Skipped]]:
    """Load and preprocess many files in parallel threads (PIL and OpenCV release the GIL)."""

    def load_one(path: Path) -> np.ndarray | Skipped:
        try:
            return preprocess_face(load_image(path))
        except ImageLoadError as error:
            return Skipped(str(path), error.reason)

    faces: list[np.ndarray | None] = []
    skipped: list[Skipped] = []
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        for result in pool.map(load_one, paths, chunksize=64):
            if isinstance(result, Skipped):
                skipped.append(result)
                faces.append(None)
            else:
                faces.append(result)
            if progress is not None:
                progress(1)
    return faces, skipped


def _progress_bar(total: int, description: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="img", disable=not enabled, leave=False)


def _assemble(
    paths: Sequence[Path],
    labels: Sequence[int],
    class_names: tuple[str, ...],
    skipped: list[Skipped],
    description: str,
    show_progress: bool,
    soft_labels: np.ndarray | None = None,
) -> FaceDataset:
    with _progress_bar(len(paths), description, show_progress) as bar:
        faces, load_skips = _load_faces(paths, bar.update)
    keep = [i for i, face in enumerate(faces) if face is not None]
    images = (
        np.stack([faces[i] for i in keep]) if keep else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 1), np.float32)
    )
    return FaceDataset(
        images=images,
        labels=np.asarray([labels[i] for i in keep], dtype=np.int64),
        sources=[str(paths[i]) for i in keep],
        class_names=class_names,
        soft_labels=None if soft_labels is None else soft_labels[keep],
        skipped=skipped + load_skips,
    )


def _check_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise DatasetError(
            f"{what} not found at {path}. Expected the layout described in "
            "../shared/data/README.md; pass --data PATH to point at it."
        )


def list_fer2013_folder(root: str | os.PathLike, split: str) -> tuple[list[Path], list[int], list[Skipped]]:
    """Files and labels of one split in the Kaggle folder layout, without decoding them."""
    if split not in SPLITS:
        raise DatasetError(f"Unknown split {split!r}; expected one of {', '.join(SPLITS)}.")
    root = Path(root)
    if (root / "fer2013").is_dir() and not (root / "train").is_dir():
        root = root / "fer2013"
    folder = root / ("train" if split == "Training" else "test")
    _check_dir(folder, f"FER2013 {split} folder")
    paths: list[Path] = []
    labels: list[int] = []
    skipped: list[Skipped] = []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if class_dir.name not in EMOTIONS:
            skipped.append(Skipped(str(class_dir), f"folder is not one of the classes {EMOTIONS}"))
            continue
        for path in sorted(class_dir.iterdir()):
            if path.is_dir():
                continue
            if not is_image_file(path):
                skipped.append(Skipped(str(path), "not an image file"))
                continue
            file_split = split_of(path.name)
            if file_split is None and split == "Training" and folder.name == "train":
                file_split = "Training"
            if file_split != split:
                continue
            paths.append(path)
            labels.append(EMOTIONS.index(class_dir.name))
    if not paths:
        raise DatasetError(f"No {split} images found under {folder} (file names start with '{split}_').")
    return paths, labels, skipped


def read_fer2013_folder(root: str | os.PathLike, split: str, show_progress: bool = False) -> FaceDataset:
    """Read one FER2013 split from the Kaggle folder layout."""
    paths, labels, skipped = list_fer2013_folder(root, split)
    return _assemble(paths, labels, EMOTIONS, skipped, f"FER2013 {split}", show_progress)


def read_fer2013_csv(csv_path: str | os.PathLike, split: str | None = None) -> FaceDataset:
    """Read the original ``fer2013.csv``; broken rows are skipped and reported, never silent."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatasetError(f"fer2013.csv not found at {csv_path}.")
    images: list[np.ndarray] = []
    labels: list[int] = []
    sources: list[str] = []
    skipped: list[Skipped] = []
    with csv_path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(
                f"{csv_path}: expected the header 'emotion,pixels,Usage', missing {sorted(missing)}."
            )
        for line_number, row in enumerate(reader, start=2):
            source = f"{csv_path}:{line_number}"
            usage = (row.get("Usage") or "").strip()
            if split is not None and usage != split:
                continue
            try:
                emotion = int(row["emotion"])
                if not 0 <= emotion < len(EMOTIONS):
                    raise ValueError(f"emotion {emotion} outside 0-{len(EMOTIONS) - 1}")
                pixels = np.array(row["pixels"].split(), dtype=np.int64)
                if pixels.size != INPUT_SIZE * INPUT_SIZE:
                    raise ValueError(f"{pixels.size} pixels, expected {INPUT_SIZE * INPUT_SIZE}")
                if pixels.min() < 0 or pixels.max() > 255:
                    raise ValueError("pixel values outside 0-255")
            except (TypeError, ValueError, AttributeError) as error:
                skipped.append(Skipped(source, f"broken row: {error}"))
                continue
            face = pixels.astype(np.uint8).reshape(INPUT_SIZE, INPUT_SIZE)
            images.append(preprocess_face(face))
            labels.append(emotion)
            sources.append(source)
    if not images:
        raise DatasetError(f"{csv_path}: no usable rows{'' if split is None else f' for {split}'}.")
    return FaceDataset(np.stack(images), np.asarray(labels, np.int64), sources, EMOTIONS, None, skipped)


def read_ferplus(
    root: str | os.PathLike,
    split: str,
    classes: tuple[str, ...] = EMOTIONS,
    show_progress: bool = False,
) -> FaceDataset:
    """Read a FER+ split with majority labels and vote distributions.

    Images whose majority is ``unknown`` or ``NF`` (not a face), or is a class outside ``classes``
    (contempt, for the 7-class problem), are dropped and counted in ``skipped``. Ties go to the
    first tied column in ``label.csv`` order (neutral, happiness, surprise, ...).
    """
    root = Path(root)
    if (root / "ferplus").is_dir():
        root = root / "ferplus"
    if split not in FERPLUS_FOLDERS:
        raise DatasetError(f"Unknown split {split!r}; expected one of {', '.join(SPLITS)}.")
    folder = root / FERPLUS_FOLDERS[split]
    _check_dir(folder, f"FER+ {split} folder ({FERPLUS_FOLDERS[split]})")
    label_file = folder / "label.csv"
    if not label_file.is_file():
        raise DatasetError(f"FER+ vote file not found: {label_file}.")
    column_of = {name: FERPLUS_COLUMNS.index(key) for key, name in FERPLUS_TO_EMOTION.items()}
    unknown_columns = [name for name in classes if name not in column_of]
    if unknown_columns:
        raise DatasetError(f"FER+ has no class {unknown_columns}; choose from {FERPLUS_EMOTIONS}.")
    paths: list[Path] = []
    labels: list[int] = []
    distributions: list[np.ndarray] = []
    skipped: list[Skipped] = []
    with label_file.open(newline="") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            source = f"{label_file}:{line_number}"
            if not row or not row[0].strip():
                continue
            try:
                votes = np.array([float(v) for v in row[2 : 2 + len(FERPLUS_COLUMNS)]])
                if votes.size != len(FERPLUS_COLUMNS):
                    raise ValueError(f"{votes.size} vote columns, expected {len(FERPLUS_COLUMNS)}")
            except ValueError as error:
                skipped.append(Skipped(source, f"broken row: {error}"))
                continue
            image_path = folder / row[0].strip()
            if not image_path.is_file():
                skipped.append(Skipped(source, f"image {image_path.name} missing"))
                continue
            top = int(np.argmax(votes))
            if FERPLUS_COLUMNS[top] in ("unknown", "NF") or votes.sum() <= 0:
                skipped.append(Skipped(str(image_path), f"majority vote is {FERPLUS_COLUMNS[top]}"))
                continue
            class_votes = np.array([votes[column_of[name]] for name in classes])
            majority_name = [k for k, v in FERPLUS_TO_EMOTION.items() if k == FERPLUS_COLUMNS[top]]
            majority = FERPLUS_TO_EMOTION[majority_name[0]]
            if majority not in classes or class_votes.sum() <= 0:
                skipped.append(Skipped(str(image_path), f"majority class {majority} not in the class list"))
                continue
            paths.append(image_path)
            labels.append(classes.index(majority))
            distributions.append(class_votes / class_votes.sum())
    if not paths:
        raise DatasetError(f"{label_file}: no usable FER+ rows.")
    return _assemble(
        paths,
        labels,
        classes,
        skipped,
        f"FER+ {split}",
        show_progress,
        soft_labels=np.asarray(distributions, np.float32),
    )


def read_class_folders(
    root: str | os.PathLike, classes: tuple[str, ...] = EMOTIONS, show_progress: bool = False
) -> FaceDataset:
    """Read any folder-per-class set; sub-folders must be named after ``classes``."""
    root = Path(root)
    _check_dir(root, "class-folder data set")
    paths: list[Path] = []
    labels: list[int] = []
    skipped: list[Skipped] = []
    found = sorted(p for p in root.iterdir() if p.is_dir())
    unknown = [p.name for p in found if p.name not in classes]
    for name in unknown:
        skipped.append(Skipped(str(root / name), f"folder is not one of the classes {classes}"))
    for class_dir in (p for p in found if p.name in classes):
        for path in sorted(class_dir.rglob("*")):
            if path.is_dir():
                continue
            if not is_image_file(path):
                skipped.append(Skipped(str(path), "not an image file"))
                continue
            paths.append(path)
            labels.append(classes.index(class_dir.name))
    if not paths:
        raise DatasetError(f"No images under {root}; expected sub-folders named {', '.join(classes)}.")
    return _assemble(paths, labels, classes, skipped, f"{root.name}", show_progress)


def _cache_key(parts: Iterable[str]) -> str:
    digest = hashlib.sha1()
    for part in parts:
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    base = os.environ.get("FERDESK_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ferdesk"
    )
    return Path(base)


#: What ``source`` may be: FER2013's folders, FER+ on FER2013's 7 classes (its contempt faces left
#: out), or FER+ with all 8 of its classes (``ferplus8``: contempt included, as FER+ is reported).
SOURCES: tuple[str, ...] = ("fer2013", "ferplus", "ferplus8")


def layout_of(source: str) -> str:
    """The folder layout a source reads (``ferplus8`` is FER+'s layout with one more class)."""
    return "ferplus" if source == "ferplus8" else source


def load_split(
    data_root: str | os.PathLike,
    split: str,
    source: str = "fer2013",
    show_progress: bool = True,
    use_cache: bool = True,
) -> FaceDataset:
    """Read a split of ``fer2013`` (folders) or ``ferplus``, cached as .npz outside the repo.

    The cache holds preprocessed arrays keyed by the folder listing, so a changed data set is
    re-read; delete ``~/.cache/ferdesk/datasets`` to force it.
    """
    data_root = Path(data_root)
    if source == "fer2013":
        paths, _, _ = list_fer2013_folder(data_root, split)
        listing = [str(p) for p in paths]
    elif source in ("ferplus", "ferplus8"):
        folder = data_root / "ferplus" if (data_root / "ferplus").is_dir() else data_root
        label_file = folder / FERPLUS_FOLDERS.get(split, split) / "label.csv"
        listing = [str(label_file), str(label_file.stat().st_mtime) if label_file.exists() else ""]
    else:
        raise DatasetError(f"Unknown data source {source!r}; expected one of {', '.join(SOURCES)}.")
    key = _cache_key([source, split, str(INPUT_SIZE), *listing])
    cache_file = cache_dir() / "datasets" / f"{source}-{split}-{key}.npz"
    if use_cache and cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as stored:
            soft = stored["soft_labels"] if "soft_labels" in stored.files else None
            return FaceDataset(
                stored["images"],
                stored["labels"],
                list(stored["sources"]),
                tuple(stored["class_names"]),
                soft,
            )
    if source == "fer2013":
        dataset = read_fer2013_folder(data_root, split, show_progress)
    else:
        classes = FERPLUS_EMOTIONS if source == "ferplus8" else EMOTIONS
        dataset = read_ferplus(data_root, split, classes, show_progress=show_progress)
    if use_cache:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp.npz")
        arrays = {
            "images": dataset.images,
            "labels": dataset.labels,
            "sources": np.asarray(dataset.sources),
            "class_names": np.asarray(dataset.class_names),
        }
        if dataset.soft_labels is not None:
            arrays["soft_labels"] = dataset.soft_labels
        np.savez(tmp, **arrays)
        os.replace(tmp, cache_file)
    return dataset
