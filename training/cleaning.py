"""Find the files a model should not learn from, and count every one of them: nothing is dropped silently.

    python -m training clean --data ../shared/data --out cleaning.json

FER2013 as people download it carries a few known faults: blank (constant) images, exact duplicates
inside a split, the same face in Training and in a test split (a leak that inflates test accuracy),
and the odd stray file such as macOS' ``.DS_Store``. :func:`clean_dataset` walks a data set the way
the readers in :mod:`training.data` do, decodes every image once to exactly the pixels the app's
``load_image`` gives, and returns a :class:`CleaningReport`: counts per problem, the offending
files, and the set of files to leave out. :func:`files_to_drop` is the one-call form for training.

Which copy survives a duplicate is a policy, stated here once:

* Inside one split, exact copies with the same label keep their first file (sorted path); copies
  with *different* labels are all dropped, since their label is a coin toss.
* Across splits, the copy in the evaluation split wins: a face in Training and PrivateTest leaves
  Training, so the published benchmark set stays exactly as everyone else uses it.

Decoding FER2013's 35,727 faces takes 10-30 s on a small machine; the per-file results are cached
beside the data set cache (``~/.cache/ferdesk/cleaning``), keyed by every file's path, size and
modification time, so a changed data set is scanned again and an unchanged one is not.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ferdesk.vision.emotions import EMOTIONS
from ferdesk.vision.imageio import ImageLoadError, is_image_file, load_image
from ferdesk.vision.preprocess import INPUT_SIZE, to_gray
from training.data import FERPLUS_FOLDERS, SPLITS, DatasetError, cache_dir, split_of
from training.stats import ferplus_majority

#: Data set layouts the cleaner understands (``auto`` picks one from the folder's contents).
SOURCES: tuple[str, ...] = ("fer2013", "ferplus", "folders")
#: The split name of a plain class-folder set, which has no splits of its own.
ALL_SPLIT = "all"
#: When one face sits in several splits, the copy in the split listed last is the one kept.
SPLIT_PRIORITY: tuple[str, ...] = (ALL_SPLIT, *SPLITS)
#: Problem categories, in report order, with what each means.
CATEGORIES: dict[str, str] = {
    "not_an_image": "not an image file (.DS_Store, Thumbs.db, notes): the readers skip it",
    "ignored": "an image the readers never read (outside a class folder, unknown class, no or wrong split "
    "prefix, not in label.csv)",
    "undecodable": "cannot be decoded (empty, truncated or not really an image)",
    "wrong_size": "not the expected size",
    "blank": "constant or near-blank (grey-level standard deviation below the threshold)",
    "duplicate_in_split": "exact pixel copy of a same-label image in the same split (one copy kept)",
    "conflicting_duplicate": "exact pixel copies with different labels in the same split (all dropped)",
    "duplicate_across_splits": "exact pixel copy of an image in a later evaluation split (kept there)",
}
#: Bump when what a scan records changes, so old cache files are not trusted.
_SCAN_VERSION = 1
_TO_DECODE = "image"


@dataclass
class FileRecord:
    """One file met while walking a data set, and what decoding it showed."""

    path: str
    split: str | None
    label: str | None
    status: str
    detail: str = ""
    height: int = 0
    width: int = 0
    std: float = 0.0
    digest: str = ""


@dataclass(frozen=True)
class Issue:
    """One file with one problem; ``drop`` says whether it belongs in the set to leave out."""

    category: str
    path: str
    split: str | None
    label: str | None
    detail: str
    drop: bool = True


@dataclass
class CleaningReport:
    """What the cleaner found: counts per problem, the files behind them and the files to drop."""

    data_root: str
    source: str
    expected_size: int | None
    blank_std: float
    images_per_split: dict[str, int]
    issues: list[Issue] = field(default_factory=list)
    duplicate_groups: list[list[dict[str, str | None]]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Files per problem category, every category present (zero included)."""
        counts = dict.fromkeys(CATEGORIES, 0)
        for issue in self.issues:
            counts[issue.category] += 1
        return counts

    def counts_by_split(self) -> dict[str, dict[str, int]]:
        """Files per category and split; files that belong to no split are under ``"other"``."""
        table: dict[str, dict[str, int]] = {
            name: dict.fromkeys([*self.images_per_split, "other"], 0) for name in CATEGORIES
        }
        for issue in self.issues:
            column = issue.split if issue.split in self.images_per_split else "other"
            table[issue.category][column] += 1
        return table

    def files(self, category: str) -> list[str]:
        """The files reported under ``category``, in walking order."""
        if category not in CATEGORIES:
            raise ValueError(f"Unknown category {category!r}; expected one of {', '.join(CATEGORIES)}.")
        return [issue.path for issue in self.issues if issue.category == category]

    def files_to_drop(self, split: str | None = None) -> set[str]:
        """Paths to leave out of training or evaluation (of one split, or of all of them)."""
        return {issue.path for issue in self.issues if issue.drop and (split is None or issue.split == split)}

    def to_dict(self) -> dict:
        drop = self.files_to_drop()
        return {
            "data_root": self.data_root,
            "source": self.source,
            "settings": {"expected_size": self.expected_size, "blank_std": self.blank_std},
            "images_per_split": dict(self.images_per_split),
            "categories": dict(CATEGORIES),
            "counts": self.counts(),
            "counts_by_split": self.counts_by_split(),
            "files_to_drop": {
                "total": len(drop),
                "per_split": {split: len(self.files_to_drop(split)) for split in self.images_per_split},
            },
            "issues": {
                name: [
                    {k: v for k, v in asdict(issue).items() if k != "category"}
                    for issue in self.issues
                    if issue.category == name
                ]
                for name in CATEGORIES
            },
            "duplicate_groups": self.duplicate_groups,
        }

    def write_json(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        os.replace(tmp, path)
        return path

    def format_table(self, examples: int = 3) -> str:
        """A plain-text table (problems x splits) and a few example files per problem."""
        splits = list(self.images_per_split)
        by_split = self.counts_by_split()
        show_other = any(row["other"] for row in by_split.values())
        columns = splits + (["other"] if show_other else []) + ["dropped"]
        width = max(len(name) for name in CATEGORIES)
        col_width = max(11, *(len(name) + 1 for name in columns))
        lines = [
            f"Cleaning report for {self.data_root} ({self.source} layout)",
            "Images checked: "
            + ", ".join(f"{split} {count:,}" for split, count in self.images_per_split.items()),
            f"Checks: size {self._size_text()}, blank below grey-level std {self.blank_std:g}, "
            "exact duplicates by decoded pixels",
            "",
            "problem".ljust(width) + "".join(name.rjust(col_width) for name in columns),
        ]
        for name in CATEGORIES:
            row = by_split[name]
            dropped = sum(1 for issue in self.issues if issue.category == name and issue.drop)
            cells = [row[split] for split in splits] + ([row["other"]] if show_other else []) + [dropped]
            lines.append(name.ljust(width) + "".join(f"{cell:,}".rjust(col_width) for cell in cells))
        drop = self.files_to_drop()
        per_split = ", ".join(f"{split} {len(self.files_to_drop(split)):,}" for split in splits)
        lines += ["", f"Files to drop: {len(drop):,} ({per_split})."]
        if examples > 0:
            for name in CATEGORIES:
                found = [issue for issue in self.issues if issue.category == name]
                if not found:
                    continue
                lines.append(f"\n{name}: {CATEGORIES[name]}")
                for issue in found[:examples]:
                    lines.append(f"  {issue.path}  ({issue.detail})")
                if len(found) > examples:
                    lines.append(f"  ... and {len(found) - examples:,} more (see the JSON report)")
        return "\n".join(lines)

    def _size_text(self) -> str:
        if self.expected_size is None:
            return "not checked"
        return f"{self.expected_size}x{self.expected_size}"


# --------------------------------------------------------------------------------------------- walking


def detect_source(data_root: str | os.PathLike) -> tuple[str, Path]:
    """Which layout ``data_root`` holds, and the folder the readers of that layout start from.

    The folder is resolved exactly as :mod:`training.data` resolves it, so the paths in a report
    are the same strings as a :class:`~training.data.FaceDataset`'s ``sources``.
    """
    root = Path(data_root)
    if not root.is_dir():
        raise DatasetError(
            f"Data folder not found at {root}. Expected a FER2013 Kaggle folder (train/, test/), a FER+ "
            "folder (FER2013Train/ ...) or one sub-folder per class; pass --data PATH to point at it."
        )
    if (root / "train").is_dir() or (root / "test").is_dir():
        return "fer2013", root
    if (root / "fer2013").is_dir():
        return "fer2013", root / "fer2013"
    if any((root / folder).is_dir() for folder in FERPLUS_FOLDERS.values()):
        return "ferplus", root
    if (root / "ferplus").is_dir():
        return "ferplus", root / "ferplus"
    return "folders", root


def _resolve(data_root: str | os.PathLike, source: str) -> tuple[str, Path]:
    if source == "auto":
        return detect_source(data_root)
    if source not in SOURCES:
        raise DatasetError(f"Unknown source {source!r}; expected 'auto' or one of {', '.join(SOURCES)}.")
    root = Path(data_root)
    if source == "fer2013" and (root / "fer2013").is_dir() and not (root / "train").is_dir():
        root = root / "fer2013"
    elif source == "ferplus" and (root / "ferplus").is_dir():
        root = root / "ferplus"
    if not root.is_dir():
        raise DatasetError(f"{source} data folder not found at {root}; pass --data PATH to point at it.")
    return source, root


def _record(path: Path, split: str | None, label: str | None, ignored_because: str = "") -> FileRecord:
    if not is_image_file(path):
        return FileRecord(str(path), split, label, "not_an_image", f"suffix {path.suffix or '(none)'!r}")
    if ignored_because:
        return FileRecord(str(path), split, label, "ignored", ignored_because)
    return FileRecord(str(path), split, label, _TO_DECODE)


def _walk_fer2013(root: Path) -> list[FileRecord]:
    records: list[FileRecord] = []
    folders = [name for name in ("train", "test") if (root / name).is_dir()]
    if not folders:
        raise DatasetError(f"No train/ or test/ folder under {root}; expected the FER2013 Kaggle layout.")
    for folder_name in folders:
        folder = root / folder_name
        folder_split = "Training" if folder_name == "train" else None
        for entry in sorted(folder.iterdir()):
            if entry.is_file():
                records.append(
                    _record(entry, folder_split, None, f"not inside a class folder of {folder_name}/")
                )
                continue
            unknown_class = entry.name not in EMOTIONS
            for path in sorted(entry.iterdir()):
                if path.is_dir():
                    continue
                split = split_of(path.name)
                reason = ""
                if unknown_class:
                    reason = f"folder {entry.name!r} is not one of the classes {', '.join(EMOTIONS)}"
                elif split is None and folder_name == "train":
                    split = "Training"
                elif split is None:
                    reason = "no PublicTest_/PrivateTest_ prefix, so no reader knows its split"
                elif (split == "Training") != (folder_name == "train"):
                    reason = f"a {split} file in {folder_name}/, where the readers do not look for it"
                label = None if unknown_class else entry.name
                records.append(_record(path, split, label, reason))
    return records


def _walk_ferplus(root: Path) -> list[FileRecord]:
    records: list[FileRecord] = []
    present = {split: root / name for split, name in FERPLUS_FOLDERS.items() if (root / name).is_dir()}
    if not present:
        raise DatasetError(f"No FER2013Train/, FER2013Valid/ or FER2013Test/ folder under {root}.")
    for split, folder in present.items():
        labels: dict[str, str | None] = {}
        label_file = folder / "label.csv"
        if label_file.is_file():
            with label_file.open(newline="") as handle:
                for row in csv.reader(handle):
                    if row and row[0].strip():
                        labels[row[0].strip()] = ferplus_majority(row)
        for path in sorted(folder.iterdir()):
            if path.is_dir() or path == label_file:
                continue
            listed = path.name in labels
            reason = "" if listed else f"not listed in {label_file}"
            records.append(_record(path, split, labels.get(path.name), reason))
    return records


def _walk_class_folders(root: Path) -> list[FileRecord]:
    records: list[FileRecord] = []
    entries = sorted(root.iterdir())
    if not any(entry.is_dir() for entry in entries):
        raise DatasetError(f"No class sub-folders under {root}; expected one sub-folder per class.")
    for entry in entries:
        if entry.is_file():
            records.append(_record(entry, None, None, "not inside a class folder"))
            continue
        for path in sorted(entry.rglob("*")):
            if path.is_file():
                records.append(_record(path, ALL_SPLIT, entry.name))
    return records


# -------------------------------------------------------------------------------------------- decoding


#: Files up to this size whose decoding needs no conversion take the fast path in :func:`_read_pixels`.
_FAST_PATH_MAX_PIXELS = 4096 * 4096


def _read_pixels(path: str) -> tuple[np.ndarray, np.ndarray]:
    """The RGB array ``load_image`` returns for ``path`` and its grey version, fast for plain files.

    A plain 8-bit gray or RGB image without EXIF needs none of ``load_image``'s conversions
    (orientation, bit depth, transparency, bomb guard), so PIL's own array is the same pixels;
    anything else, and every failure, goes through ``load_image`` itself, so 'undecodable' means
    exactly what the readers skip, with their reason.
    """
    try:
        with Image.open(path) as image:
            plain = (
                image.mode in ("L", "RGB")
                and "exif" not in image.info
                and image.width * image.height <= _FAST_PATH_MAX_PIXELS
            )
            if plain:
                pixels = np.ascontiguousarray(np.asarray(image))
                if pixels.ndim == 2:
                    return np.repeat(pixels[:, :, np.newaxis], 3, axis=2), pixels
                return pixels, to_gray(pixels)
    except (OSError, ValueError, SyntaxError):
        pass  # load_image below says precisely why.
    rgb = load_image(path)
    return rgb, to_gray(rgb)


def _decode(record: FileRecord) -> FileRecord:
    try:
        rgb, gray = _read_pixels(record.path)
    except ImageLoadError as error:
        record.status, record.detail = "undecodable", error.reason
        return record
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.asarray(rgb.shape, np.int64).tobytes())
    digest.update(rgb.tobytes())
    record.status = "decoded"
    record.height, record.width = int(rgb.shape[0]), int(rgb.shape[1])
    record.std = round(float(cv2.meanStdDev(gray)[1][0, 0]), 4)
    record.digest = digest.hexdigest()
    return record


