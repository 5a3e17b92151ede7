"""Training-time augmentation with OpenCV and NumPy, drawn per batch and fed to Keras per epoch.

One affine warp per face (flip, rotation, zoom and shift folded into a single matrix) costs a few
microseconds; the same through Keras' random image layers cost about as much as the network's own
forward pass on this CPU. ``train`` asks :meth:`AugmentedFaces.epoch_arrays` for a whole epoch at
once (under a second for FER2013's 26k faces) and hands plain arrays to ``fit``: fed batch by batch
as a ``PyDataset``, TensorFlow pulls it through ``tf.data.Dataset.from_generator`` and the steps ran
at 0.55–0.63x the bare array speed on a 2-core CPU (``docs/benchmarks.md``). Arrays also run
unchanged on the TensorFlow, JAX and PyTorch backends. The exported model never contains
augmentation. ``python -m training augment`` writes a preview grid of exactly what the network sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import keras
import numpy as np


@dataclass
class AugmentConfig:
    flip: bool = True
    rotation_degrees: float = 10.0
    zoom: float = 0.1
    translate: float = 0.1
    brightness: float = 0.2
    contrast: float = 0.2
    erasing_probability: float = 0.25

    @property
    def enabled(self) -> bool:
        return any(
            (
                self.flip,
                self.rotation_degrees,
                self.zoom,
                self.translate,
                self.brightness,
                self.contrast,
                self.erasing_probability,
            )
        )


def _affine(size: int, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    angle = rng.uniform(-config.rotation_degrees, config.rotation_degrees)
    scale = 1.0 + rng.uniform(-config.zoom, config.zoom)
    center = (size / 2.0 - 0.5, size / 2.0 - 0.5)
    matrix = cv2.getRotationMatrix2D(center, angle, scale)
    matrix[:, 2] += rng.uniform(-config.translate, config.translate, size=2) * size
    if config.flip and rng.random() < 0.5:
        # Mirror the output: x' = (size - 1) - x.
        matrix[0, :] = -matrix[0, :]
        matrix[0, 2] += size - 1
    return matrix


def augment_batch(images: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Augment float32 ``(N, S, S, 1)`` faces in [0, 1]; returns a new array, same shape."""
    out = np.empty_like(images)
    size = images.shape[1]
    geometric = config.flip or config.rotation_degrees or config.zoom or config.translate
    for i, face in enumerate(images):
        if geometric:
            warped = cv2.warpAffine(
                face[:, :, 0],
                _affine(size, rng, config),
                (size, size),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT_101,
            )
            out[i, :, :, 0] = warped
        else:
            out[i] = face
    count = len(images)
    if config.contrast:
        factor = 1.0 + rng.uniform(-config.contrast, config.contrast, size=(count, 1, 1, 1))
        mean = out.mean(axis=(1, 2, 3), keepdims=True)
        out = (out - mean) * factor.astype(np.float32) + mean
    if config.brightness:
        out = out + rng.uniform(-config.brightness, config.brightness, size=(count, 1, 1, 1)).astype(
            np.float32
        )
    if config.erasing_probability:
        for i in np.flatnonzero(rng.random(count) < config.erasing_probability):
            area = rng.uniform(0.02, 0.15) * size * size
            aspect = math.exp(rng.uniform(math.log(0.3), math.log(3.3)))
            height = int(min(size, round(math.sqrt(area * aspect))))
            width = int(min(size, round(math.sqrt(area / aspect))))
            top = int(rng.integers(0, size - height + 1))
            left = int(rng.integers(0, size - width + 1))
            out[i, top : top + height, left : left + width, :] = rng.random()
    return np.clip(out, 0.0, 1.0, out=out)


class AugmentedFaces(keras.utils.PyDataset):
    """Shuffled, augmented mini-batches; the order and the draws depend only on (seed, epoch)."""

    def __init__(
        self,
        images: np.ndarray,
        targets: np.ndarray,
        sample_weight: np.ndarray | None,
        batch_size: int,
        config: AugmentConfig,
        seed: int,
        epoch: int = 0,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
    ) -> None:
        super().__init__()
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.images = images
        self.targets = targets
        self.sample_weight = sample_weight
        self.batch_size = batch_size
        self.config = config
        self.seed = seed
        self.epoch = epoch
        self._order = np.arange(len(images))
        self._shuffle()

    def _shuffle(self) -> None:
        self._order = np.random.default_rng((self.seed, self.epoch)).permutation(len(self.images))

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index: int):
        batch = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.images[batch]
        if self.config.enabled:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            images = augment_batch(images, rng, self.config)
        targets = self.targets[batch]
        weights = None if self.sample_weight is None else self.sample_weight[batch]
        if self.mixup_alpha or self.cutmix_alpha:
            rng = np.random.default_rng((self.seed, self.epoch, index, 1))
            images, targets, weights = mix_batch(
                images, targets, weights, rng, self.mixup_alpha, self.cutmix_alpha
            )
        if weights is None:
            return images, targets
        return images, targets, weights

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._shuffle()

    def epoch_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The current epoch's batches joined in order: ``fit(..., shuffle=False)`` on them with the
        same batch size sees exactly the batches that indexing this dataset yields."""
        batches = [self[index] for index in range(len(self))]
        images = np.concatenate([batch[0] for batch in batches])
        targets = np.concatenate([batch[1] for batch in batches])
        weights = np.concatenate([batch[2] for batch in batches]) if len(batches[0]) == 3 else None
        return images, targets, weights


def mix_batch(
    images: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray | None,
    rng: np.random.Generator,
    mixup_alpha: float = 0.0,
    cutmix_alpha: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Mixup (blend two faces) or CutMix (paste a box of another face), one per batch.

    The partner of each face is another face of the same batch; the targets (and sample weights)
    are mixed in the proportion of the pixels each face contributes. With both alphas set, each
    batch draws one of the two at random.
    """
    use_cutmix = bool(cutmix_alpha) and (not mixup_alpha or rng.random() < 0.5)
    alpha = cutmix_alpha if use_cutmix else mixup_alpha
    if not alpha or len(images) < 2:
        return images, targets, weights
    share = float(rng.beta(alpha, alpha))
    partner = rng.permutation(len(images))
    if use_cutmix:
        size = images.shape[1]
        cut = math.sqrt(1.0 - share)
        height = width = round(size * cut)
        top = int(rng.integers(0, size - height + 1))
        left = int(rng.integers(0, size - width + 1))
        images = images.copy()
        images[:, top : top + height, left : left + width] = images[
            partner, top : top + height, left : left + width
        ]
        share = 1.0 - height * width / float(size * size)
    else:
        images = (share * images + (1.0 - share) * images[partner]).astype(np.float32)
    targets = (share * targets + (1.0 - share) * targets[partner]).astype(np.float32)
    if weights is not None:
        weights = (share * weights + (1.0 - share) * weights[partner]).astype(np.float32)
    return images, targets, weights


def class_weights(labels: np.ndarray, num_classes: int, power: float = 0.5) -> dict[int, float]:
    """Inverse-frequency class weights, softened by ``power`` and normalised to mean 1.

    ``power=1`` is full inverse frequency (disgust, with 436 images, would weigh ~16x happy and
    destabilise training); 0.5 (the square root) is the usual compromise; 0 turns weighting off.
    """
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.ones(num_classes)
    weights[present] = (counts.sum() / counts[present]) ** power
    weights[present] /= np.average(weights[present], weights=counts[present])
    return {i: float(w) for i, w in enumerate(weights)}
