"""Inference speed: emotion model ms/face at one thread, accurate mode's in the same run, and
detector ms per 640x480 frame.

    python benchmarks/bench_inference.py [--model models/ferdesk_emotion.tflite] [--repeats 300]
                                         [--manifest models/ferdesk_accurate.json]

Prints a table and ends with one JSON line. Figures are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import finish, machine, reference_workload_ms, time_ms
from ferdesk.vision.classifier import EmotionClassifier
from ferdesk.vision.detector import FaceDetector
from ferdesk.vision.ensemble import EnsembleClassifier, default_manifest
from ferdesk.vision.paths import default_emotion_model, models_dir


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=default_emotion_model())
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument(
        "--manifest", type=Path, default=default_manifest(), help="accurate-mode manifest (default: shipped)"
    )
    args = parser.parse_args()

    from skimage import data

    frame = cv2.resize(data.astronaut(), (640, 480), interpolation=cv2.INTER_AREA)
    figures: dict[str, object] = {"machine": machine(), "reference_workload_ms": reference_workload_ms()}

    siblings = models_dir().glob(args.model.stem + "_*.tflite")
    variants = [args.model, *sorted(p for p in siblings if p.with_suffix(".json").exists())]
    for path in variants:
        classifier = EmotionClassifier(path, num_threads=1)
        face = np.random.default_rng(0).random((1, 48, 48, 1), dtype=np.float32)
        timing = time_ms(lambda c=classifier, f=face: c.predict(f), args.repeats, warmup=20)
        figures[f"classify_{path.stem}_ms_per_face"] = timing["median_ms"]
        if path == args.model:
            default_ms = timing["median_ms"]
        print(f"{path.name:<40} {timing['median_ms']:7.3f} ms/face (p90 {timing['p90_ms']:.3f}), 1 thread")

    # Accurate mode, timed like the default above (one face, one thread) so the two compare.
    ensemble = EnsembleClassifier.from_manifest(args.manifest, num_threads=1)
    face = np.random.default_rng(0).random((1, 48, 48, 1), dtype=np.float32)
    timing = time_ms(lambda: ensemble.predict(face), args.repeats, warmup=20)
    figures["classify_accurate_ms_per_face"] = timing["median_ms"]
    figures["classify_accurate_passes_per_face"] = ensemble.passes_per_face
    figures["classify_accurate_members"] = ensemble.info.name
    figures["classify_accurate_over_default"] = round(timing["median_ms"] / default_ms, 2)
    print(
        f"{'accurate mode (' + ensemble.info.name + ')':<40} {timing['median_ms']:7.3f} ms/face "
        f"(p90 {timing['p90_ms']:.3f}), 1 thread, {figures['classify_accurate_over_default']}x the default"
    )

    for name in ("short", "full"):
        with FaceDetector(name) as detector:
            timing = time_ms(lambda d=detector: d.detect(frame), args.repeats // 3, warmup=5)
            faces = len(detector.detect(frame))
        figures[f"detect_{name}_ms_per_640x480"] = timing["median_ms"]
        print(f"BlazeFace {name:<30} {timing['median_ms']:7.3f} ms per 640x480 frame ({faces} face)")
    print(f"reference workload (machine baseline)    {figures['reference_workload_ms']:7.3f} ms")
    print(f"machine: {figures['machine']}")
    finish(figures)


if __name__ == "__main__":
    main()
