"""A tiny FER2013 look-alike on disk (Kaggle folder layout), for tests and for benchmarks on a
machine without the data: each class is a bright block in its own place on a noisy face-sized image,
so a network can learn it in an epoch and an explanation must point at the block."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ferdesk.vision.emotions import EMOTIONS, FERPLUS_COLUMNS, FERPLUS_TO_EMOTION

#: Side of the planted block, in pixels of the 48x48 face.
BLOCK = 12


def block_box(label: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of class ``label``'s planted block."""
    row, col = divmod(label, 3)
    top, left = 4 + row * 14, 4 + col * 14
    return top, left, top + BLOCK, left + BLOCK


def synthetic_face(label: int, seed: int) -> np.ndarray:
    """A 48x48 uint8 noisy image with the class's bright block: learnable, and where it is is known."""
    rng = np.random.default_rng(seed)
    image = rng.integers(20, 90, (48, 48)).astype(np.uint8)
    top, left, bottom, right = block_box(label)
    image[top:bottom, left:right] = 230
    return image


def write_tiny_fer2013(
    root: str | os.PathLike, train_per_class: int = 4, public_per_class: int = 2, private_per_class: int = 1
) -> Path:
    """Write ``root/train/<class>/Training_*.png`` and ``root/test/<class>/{Public,Private}Test_*.png``.

    ``train_per_class`` may be a single count or, for imbalance tests, a per-class list.
    """
    from PIL import Image

    root = Path(root)
    counts = list(train_per_class) if isinstance(train_per_class, (list, tuple)) else [train_per_class] * 7
    seed = 0
    for label, name in enumerate(EMOTIONS):
        for folder, prefix, count in (
            ("train", "Training", counts[label]),
            ("test", "PublicTest", public_per_class),
            ("test", "PrivateTest", private_per_class),
        ):
            for _ in range(count):
                seed += 1
                path = root / folder / name / f"{prefix}_{seed:05d}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(synthetic_face(label, seed)).save(path)
    return root


def write_tiny_ferplus(fer2013_root: str | os.PathLike, root: str | os.PathLike, skip: int = 1) -> Path:
    """Write ``root/FER2013Train/`` (FER+ layout) holding the tiny FER2013's Training faces again,
    under other names and in another order, each with ten votes: six for its own class, four for
    the next class. The first ``skip`` faces are left out, so some FER2013 faces have no FER+ twin."""
    from PIL import Image

    fer2013_root, root = Path(fer2013_root), Path(root)
    faces = sorted((fer2013_root / "train").glob("*/Training_*.png"), key=lambda p: p.name)
    folder = root / "FER2013Train"
    folder.mkdir(parents=True, exist_ok=True)
    # label.csv's vote columns come after name and box; ferdesk's class -> its column.
    column = {name: FERPLUS_COLUMNS.index(key) for key, name in FERPLUS_TO_EMOTION.items()}
    rows = []
    for row, path in enumerate(reversed(faces[skip:])):
        label = EMOTIONS.index(path.parent.name)
        votes = [0] * len(FERPLUS_COLUMNS)
        votes[column[EMOTIONS[label]]] = 6
        votes[column[EMOTIONS[(label + 1) % len(EMOTIONS)]]] = 4
        name = f"fer{row:07d}.png"
        Image.open(path).save(folder / name)
        rows.append(f'{name},"(0, 0, 48, 48)",{",".join(map(str, votes))}\n')
    (folder / "label.csv").write_text("".join(rows))
    return root
