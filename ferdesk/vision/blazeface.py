"""BlazeFace run through LiteRT with MediaPipe's own anchors, decoding and weighted NMS.

Why this exists: MediaPipe's Tasks runtime (``libmediapipe.so`` in the mediapipe wheel) carries a
Clearcut usage logger that looks up ``play.googleapis.com`` and posts to it, and it offers no switch
to turn that off (the public MediaPipe source links a no-op logger; the published wheel does not).
Merely loading the library opens an ``AF_INET`` socket. ferdesk promises that nothing leaves the
machine, so the default detector runs the same two ``.tflite`` files through the LiteRT
interpreter the emotion classifier already uses, and re-implements the few calculators of the
Tasks ``FaceDetectorGraph`` in NumPy, following MediaPipe's sources:

- ``ImageToTensorCalculator`` (OpenCV converter), ``keep_aspect_ratio: true``, ``BORDER_ZERO``:
  the whole image is letterboxed into a square region centred on it (side = the longer side),
  sampled with ``INTER_LINEAR`` from the corner-aligned grid MediaPipe uses, zero pixels outside,
  then scaled from [0, 255] to [-1, 1].
- ``SsdAnchorsCalculator``: short range 128 px, strides 8/16/16/16, one extra interpolated anchor
  per scale (2 + 6 per cell, 896 in all); full range (sparse) 192 px, stride 4, one anchor per
  cell (2,304). ``fixed_anchor_size: true``, so anchors are centres only.
- ``TensorsToDetectionsCalculator``: boxes ``x, y, w, h`` (``reverse_output_order``) divided by
  the input size and offset by the anchor centre; scores clipped to [-100, 100] then sigmoid;
  kept when ``score >= min_score``; boxes with negative or NaN size dropped.
- ``NonMaxSuppressionCalculator``: ``WEIGHTED`` algorithm, IoU overlap, suppression threshold 0.3:
  each kept face is the score-weighted mean of every box overlapping the best one by more than
  the threshold, with the best box's score.
- ``DetectionProjectionCalculator`` + ``DetectionTransformationCalculator``: back from the square
  region to the image, then to whole pixels by truncation, origin and size bounded to the image.

``tests/test_detector_backends.py`` checks the boxes against the Tasks ``FaceDetector`` on real
images (IoU >= 0.95, same count).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ferdesk.vision.native_logs import quiet_native_logs

#: MediaPipe's ``score_clipping_thresh`` for BlazeFace: raw logits are clipped before the sigmoid.
SCORE_CLIPPING = 100.0
#: ``min_suppression_threshold`` of the Tasks FaceDetector (its default).
MIN_SUPPRESSION_THRESHOLD = 0.3


@dataclass(frozen=True)
class AnchorOptions:
    """The ``SsdAnchorsCalculatorOptions`` of one BlazeFace model (fixed anchor size, ratio 1)."""

    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    anchor_offset: float = 0.5


#: Keyed by the model's input size, which tells the two shipped models apart.
ANCHOR_OPTIONS: dict[int, AnchorOptions] = {
    # mediapipe/modules/face_detection/face_detection_short_range.pbtxt and the Tasks graph.
    128: AnchorOptions(input_size=128, strides=(8, 16, 16, 16), interpolated_scale_aspect_ratio=1.0),
    # mediapipe/modules/face_detection/face_detection_full_range.pbtxt.
    192: AnchorOptions(input_size=192, strides=(4,), interpolated_scale_aspect_ratio=0.0),
}


def ssd_anchor_centres(options: AnchorOptions) -> np.ndarray:
    """Anchor centres ``(N, 2)`` as ``(x, y)`` in [0, 1], in the order the model emits its boxes.

    Port of ``SsdAnchorsCalculator::GenerateAnchors`` for ``fixed_anchor_size: true`` and
    ``aspect_ratios: [1.0]``: consecutive layers with the same stride share one feature map, each
    contributing one anchor per aspect ratio plus one interpolated anchor when
    ``interpolated_scale_aspect_ratio > 0``. Anchor sizes are all 1.0, so only centres matter.
    """
    strides = options.strides
    centres: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last_same_stride = layer
        while last_same_stride < len(strides) and strides[last_same_stride] == strides[layer]:
            per_cell += 1  # aspect ratio 1.0
            if options.interpolated_scale_aspect_ratio > 0.0:
                per_cell += 1
            last_same_stride += 1
        side = math.ceil(options.input_size / strides[layer])
        grid = (np.arange(side, dtype=np.float64) + options.anchor_offset) / side
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cells, per_cell, axis=0))
        layer = last_same_stride
    return np.concatenate(centres).astype(np.float32)


def letterbox_transform(width: int, height: int, size: int) -> tuple[np.ndarray, float, float, float]:
    """The affine map from image pixels to the ``size``² tensor, and the square region it covers.

    MediaPipe pads the whole-image region to the tensor's (square) aspect around the image centre
    and maps its corners onto the tensor's corners (``cv::getPerspectiveTransform`` from
    ``cv::boxPoints``), so tensor pixel ``i`` samples image coordinate ``x0 + i * side / size``.
    Returns ``(matrix, x0, y0, side)``.
    """
    side = float(max(width, height))
    x0 = width / 2.0 - side / 2.0
    y0 = height / 2.0 - side / 2.0
    k = size / side
    matrix = np.array([[k, 0.0, -x0 * k], [0.0, k, -y0 * k]], dtype=np.float64)
    return matrix, x0, y0, side


def to_input_tensor(rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """Letterbox ``rgb`` into a ``(1, size, size, 3)`` float32 tensor in [-1, 1] (zero border)."""
    import cv2

    height, width = rgb.shape[:2]
    matrix, x0, y0, side = letterbox_transform(width, height, size)
    warped = cv2.warpAffine(
        rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    tensor = warped.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
    return tensor[np.newaxis], x0, y0, side


def decode_boxes(raw: np.ndarray, anchors: np.ndarray, size: int) -> np.ndarray:
    """Raw regressors ``(N, >=4)`` to boxes ``(N, 4)`` as ``xmin, ymin, xmax, ymax`` in [0, 1]."""
    raw = raw.astype(np.float32, copy=False)
    scale = np.float32(size)
    cx = raw[:, 0] / scale + anchors[:, 0]
    cy = raw[:, 1] / scale + anchors[:, 1]
    w = raw[:, 2] / scale
    h = raw[:, 3] / scale
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def sigmoid_scores(raw: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` of logits clipped to [-100, 100] (float64 inside: exp(100) overflows float32)."""
    clipped = np.clip(raw.astype(np.float64), -SCORE_CLIPPING, SCORE_CLIPPING)
    return (1.0 / (1.0 + np.exp(-clipped))).astype(np.float32)


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """MediaPipe's ``OverlapSimilarity`` with ``INTERSECTION_OVER_UNION`` (0 when disjoint)."""
    ix0 = np.maximum(box[0], others[:, 0])
    iy0 = np.maximum(box[1], others[:, 1])
    ix1 = np.minimum(box[2], others[:, 2])
    iy1 = np.minimum(box[3], others[:, 3])
    intersection = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - intersection
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, intersection / union, 0.0)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, threshold: float = MIN_SUPPRESSION_THRESHOLD
) -> list[tuple[np.ndarray, float]]:
    """``NonMaxSuppressionCalculator``'s ``WEIGHTED`` algorithm: ``[(box, score)]``, best first."""
    order = np.argsort(-scores, kind="stable")
    remaining = order
    kept: list[tuple[np.ndarray, float]] = []
    while remaining.size:
        best = remaining[0]
        overlaps = _iou(boxes[best], boxes[remaining])
        grouped = overlaps > threshold
        candidates = remaining[grouped]
        if candidates.size == 0:  # NaN geometry: MediaPipe stops when nothing was consumed
            break
        weights = scores[candidates].astype(np.float64)
        merged = (boxes[candidates].astype(np.float64) * weights[:, None]).sum(axis=0) / weights.sum()
        kept.append((merged, float(scores[best])))
        remaining = remaining[~grouped]
    return kept