def _cache_file(source: str, root: Path, records: Iterable[FileRecord]) -> Path:
    digest = hashlib.sha1(f"{_SCAN_VERSION}|{source}|{root}".encode())
    for record in records:
        try:
            stat = os.stat(record.path)
        except OSError:
            continue
        digest.update(
            f"{record.path}|{record.status}|{record.label}|{stat.st_size}|{stat.st_mtime_ns}\n".encode()
        )
    return cache_dir() / "cleaning" / f"{source}-{digest.hexdigest()[:20]}.json"


def scan(
    data_root: str | os.PathLike,
    source: str = "auto",
    use_cache: bool = True,
    show_progress: bool = False,
) -> tuple[str, Path, list[FileRecord]]:
    """Walk a data set and decode every image once; returns (source, resolved root, records)."""
    source, root = _resolve(data_root, source)
    walk = {"fer2013": _walk_fer2013, "ferplus": _walk_ferplus, "folders": _walk_class_folders}[source]
    records = walk(root)
    cache_file = _cache_file(source, root, records) if use_cache else None
    if cache_file is not None and cache_file.is_file():
        try:
            stored = json.loads(cache_file.read_text())
            return source, root, [FileRecord(**item) for item in stored]
        except (OSError, ValueError, TypeError):
            pass  # A damaged cache is only a lost shortcut: scan again below.
    to_decode = [record for record in records if record.status == _TO_DECODE]
    from tqdm import tqdm

    workers = min(8, (os.cpu_count() or 1) * 2)
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(to_decode), desc="Checking images", unit="img", disable=not show_progress) as bar,
    ):
        for _ in pool.map(_decode, to_decode, chunksize=64):
            bar.update(1)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(cache_file.name + ".tmp")
        tmp.write_text(json.dumps([asdict(record) for record in records]))
        os.replace(tmp, cache_file)
    return source, root, records


