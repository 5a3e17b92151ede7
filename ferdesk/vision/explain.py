"""Why did it say that? Occlusion maps from the .tflite classifier alone, and the face region they point at.

The one implementation of ``--method occlusion`` in ferdesk, shared by the app's E key, ``ferdesk
predict --explain DIR`` and the workbench's ``python -m training explain --method occlusion``.

Occlusion needs no gradients, so it works on the shipped LiteRT model as it is: a grey patch
slides over the 48x48 preprocessed face, every occluded copy is classified in one batch, and
each pixel's heat is the mean drop in the predicted class's probability over the patches that
covered it. High heat = "hiding this made the model less sure" = this is what it looked at.
:func:`describe_region` turns a map into words for speech: "mostly the mouth", "the eyes and the
brows".

Usage (a classifier, or any ``predict`` callable taking ``(N, 48, 48, 1)`` float32 in [0, 1])::

    from ferdesk.vision.classifier import EmotionClassifier
    from ferdesk.vision.explain import occlusion_map, describe_region

    classifier = EmotionClassifier()
    explanation = occlusion_map(face48, classifier.predict)   # face48: preprocess_face(crop)
    explanation.heatmap            # (48, 48) float32, >= 0, probability drop
    describe_region(explanation.heatmap)                      # "mostly the mouth"
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: the classifier (LiteRT) loads on first use, in the worker thread
    from ferdesk.vision.classifier import EmotionClassifier
    from ferdesk.vision.geometry import Box
    from ferdesk.vision.results import Frame, FrameResult, TrackedFace

#: Face regions of the preprocessed crop, as (name, top, bottom, left, right) fractions of its side.
#: Laid out on ferdesk's crop (the detector's box enlarged by the sidecar's box_scale, 1.25):
#: brows about a third of the way down, the mouth about two thirds. Earlier entries win overlaps.
FACE_REGIONS: tuple[tuple[str, float, float, float, float], ...] = (
    ("brows", 0.24, 0.34, 0.12, 0.88),
    ("eyes", 0.34, 0.46, 0.10, 0.90),
    ("nose", 0.46, 0.60, 0.33, 0.67),
    ("mouth", 0.60, 0.84, 0.20, 0.80),
    ("cheeks", 0.46, 0.62, 0.08, 0.92),
    ("chin", 0.84, 1.00, 0.20, 0.80),
    ("forehead", 0.00, 0.24, 0.12, 0.88),
)
#: Heat outside every named region.
OUTLINE = "outline of the face"

#: A map whose largest drop is below this says nothing: no region is named.
MIN_HEAT = 0.02


@dataclass(frozen=True)
class Explanation:
    """An occlusion map of one face.

    ``heatmap`` is (S, S) float32: per pixel, the mean drop of ``label``'s probability when a patch
    covered it (clipped at 0). ``probability`` is ``label``'s probability on the whole face;
    ``region`` is :func:`describe_region` of the map.
    """

    heatmap: np.ndarray
    target: int
    label: str
    probability: float
    region: str


def _as_face(face: np.ndarray) -> np.ndarray:
    face = np.asarray(face, dtype=np.float32)
    if face.ndim == 2:
        face = face[:, :, np.newaxis]
    if face.ndim != 3 or face.shape[2] != 1 or face.shape[0] != face.shape[1]:
        raise ValueError(
            f"occlusion_map expects one preprocessed face of shape (S, S, 1) or (S, S), got {face.shape}; "
            "use ferdesk.vision.preprocess.preprocess_face on the crop first."
        )
    return face


def occlusion_map(
    face: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    target: int | None = None,
    labels: tuple[str, ...] | None = None,
    patch: int = 16,
    stride: int = 4,
    fill: float | None = None,
) -> Explanation:
    """Occlusion map of ``face`` (preprocessed, ``(S, S, 1)`` float32 in [0, 1]) for class ``target``.

    ``predict`` maps a batch ``(N, S, S, 1)`` to probabilities ``(N, classes)`` — an
    :class:`~ferdesk.vision.classifier.EmotionClassifier`'s ``predict`` or a Keras model's
    ``predict``. ``target`` defaults to the predicted class. A ``patch`` x ``patch`` square of
    ``fill`` (default: the face's mean grey) moves by ``stride`` pixels; all occluded copies go to
    ``predict`` in one batch. ``labels`` names the classes (default: the FER2013 seven).
    """
    face = _as_face(face)
    side = face.shape[0]
    if not 1 <= patch <= side:
        raise ValueError(f"patch == {patch}, must be between 1 and the face's side {side}.")
    if stride < 1:
        raise ValueError(f"stride == {stride}, must be >= 1.")
    value = float(face.mean()) if fill is None else float(fill)
    starts = list(range(0, side - patch + 1, stride))
    if starts[-1] != side - patch:
        starts.append(side - patch)  # cover the last rows and columns too
    positions = [(top, left) for top in starts for left in starts]
    batch = np.repeat(face[np.newaxis], len(positions) + 1, axis=0)
    for number, (top, left) in enumerate(positions, start=1):
        batch[number, top : top + patch, left : left + patch, :] = value
    probabilities = np.asarray(predict(batch), dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) != len(batch):
        raise ValueError(
            f"predict returned shape {probabilities.shape} for a batch of {len(batch)} faces; "
            "expected (N, classes) probabilities."
        )
    base = probabilities[0]
    target = int(np.argmax(base)) if target is None else int(target)
    drops = base[target] - probabilities[1:, target]
    heat = np.zeros((side, side), np.float64)
    cover = np.zeros((side, side), np.float64)
    for drop, (top, left) in zip(drops, positions, strict=True):
        heat[top : top + patch, left : left + patch] += drop
        cover[top : top + patch, left : left + patch] += 1.0
    heatmap = np.clip(heat / np.maximum(cover, 1.0), 0.0, None).astype(np.float32)
    if labels is None:
        from ferdesk.vision.emotions import EMOTIONS

        labels = (
            EMOTIONS
            if probabilities.shape[1] == len(EMOTIONS)
            else tuple(str(i) for i in range(probabilities.shape[1]))
        )
    return Explanation(heatmap, target, labels[target], float(base[target]), describe_region(heatmap))


def region_map(side: int) -> np.ndarray:
    """(side, side) array of region indices into :data:`FACE_REGIONS`; -1 for the outline."""
    regions = np.full((side, side), -1, np.int16)
    for number in range(len(FACE_REGIONS) - 1, -1, -1):  # earlier entries painted last: they win
        _, top, bottom, left, right = FACE_REGIONS[number]
        regions[round(top * side) : round(bottom * side), round(left * side) : round(right * side)] = number
    return regions


#: Only heat of at least this fraction of the map's peak counts towards a region: a patch spreads
#: its drop over its whole square, and the tails of the square must not outvote the peak.
PEAK_FRACTION = 0.5


def region_shares(heatmap: np.ndarray) -> dict[str, float]:
    """Each region's share of the map's strong heat (at least :data:`PEAK_FRACTION` of the peak).

    The shares sum to 1; all are 0 for an empty map.
    """
    heatmap = np.clip(np.asarray(heatmap, np.float64), 0.0, None)
    if heatmap.ndim != 2 or heatmap.shape[0] != heatmap.shape[1]:
        raise ValueError(f"a heatmap is square and 2-D, got shape {heatmap.shape}.")
    peak = float(heatmap.max()) if heatmap.size else 0.0
    heatmap = np.where(heatmap >= PEAK_FRACTION * peak, heatmap, 0.0)
    regions = region_map(heatmap.shape[0])
    total = float(heatmap.sum())
    names = [name for name, *_ in FACE_REGIONS]
    shares = {name: 0.0 for name in [*names, OUTLINE]}
    if total <= 0:
        return shares
    for number, name in enumerate(names):
        shares[name] = float(heatmap[regions == number].sum()) / total
    shares[OUTLINE] = float(heatmap[regions == -1].sum()) / total
    return shares


def peak_region(heatmap: np.ndarray) -> str:
    """The region under the centre of the map's hottest part (pixels within 80 % of the peak)."""
    heatmap = np.asarray(heatmap, np.float64)
    ys, xs = np.nonzero(heatmap >= 0.8 * float(heatmap.max()))
    side = heatmap.shape[0]
    y, x = min(side - 1, round(float(ys.mean()))), min(side - 1, round(float(xs.mean())))
    number = int(region_map(side)[y, x])
    return FACE_REGIONS[number][0] if number >= 0 else OUTLINE


def describe_region(heatmap: np.ndarray) -> str:
    """Which part of the face mattered, in words: "mostly the mouth", "the eyes and the brows".

    A patch spreads its drop over its whole square, so the map is a blurred picture of what
    mattered; its hottest part's centre (:func:`peak_region`) says where. "mostly the <region>"
    when that region also holds the largest share of the strong heat (:func:`region_shares`), at
    least 40 % of it and half as much again as the next region; else the two regions with the
    largest shares if they hold 60 % together;
    else "the whole face". A map whose strongest drop is below :data:`MIN_HEAT` gives "no part of
    the face in particular".
    """
    heatmap = np.asarray(heatmap)
    if heatmap.size == 0 or float(np.max(heatmap)) < MIN_HEAT:
        return "no part of the face in particular"
    shares = region_shares(heatmap)
    ranked = sorted(shares.items(), key=lambda item: -item[1])
    (first, first_share), (second, second_share) = ranked[0], ranked[1]
    peak = peak_region(heatmap)
    if peak == first and first_share >= 0.4 and first_share >= 1.5 * second_share:
        return f"mostly the {first}"
    if first_share + second_share >= 0.6:
        return f"the {first} and the {second}"
    return "the whole face"


def explain_crop(classifier, crop: np.ndarray, **options) -> Explanation:
    """Occlusion map of a raw face crop (RGB/gray uint8) with an ``EmotionClassifier``."""
    from ferdesk.vision.preprocess import preprocess_face

    face = preprocess_face(crop, classifier.input_size)
    return occlusion_map(face, classifier.predict, labels=classifier.labels, **options)


def crop_for_box(classifier, rgb: np.ndarray, box) -> np.ndarray:
    """The crop the classifier sees for a detector ``box`` in ``rgb`` (the box enlarged, squared)."""
    from ferdesk.vision.geometry import face_crop_box

    height, width = rgb.shape[:2]
    crop_box = face_crop_box(box, width, height, classifier.info.box_scale)
    return rgb[crop_box.y : crop_box.y + crop_box.h, crop_box.x : crop_box.x + crop_box.w]


def heatmap_overlay(crop: np.ndarray, heatmap: np.ndarray, size: int = 192, alpha: float = 0.5) -> np.ndarray:
    """The crop (resized to ``size``) with the heatmap blended over it in a blue-to-red scale, RGB uint8.

    The scale is fixed (0 to the map's own maximum), so red always marks the region that mattered most.
    """
    import cv2

    if crop.ndim == 2:
        crop = np.repeat(crop[:, :, np.newaxis], 3, axis=2)
    base = cv2.resize(np.ascontiguousarray(crop[:, :, :3]), (size, size), interpolation=cv2.INTER_AREA)
    peak = float(np.max(heatmap)) or 1.0
    scaled = np.clip(np.asarray(heatmap, np.float32) / peak, 0.0, 1.0)
    heat = cv2.resize((scaled * 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
    colour = cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(base, 1.0 - alpha, colour, alpha, 0.0)


def save_heatmap_png(
    path: str | os.PathLike, crop: np.ndarray, explanation: Explanation, size: int = 192
) -> Path:
    """Write the overlay of ``explanation`` on ``crop`` as a PNG; returns the path."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(heatmap_overlay(crop, explanation.heatmap, size)).save(path)
    return path


class ExplanationWriter:
    """Writes one heatmap PNG per classified face for ``ferdesk predict --explain DIR``.

    Files are named ``<image stem>_face<N>_<emotion>.png`` (N counts faces left to right from 1); a
    name already used in this run gets ``-2``, ``-3``... A heatmap that cannot be computed or written
    is reported once on stderr and the run goes on (explanations are extras; the predictions still
    print).
    """

    def __init__(self, out_dir: str | os.PathLike, classifier) -> None:
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise NotADirectoryError(
                f"--explain {self.out_dir} is a file; --explain takes a folder (created if missing)."
            )
        self.classifier = classifier
        self.written: list[Path] = []
        self._used: set[str] = set()
        self._warned = False

    def _name(self, stem: str, number: int, emotion: str) -> Path:
        base = f"{stem}_face{number}_{emotion}"
        name, count = base, 1
        while name in self._used:
            count += 1
            name = f"{base}-{count}"
        self._used.add(name)
        return self.out_dir / f"{name}.png"

    def write(
        self, image_path: str | os.PathLike, rgb: np.ndarray, faces, *, whole: bool = False
    ) -> list[Path]:
        """Heatmaps of ``faces`` (``Face`` objects from ``FaceAnalyzer``) found in ``rgb``."""
        import sys

        paths = []
        for number, face in enumerate(faces, start=1):
            if face.emotion is None:
                continue  # too small to classify: nothing to explain
            path = self._name(Path(str(image_path)).stem, number, face.emotion)
            try:
                crop = rgb if whole else crop_for_box(self.classifier, rgb, face.box)
                target = list(self.classifier.labels).index(face.emotion)
                save_heatmap_png(path, crop, explain_crop(self.classifier, crop, target=target))
            except Exception as error:  # an extra must never stop the predictions: said once
                if not self._warned:
                    self._warned = True
                    where = "written to" if isinstance(error, OSError) else "computed for"
                    print(
                        f"ferdesk predict: heatmaps cannot be {where} {self.out_dir} ({error}); "
                        "the predictions go on without them.",
                        file=sys.stderr,
                    )
                continue
            paths.append(path)
        self.written += paths
        return paths


def spoken_reason(who: str, explanation: Explanation) -> str:
    """The sentence the app speaks: "Person 1 appears happy, mostly because of the mouth."."""
    from ferdesk.vision.emotions import EMOTION_WORDS

    word = EMOTION_WORDS.get(explanation.label, explanation.label)
    region = explanation.region
    if region.startswith("no part"):
        return f"{who} appears {word}; no part of the face stood out."
    if region.startswith("mostly "):
        return f"{who} appears {word}, mostly because of {region.removeprefix('mostly ')}."
    return f"{who} appears {word}, because of {region}."


@dataclass(frozen=True)
class FaceExplanation:
    """The answer to the app's E key for one face of one frame.

    ``overlay`` is RGB uint8 of ``crop_box``'s size: the heatmap blended over the face, ready to be
    drawn at ``crop_box`` over the frame. ``sentence`` is what to say (:func:`spoken_reason`).
    """

    track_id: int
    frame_index: int
    box: Box  # the face's box in the frame
    crop_box: Box  # the box the classifier saw (and where the overlay goes)
    overlay: np.ndarray
    explanation: Explanation
    sentence: str


class FaceExplainer:
    """Explains a face of a frame on its own thread, for the app's E key (no Qt here).

    ``request(result, track_id, who)`` returns at once; the worker thread crops the face from the
    frame, runs :func:`occlusion_map` with its own :class:`EmotionClassifier` (loaded on first use,
    in that thread: LiteRT objects stay with the thread that made them) and calls
    ``on_done(FaceExplanation)`` — or ``on_error(message)`` with a sentence for the user — from that
    thread; the UI forwards it to its own thread. Only the newest request waits: pressing E three
    times quickly explains the last face asked for. ``close()`` ends the thread.
    """

    def __init__(
        self,
        on_done: Callable[[FaceExplanation], None],
        on_error: Callable[[str], None],
        model_path: str | os.PathLike | None = None,
    ) -> None:
        import threading

        self._on_done = on_done
        self._on_error = on_error
        self._model_path = model_path
        self._classifier: EmotionClassifier | None = None
        self._pending: tuple[Frame, TrackedFace, str] | None = None
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="ferdesk-explain", daemon=True)
        self._thread.start()

    def request(self, result: FrameResult, track_id: int | None = None, who: str | None = None) -> bool:
        """Ask for the face ``track_id`` of ``result`` (default: its first face).

        False, with ``on_error`` told why, when there is no such face to explain.
        """
        faces = [face for face in result.faces if face.emotion is not None]
        if track_id is not None:
            faces = [face for face in faces if face.track_id == track_id]
        if not faces:
            self._on_error("There is no face to explain: none in view, or too small to read.")
            return False
        face = faces[0]
        with self._wake:
            self._pending = (result.frame, face, who or f"Person {face.track_id}")
            self._wake.notify()
        return True

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                if self._closed or self._pending is None:  # the loop above ends only on one of the two
                    return
                frame, face, who = self._pending
                self._pending = None
            try:
                done = self._explain(frame, face, who)
            except Exception as error:  # a bad model or frame: one sentence, the app goes on
                self._on_error(f"The explanation could not be computed ({type(error).__name__}: {error}).")
                continue
            self._on_done(done)

    def _explain(self, frame: Frame, face: TrackedFace, who: str) -> FaceExplanation:
        from ferdesk.vision.classifier import EmotionClassifier
        from ferdesk.vision.geometry import face_crop_box

        if self._classifier is None:
            self._classifier = EmotionClassifier(self._model_path)
        classifier = self._classifier
        rgb = frame.rgb
        crop_box = face_crop_box(face.box, rgb.shape[1], rgb.shape[0], classifier.info.box_scale)
        crop = rgb[crop_box.y : crop_box.y + crop_box.h, crop_box.x : crop_box.x + crop_box.w]
        target = list(classifier.labels).index(face.emotion) if face.emotion in classifier.labels else None
        explanation = explain_crop(classifier, crop, target=target)
        overlay = heatmap_overlay(crop, explanation.heatmap, size=max(crop_box.w, crop_box.h))
        return FaceExplanation(
            track_id=face.track_id,
            frame_index=frame.index,
            box=face.box,
            crop_box=crop_box,
            overlay=overlay[: crop_box.h, : crop_box.w],
            explanation=explanation,
            sentence=spoken_reason(who, explanation),
        )

    def close(self, timeout: float = 5.0) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        self._thread.join(timeout)

    @property
    def is_alive(self) -> bool:
        return self._thread.is_alive()


class ExplainCommand:
    """The app's E key without Qt: explain a face of the session's current frame, then say why.

    ``session`` is the app's :class:`ferdesk.session.Session` (used through its public surface:
    ``current_result``, ``scene()``, ``status(text, force=True)`` and ``call_soon``).
    ``show(FaceExplanation)`` draws the overlay (the window passes its video view's method); it and
    the spoken sentence are handed to the UI thread through ``session.call_soon``. Calling the
    command returns at once; the occlusion map (~0.5 s) is computed on the explainer's thread.
    """

    def __init__(
        self,
        session,
        show: Callable[[FaceExplanation], None] | None = None,
        model_path: str | os.PathLike | None = None,
    ) -> None:
        self.session = session
        self._show = show
        self.explainer = FaceExplainer(self._done, self._failed, model_path)

    def __call__(self, person_number: int | None = None) -> bool:
        """Explain person ``person_number`` (as the faces panel numbers them; default: the first)."""
        result = self.session.current_result
        scene = [(number, face) for number, face in self.session.scene() if face.emotion is not None]
        if person_number is not None:
            scene = [(number, face) for number, face in scene if number == person_number]
        if result is None or not scene:
            self.session.status(
                "There is no face to explain: none in view, or too small to read.", force=True
            )
            return False
        number, face = scene[0]
        return self.explainer.request(result, face.track_id, f"Person {number}" if number else "The person")

    def _done(self, explanation: FaceExplanation) -> None:
        def on_ui_thread() -> None:
            if self._show is not None:
                self._show(explanation)
            self.session.status(explanation.sentence, force=True)

        self.session.call_soon(on_ui_thread)

    def _failed(self, message: str) -> None:
        self.session.call_soon(lambda: self.session.status(message, force=True))

    def close(self) -> None:
        self.explainer.close()


__all__ = [
    "FACE_REGIONS",
    "ExplainCommand",
    "Explanation",
    "ExplanationWriter",
    "FaceExplainer",
    "FaceExplanation",
    "crop_for_box",
    "describe_region",
    "explain_crop",
    "heatmap_overlay",
    "occlusion_map",
    "peak_region",
    "region_map",
    "region_shares",
    "save_heatmap_png",
    "spoken_reason",
]
