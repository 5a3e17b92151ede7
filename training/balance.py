"""Class-imbalance remedies the studies compared, applied to the Training split before an epoch
is drawn (PublicTest and PrivateTest are never touched):

* ``class_weight`` — no resampling; each face's loss is weighted by its class's inverse frequency
  (softened by ``--class-weight-power``, 1 = scikit-learn's "balanced");
* ``oversample`` — random oversampling: every class's faces are repeated (drawn with replacement)
  up to the largest class's count;
* ``smote`` — imbalanced-learn's SMOTE on the raw pixels, as the studies did: new faces are
  interpolated between a face and one of its 5 nearest same-class neighbours;
* ``augment`` — augmentation-based balancing: the extra faces are augmented copies (strong
  geometric and photometric changes, drawn once) of the class's own faces.

Faces a remedy adds carry the one-hot label of their class (a soft FER+ target for a copy).
"""

from __future__ import annotations

import numpy as np

from training.augment import AugmentConfig, augment_batch

BALANCE_METHODS = ("none", "class_weight", "oversample", "smote", "augment")
#: What augmentation-based balancing does to each extra face (stronger than the per-epoch one).
BALANCE_AUGMENT = AugmentConfig(
    flip=True,
    rotation_degrees=15.0,
    zoom=0.15,
    translate=0.12,
    brightness=0.25,
    contrast=0.25,
    erasing_probability=0.3,
)


def _extra_indices(labels: np.ndarray, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    counts = np.bincount(labels, minlength=num_classes)
    target = counts.max()
    extra = [
        rng.choice(np.flatnonzero(labels == c), target - counts[c], replace=True)
        for c in range(num_classes)
        if 0 < counts[c] < target
    ]
    return np.concatenate(extra) if extra else np.zeros(0, np.int64)


def balance(
    images: np.ndarray, targets: np.ndarray, labels: np.ndarray, method: str, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(images, targets, labels)`` with every class as large as the largest (or as given
    for ``none`` / ``class_weight``)."""
    if method not in BALANCE_METHODS:
        raise ValueError(f"balance {method!r}: use one of {', '.join(BALANCE_METHODS)}.")
    if method in ("none", "class_weight"):
        return images, targets, labels
    num_classes = targets.shape[1]
    rng = np.random.default_rng((seed, 77))
    if method == "smote":
        try:
            from imblearn.over_sampling import SMOTE
        except ImportError:
            raise ValueError(
                "--balance smote needs imbalanced-learn; install it with 'pip install -e \".[train]\"'."
            ) from None
        counts = np.bincount(labels, minlength=num_classes)
        present = counts[counts > 0]
        neighbours = int(min(5, present.min() - 1))
        if neighbours < 1:
            raise ValueError(
                f"SMOTE needs at least 2 faces in every class present; the smallest has {present.min()}."
            )
        flat = images.reshape(len(images), -1)
        sampler = SMOTE(k_neighbors=neighbours, random_state=seed)
        new_flat, new_labels = sampler.fit_resample(flat, labels)
        # imbalanced-learn keeps the originals first, in order, and appends the synthetic faces.
        added = new_labels[len(labels) :]
        new_images = new_flat[len(labels) :].reshape(-1, *images.shape[1:]).astype(np.float32)
        new_targets = np.eye(num_classes, dtype=np.float32)[added]
        return (
            np.concatenate([images, new_images]),
            np.concatenate([targets, new_targets]),
            np.concatenate([labels, added]),
        )
    extra = _extra_indices(labels, num_classes, rng)
    extra_images = images[extra]
    if method == "augment" and len(extra):
        extra_images = augment_batch(extra_images, rng, BALANCE_AUGMENT)
    return (
        np.concatenate([images, extra_images]),
        np.concatenate([targets, targets[extra]]),
        np.concatenate([labels, labels[extra]]),
    )