# -------------------------------------------------------------------------------------------- analysis


def _split_rank(split: str | None) -> int:
    return SPLIT_PRIORITY.index(split) if split in SPLIT_PRIORITY else -1


def _duplicate_issues(decoded: list[FileRecord]) -> tuple[list[Issue], list[list[dict[str, str | None]]]]:
    groups: dict[str, list[FileRecord]] = defaultdict(list)
    for record in decoded:
        groups[record.digest].append(record)
    issues: list[Issue] = []
    reported_groups: list[list[dict[str, str | None]]] = []
    for copies in groups.values():
        if len(copies) < 2:
            continue
        reported_groups.append([{"path": c.path, "split": c.split, "label": c.label} for c in copies])
        keeper_split = max((c.split for c in copies), key=_split_rank)
        for copy in copies:
            if copy.split != keeper_split:
                issues.append(
                    Issue(
                        "duplicate_across_splits",
                        copy.path,
                        copy.split,
                        copy.label,
                        f"same pixels as {keeper_split} image "
                        f"{next(c.path for c in copies if c.split == keeper_split)}",
                    )
                )
        in_split = [c for c in copies if c.split == keeper_split]
        if len(in_split) < 2:
            continue
        labels = sorted({str(c.label) for c in in_split})
        if len(labels) > 1:
            others = ", ".join(Path(c.path).name for c in in_split)
            for copy in in_split:
                issues.append(
                    Issue(
                        "conflicting_duplicate",
                        copy.path,
                        copy.split,
                        copy.label,
                        f"labels {', '.join(labels)} on identical pixels ({others})",
                    )
                )
        else:
            kept = in_split[0]
            for copy in in_split[1:]:
                issues.append(
                    Issue(
                        "duplicate_in_split", copy.path, copy.split, copy.label, f"same pixels as {kept.path}"
                    )
                )
    return issues, reported_groups


