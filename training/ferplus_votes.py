"""FER+ vote distributions for FER2013 faces, mixed into FER2013's own one-hot targets.

FER+ relabelled FER2013's images with ten annotators each; on the Training split its majority
agrees with FER2013's label on only about 63 % of the faces. Whether those votes help a model
judged on FER2013's own labels is an empirical question (issue 13), so this is a training option
(``ferplus_weight``), not a new data set: each Training face keeps its FER2013 label, and its
target becomes ``(1 - w) * one_hot + w * votes`` where FER+ has a usable vote for the same image.

The Kaggle folder layout names its files by arbitrary numbers, not by the row of ``fer2013.csv``
that FER+ uses, so the faces are paired by their pixels: the nearest FER+ image of the same split
(the Kaggle JPEGs are lossy copies of the same pixels, a root-mean-square difference of about two
grey levels; a different face is tens of levels away). Faces FER+ dropped, or whose majority is
contempt, unknown or not-a-face, find no partner and keep their one-hot target.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from training.data import FaceDataset, load_split

#: Largest root-mean-square pixel difference (grey levels of 255) that still counts as the same
#: image; measured on the shared data: matched pairs 1.7-1.9, the nearest other face 30 and more.
MATCH_RMS_LEVELS = 6.0


@dataclass
class FerPlusVotes:
    """Vote distributions ``(N, classes)`` for a data set's faces; ``matched`` says which have one."""

    distributions: np.ndarray
    matched: np.ndarray

    @property
    def matched_count(self) -> int:
        return int(self.matched.sum())


def nearest_images(
    queries: np.ndarray, references: np.ndarray, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Index of each query's nearest reference image and the RMS difference in grey levels."""
    flat_queries = queries.reshape(len(queries), -1).astype(np.float32)
    flat_references = references.reshape(len(references), -1).astype(np.float32)
    reference_norms = (flat_references * flat_references).sum(axis=1)
    nearest = np.zeros(len(flat_queries), np.int64)
    squared = np.zeros(len(flat_queries), np.float32)
    for start in range(0, len(flat_queries), chunk):
        block = flat_queries[start : start + chunk]
        cross = block @ flat_references.T
        distances = (block * block).sum(axis=1)[:, None] + reference_norms[None, :] - 2.0 * cross
        nearest[start : start + chunk] = distances.argmin(axis=1)
        squared[start : start + chunk] = distances.min(axis=1)
    rms = np.sqrt(np.maximum(squared, 0.0) / flat_queries.shape[1]) * 255.0
    return nearest, rms


def match_votes(faces: FaceDataset, ferplus: FaceDataset) -> FerPlusVotes:
    """Pair ``faces`` with ``ferplus`` (same classes, with soft labels) by their pixels."""
    if ferplus.soft_labels is None:
        raise ValueError("The FER+ data set has no vote distributions; read it with source 'ferplus'.")
    if tuple(ferplus.class_names) != tuple(faces.class_names):
        raise ValueError(
            f"FER+ classes {list(ferplus.class_names)} differ from the training data's "
            f"{list(faces.class_names)}; FER+ votes mix into FER2013's 7 classes only."
        )
    distributions = np.zeros((len(faces), len(faces.class_names)), np.float32)
    matched = np.zeros(len(faces), bool)
    if len(faces) and len(ferplus):
        nearest, rms = nearest_images(faces.images, ferplus.images)
        matched = rms <= MATCH_RMS_LEVELS
        distributions[matched] = ferplus.soft_labels[nearest[matched]]
    return FerPlusVotes(distributions, matched)


def ferplus_votes(data_root: str | os.PathLike, split: str, faces: FaceDataset) -> FerPlusVotes:
    """FER+ votes for FER2013 ``faces`` of ``split``, read from ``data_root``'s ``ferplus/``."""
    ferplus = load_split(data_root, split, "ferplus")
    return match_votes(faces, ferplus)


def mixed_targets(targets: np.ndarray, votes: FerPlusVotes, weight: float) -> np.ndarray:
    """``weight`` of the FER+ votes, the rest the face's own target, where a vote was found."""
    if targets.shape != votes.distributions.shape:
        raise ValueError(f"targets {targets.shape} and FER+ votes {votes.distributions.shape} differ.")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"ferplus_weight == {weight}, must be in [0, 1].")
    mixed = targets.astype(np.float32, copy=True)
    rows = votes.matched
    mixed[rows] = (1.0 - weight) * targets[rows] + weight * votes.distributions[rows]
    return mixed
