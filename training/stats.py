"""How many faces of each class each split holds, counted from file names and label files alone.

    python -m training stats --data ../shared/data --source fer2013

Counting never decodes an image, so it takes a second even for all of FER2013; the class imbalance
it shows (disgust is ~1.5 % of Training) is what ``class_weight_power`` in training answers.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferdesk.vision.emotions import EMOTIONS, FERPLUS_COLUMNS, FERPLUS_EMOTIONS, FERPLUS_TO_EMOTION
from ferdesk.vision.imageio import is_image_file
from training.data import FERPLUS_FOLDERS, SPLITS, DatasetError, list_fer2013_folder
from training.figures import save_figure

#: Sources ``stats`` counts: the two training sources and any one-folder-per-class set.
STAT_SOURCES: tuple[str, ...] = ("fer2013", "ferplus", "folders")


@dataclass
class ClassCounts:
    """Faces per split and class, plus what each split leaves out and why."""

    source: str
    data_root: str
    class_names: tuple[str, ...]
    counts: dict[str, dict[str, int]]
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def total(self, split: str) -> int:
        return sum(self.counts[split].values())

    def imbalance(self, split: str) -> float:
        """Largest class over smallest non-empty class (1.0 = balanced)."""
        present = [n for n in self.counts[split].values() if n > 0]
        return max(present) / min(present) if present else 0.0

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "data_root": self.data_root,
            "class_names": list(self.class_names),
            "counts": self.counts,
            "totals": {split: self.total(split) for split in self.counts},
            "excluded": self.excluded,
            "notes": self.notes,
        }

    def format_table(self) -> str:
        splits = list(self.counts)
        name_width = max(len("imbalance"), *(len(name) for name in self.class_names))
        col_width = max(16, *(len(split) + 2 for split in splits))
        lines = [
            f"{self.source} class counts ({self.data_root})",
            "",
            "class".ljust(name_width) + "".join(split.rjust(col_width) for split in splits),
        ]
        for name in self.class_names:
            cells = []
            for split in splits:
                count, total = self.counts[split][name], self.total(split)
                share = 100.0 * count / total if total else 0.0
                cells.append(f"{count:,} {share:5.1f}%".rjust(col_width))
            lines.append(name.ljust(name_width) + "".join(cells))
        lines.append(
            "total".ljust(name_width) + "".join(f"{self.total(s):,}".rjust(col_width) for s in splits)
        )
        lines.append(
            "imbalance".ljust(name_width)
            + "".join(f"{self.imbalance(s):.1f}x".rjust(col_width) for s in splits)
        )
        for split, reasons in self.excluded.items():
            if reasons:
                listed = ", ".join(f"{count:,} {reason}" for reason, count in sorted(reasons.items()))
                lines.append(f"{split}: left out {listed}")
        lines.extend(self.notes)
        return "\n".join(lines)


def ferplus_majority(row: list[str]) -> str | None:
    """The majority column of a FER+ ``label.csv`` row, as :func:`training.data.read_ferplus` picks it.

    Returns a ferdesk emotion name (``happy``, ``contempt`` ...), ``unknown`` or ``NF``; None for a
    broken row. Ties go to the first column in ``label.csv`` order, as ``np.argmax`` breaks them.
    """
    try:
        votes = np.array([float(value) for value in row[2 : 2 + len(FERPLUS_COLUMNS)]])
    except ValueError:
        return None
    if votes.size != len(FERPLUS_COLUMNS) or votes.sum() <= 0:
        return None
    top = FERPLUS_COLUMNS[int(np.argmax(votes))]
    return FERPLUS_TO_EMOTION.get(top, top)


def _count_fer2013(root: Path) -> ClassCounts:
    counts: dict[str, dict[str, int]] = {}
    excluded: dict[str, dict[str, int]] = {}
    problems: list[str] = []
    resolved = root
    for split in SPLITS:
        try:
            paths, labels, skipped = list_fer2013_folder(root, split)
        except DatasetError as error:
            problems.append(str(error))
            continue
        resolved = paths[0].parent.parent.parent
        per_class = np.bincount(np.asarray(labels, np.int64), minlength=len(EMOTIONS))
        counts[split] = {name: int(n) for name, n in zip(EMOTIONS, per_class, strict=True)}
        reasons: dict[str, int] = {}
        for skip in skipped:
            reasons[skip.reason] = reasons.get(skip.reason, 0) + 1
        excluded[split] = reasons
    if not counts:
        raise DatasetError("No FER2013 split could be counted:\n  " + "\n  ".join(problems))
    notes = [f"note: {problem}" for problem in problems]
    return ClassCounts("fer2013", str(resolved), EMOTIONS, counts, excluded, notes)


def _count_ferplus(root: Path) -> ClassCounts:
    if (root / "ferplus").is_dir():
        root = root / "ferplus"
    counts: dict[str, dict[str, int]] = {}
    excluded: dict[str, dict[str, int]] = {}
    problems: list[str] = []
    for split, folder_name in FERPLUS_FOLDERS.items():
        label_file = root / folder_name / "label.csv"
        if not label_file.is_file():
            problems.append(f"FER+ {split}: no vote file at {label_file}")
            continue
        per_class = dict.fromkeys(FERPLUS_EMOTIONS, 0)
        reasons: dict[str, int] = {}
        with label_file.open(newline="") as handle:
            for row in csv.reader(handle):
                if not row or not row[0].strip():
                    continue
                majority = ferplus_majority(row)
                if majority is None:
                    reason = "broken rows"
                elif not (label_file.parent / row[0].strip()).is_file():
                    reason = "missing images"
                elif majority in ("unknown", "NF"):
                    reason = f"majority {majority}"
                else:
                    per_class[majority] += 1
                    continue
                reasons[reason] = reasons.get(reason, 0) + 1
        counts[split] = per_class
        excluded[split] = reasons
    if not counts:
        raise DatasetError(
            f"No FER+ label.csv found under {root} (expected FER2013Train/, FER2013Valid/, FER2013Test/); "
            "pass --data PATH to point at the FER+ folder."
        )
    notes = [f"note: {problem}" for problem in problems]
    notes.append("note: the 7-class models leave contempt out; FER+ 8-class results keep it.")
    return ClassCounts("ferplus", str(root), FERPLUS_EMOTIONS, counts, excluded, notes)


def _count_class_folders(root: Path) -> ClassCounts:
    if not root.is_dir():
        raise DatasetError(f"Class-folder data set not found at {root}; pass --data PATH to point at it.")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    per_class = {d.name: sum(1 for p in d.rglob("*") if p.is_file() and is_image_file(p)) for d in class_dirs}
    if not any(per_class.values()):
        raise DatasetError(f"No images under {root}; expected one sub-folder of images per class.")
    ordered = tuple(name for name in EMOTIONS if name in per_class) + tuple(
        name for name in per_class if name not in EMOTIONS
    )
    counts = {"all": {name: per_class[name] for name in ordered}}
    return ClassCounts("folders", str(root), ordered, counts, {"all": {}}, [])


def count_classes(data_root: str | os.PathLike, source: str = "fer2013") -> ClassCounts:
    """Count faces per split and class for ``source`` (``fer2013``, ``ferplus`` or ``folders``)."""
    root = Path(data_root)
    if source not in STAT_SOURCES:
        raise DatasetError(f"Unknown source {source!r}; expected one of {', '.join(STAT_SOURCES)}.")
    if not root.is_dir():
        raise DatasetError(
            f"Data folder not found at {root}. Expected the layout described in ../shared/data/README.md; "
            "pass --data PATH to point at it."
        )
    return {"fer2013": _count_fer2013, "ferplus": _count_ferplus, "folders": _count_class_folders}[source](
        root
    )


def plot_class_counts(stats: ClassCounts, out_png: str | os.PathLike) -> Path:
    """Grouped bar chart, one group per class and one bar per split, counts written on the bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    splits = list(stats.counts)
    positions = np.arange(len(stats.class_names))
    width = 0.8 / len(splits)
    fig, axis = plt.subplots(figsize=(max(7.0, 1.2 * len(stats.class_names)), 4.5))
    for i, split in enumerate(splits):
        values = [stats.counts[split][name] for name in stats.class_names]
        bars = axis.bar(positions + (i - (len(splits) - 1) / 2) * width, values, width, label=split)
        axis.bar_label(bars, labels=[f"{v:,}" for v in values], fontsize=7, rotation=90, padding=2)
    axis.set_xticks(positions, stats.class_names)
    axis.set_ylabel("images")
    axis.set_title(f"{stats.source}: images per class and split")
    axis.margins(y=0.15)
    axis.grid(axis="y", alpha=0.3)
    axis.legend()
    fig.tight_layout()
    save_figure(fig, out_png, dpi=100)
    return out_png


def write_stats(stats: ClassCounts, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``<source>_class_counts.png`` and ``.json`` into ``out_dir``; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = plot_class_counts(stats, out_dir / f"{stats.source}_class_counts.png")
    json_path = out_dir / f"{stats.source}_class_counts.json"
    json_path.write_text(json.dumps(stats.to_dict(), indent=2))
    return png, json_path