def analyse(
    records: list[FileRecord],
    data_root: str,
    source: str,
    expected_size: int | None = INPUT_SIZE,
    blank_std: float = 1.0,
) -> CleaningReport:
    """Turn scanned records into a report; cheap, so thresholds can change without a new scan."""
    split_names = [split for split in SPLIT_PRIORITY if any(r.split == split for r in records)]
    images_per_split = dict.fromkeys(split_names, 0)
    issues: list[Issue] = []
    healthy: list[FileRecord] = []
    for record in records:
        if record.status in ("not_an_image", "ignored"):
            issues.append(Issue(record.status, record.path, record.split, record.label, record.detail))
            continue
        if record.split in images_per_split:
            images_per_split[record.split] += 1
        if record.status == "undecodable":
            issues.append(Issue("undecodable", record.path, record.split, record.label, record.detail))
            continue
        if record.status != "decoded":
            raise RuntimeError(f"{record.path} was never decoded (status {record.status!r}); scan it first.")
        if expected_size is not None and (record.height, record.width) != (expected_size, expected_size):
            issues.append(
                Issue(
                    "wrong_size",
                    record.path,
                    record.split,
                    record.label,
                    f"{record.width}x{record.height}, expected {expected_size}x{expected_size}",
                )
            )
            continue
        if record.std < blank_std:
            issues.append(
                Issue("blank", record.path, record.split, record.label, f"grey-level std {record.std:.2f}")
            )
            continue
        healthy.append(record)
    duplicate_issues, groups = _duplicate_issues(healthy)
    issues.extend(duplicate_issues)
    order = {name: i for i, name in enumerate(CATEGORIES)}
    issues.sort(key=lambda issue: order[issue.category])
    return CleaningReport(
        data_root=data_root,
        source=source,
        expected_size=expected_size,
        blank_std=blank_std,
        images_per_split=images_per_split,
        issues=issues,
        duplicate_groups=groups,
    )