class BlazeFaceLiteRT:
    """One BlazeFace ``.tflite`` in a LiteRT interpreter; ``detect`` gives pixel boxes and scores.

    Raises ``ValueError`` (with the reason) when the file is not a BlazeFace model this decoder
    knows; ``FaceDetector`` turns that into a ``DetectorError`` naming the file.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        min_score: float = 0.5,
        min_suppression: float = MIN_SUPPRESSION_THRESHOLD,
        num_threads: int = 1,
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        if not 0.0 < min_score < 1.0:
            raise ValueError(f"min_score == {min_score}, must be between 0 and 1")
        self.path = Path(path)
        self.min_score = float(min_score)
        self.min_suppression = float(min_suppression)
        with quiet_native_logs():
            self._interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
            self._interpreter.allocate_tensors()
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 2:
            raise ValueError(f"expected 1 input and 2 outputs, found {len(inputs)} and {len(outputs)}")
        shape = tuple(int(v) for v in inputs[0]["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[1] != shape[2] or shape[3] != 3:
            raise ValueError(f"expected a (1, S, S, 3) image input, found {shape}")
        if inputs[0]["dtype"] != np.float32:
            raise ValueError(f"expected a float32 input, found {np.dtype(inputs[0]['dtype']).name}")
        self.input_size = shape[1]
        if self.input_size not in ANCHOR_OPTIONS:
            raise ValueError(
                f"input size {self.input_size} is neither BlazeFace short range (128) nor full range (192)"
            )
        self.anchors = ssd_anchor_centres(ANCHOR_OPTIONS[self.input_size])
        by_width = {int(d["shape"][-1]): d for d in outputs}
        if set(by_width) != {16, 1}:
            raise ValueError(
                f"expected outputs of 16 box values and 1 score per anchor, found {sorted(by_width)}"
            )
        self._boxes_out, self._scores_out = by_width[16], by_width[1]
        count = int(self._boxes_out["shape"][-2])
        if count != len(self.anchors) or int(self._scores_out["shape"][-2]) != count:
            raise ValueError(f"the model emits {count} boxes; its anchors number {len(self.anchors)}")
        self._input_index = inputs[0]["index"]
        # logit(min_score), less a margin for float rounding: a cheap pre-filter on raw scores.
        self._min_logit = math.log(self.min_score / (1.0 - self.min_score)) - 1e-3
        self._first_call = True

    def detect(self, rgb: np.ndarray) -> list[tuple[int, int, int, int, float]]:
        """Faces in an RGB uint8 image as ``(x, y, w, h, score)`` in whole pixels, best first."""
        height, width = rgb.shape[:2]
        if height == 0 or width == 0:
            return []
        tensor, x0, y0, side = to_input_tensor(np.ascontiguousarray(rgb), self.input_size)
        self._interpreter.set_tensor(self._input_index, tensor)
        if self._first_call:
            with quiet_native_logs():  # XNNPACK's one-off notices on the first inference
                self._interpreter.invoke()
            self._first_call = False
        else:
            self._interpreter.invoke()
        raw_scores = self._interpreter.get_tensor(self._scores_out["index"]).reshape(-1)
        # Only logits near or above the threshold can pass it: the sigmoid and the decoding run on
        # those few, and the exact test below is MediaPipe's (sigmoid score >= min_score).
        candidates = np.flatnonzero(raw_scores >= self._min_logit)
        if candidates.size == 0:
            return []
        scores = sigmoid_scores(raw_scores[candidates])
        passed = scores >= np.float32(self.min_score)
        candidates, scores = candidates[passed], scores[passed]
        if candidates.size == 0:
            return []
        raw_boxes = self._interpreter.get_tensor(self._boxes_out["index"]).reshape(len(self.anchors), -1)
        boxes = decode_boxes(raw_boxes[candidates], self.anchors[candidates], self.input_size)
        sizes_ok = (boxes[:, 2] - boxes[:, 0] >= 0) & (boxes[:, 3] - boxes[:, 1] >= 0)
        boxes, scores = boxes[sizes_ok], scores[sizes_ok]
        faces = []
        for box, score in weighted_nms(boxes, scores, self.min_suppression):
            # Square region -> image pixels, then MediaPipe's int truncation bounded to the image.
            xmin = x0 + box[0] * side
            ymin = y0 + box[1] * side
            w = (box[2] - box[0]) * side
            h = (box[3] - box[1]) * side
            faces.append(
                (
                    _bounded(xmin, width),
                    _bounded(ymin, height),
                    _bounded(w, width),
                    _bounded(h, height),
                    score,
                )
            )
        return faces

    def close(self) -> None:
        self._interpreter = None


def _bounded(value: float, upper: int) -> int:
    if not math.isfinite(value):
        return 0
    return max(0, min(int(value), upper))