def clean_dataset(
    data_root: str | os.PathLike,
    source: str = "auto",
    expected_size: int | None = INPUT_SIZE,
    blank_std: float = 1.0,
    use_cache: bool = True,
    show_progress: bool = False,
) -> CleaningReport:
    """Check a whole data set (every split: cross-split copies need them all) and report.

    ``source`` is ``auto``, ``fer2013`` (Kaggle folders), ``ferplus`` or ``folders`` (one sub-folder
    per class, any class names). ``expected_size=None`` skips the size check, for photo sets of
    mixed sizes. ``blank_std`` is in grey levels (0-255).
    """
    if expected_size is not None and expected_size < 1:
        raise ValueError(f"expected_size == {expected_size}, must be >= 1 (or None to skip the check).")
    if blank_std < 0:
        raise ValueError(f"blank_std == {blank_std}, must be >= 0 (0 turns the blank check off).")
    source, root, records = scan(data_root, source, use_cache=use_cache, show_progress=show_progress)
    return analyse(records, str(root), source, expected_size, blank_std)


def files_to_drop(data_root: str | os.PathLike, split: str, source: str = "fer2013") -> set[str]:
    """Paths of one split to leave out of training, as the same strings as ``FaceDataset.sources``.

    ``source`` is the training source (``fer2013`` or ``ferplus``); the whole data set is checked,
    because a Training face that is also in PublicTest or PrivateTest must go.
    """
    if split not in SPLITS:
        raise DatasetError(f"Unknown split {split!r}; expected one of {', '.join(SPLITS)}.")
    return clean_dataset(data_root, source).files_to_drop(split)
