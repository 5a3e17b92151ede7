"""Live pipeline speed on 640x480 video with one and with three faces, and speech latency.

    python benchmarks/bench_live.py [--frames 150]

Per-stage milliseconds (capture = decode of the next video frame, detect, classify, track, draw =
the overlay painted onto the frame with Qt offscreen), the frame rate those stages allow,
capture-to-result latency through the real ``LiveRunner`` threads at the clip's own 30 fps, and the
time from an expression change that holds to the start of speech (policy hold + speech engine
start). Prints a table and ends with one JSON line; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import finish, machine, reference_workload_ms
from ferdesk.capture import open_source
from ferdesk.capture.synthetic import ASTRONAUT_FACE, face_crop, pan_zoom, three_faces, write_video
from ferdesk.live import LiveRunner
from ferdesk.pipeline import LivePipeline
from ferdesk.vision.analyze import FaceAnalyzer
from ferdesk.vision.geometry import Box
from ferdesk.vision.results import TrackedFace

FPS = 30.0


def make_clips(folder: Path, frames: int) -> dict[str, Path]:
    from skimage import data

    photo = data.astronaut()
    one = folder / "one_face.mp4"
    three = folder / "three_faces.mp4"
    write_video(one, pan_zoom(photo, frames, zoom=(1.0, 1.3), pan=0.2), fps=FPS)
    write_video(three, three_faces(face_crop(photo, ASTRONAUT_FACE), frames), fps=FPS)
    return {"1 face": one, "3 faces": three}


def draw_ms(result) -> float:
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QFont, QImage, QPainter

    from ferdesk.ui.overlay import draw_faces

    rgb = result.frame.rgb
    started = time.perf_counter()
    image = QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0], QImage.Format.Format_RGB888).copy()
    painter = QPainter(image)
    draw_faces(painter, result.faces, QRectF(0, 0, rgb.shape[1], rgb.shape[0]), 1.0, QFont(), 14.0, 0.5)
    painter.end()
    return (time.perf_counter() - started) * 1000.0


def stage_figures(
    clip: Path, analyzer: FaceAnalyzer, frames: int, alternate_flip: bool = True
) -> dict[str, float]:
    pipeline = LivePipeline(analyzer, alternate_flip=alternate_flip)
    stages: dict[str, list[float]] = {k: [] for k in ("capture", "detect", "classify", "track", "draw")}
    faces_seen = []
    with open_source(str(clip), loop=True, realtime=False) as source:
        for index in range(frames + 10):
            started = time.perf_counter()
            frame = source.read()
            capture_ms = (time.perf_counter() - started) * 1000.0
            result = pipeline.process(frame)
            drawing = draw_ms(result)
            if index < 10:  # warm-up
                continue
            stages["capture"].append(capture_ms)
            for key in ("detect", "classify", "track"):
                stages[key].append(result.timings_ms[key])
            stages["draw"].append(drawing)
            faces_seen.append(len(result.faces))
    figures = {f"{k}_ms": round(statistics.median(v), 2) for k, v in stages.items()}
    per_frame = [sum(stages[k][i] for k in stages) for i in range(len(stages["capture"]))]
    figures["frame_ms"] = round(statistics.median(per_frame), 2)
    # The live budget: detect + classify of one frame (median over frames).
    detect_classify = [d + c for d, c in zip(stages["detect"], stages["classify"], strict=True)]
    figures["detect_classify_ms"] = round(statistics.median(detect_classify), 2)
    figures["fps"] = round(1000.0 / statistics.median(per_frame), 1)
    figures["faces"] = statistics.median(faces_seen)
    return figures


def fer_library_ms(clip: Path, frames: int) -> float | None:
    """The `fer` library's own pipeline (its default: OpenCV Haar cascade + its TFLite model) on
    the same frames, median ms per frame; None when `fer` is not installed.

    `fer` is not a ferdesk dependency (it pulls in PyTorch's MTCNN and a full TensorFlow); for this
    comparison install it beside the test extra without those: `pip install --no-deps fer==25.10.3`
    (its Haar path needs only TensorFlow, OpenCV, pandas and requests, all already there).
    """
    try:
        from fer.fer import FER
    except ImportError:
        return None
    import cv2

    detector = FER()
    times: list[float] = []
    with open_source(str(clip), loop=True, realtime=False) as source:
        for index in range(frames + 10):
            bgr = cv2.cvtColor(source.read().rgb, cv2.COLOR_RGB2BGR)
            started = time.perf_counter()
            detector.detect_emotions(bgr)
            if index >= 10:  # warm-up
                times.append((time.perf_counter() - started) * 1000.0)
    return round(statistics.median(times), 2)


def live_latency(clip: Path, model_path, seconds: float = 6.0) -> dict[str, float]:
    latencies: list[float] = []
    done = threading.Event()

    def on_result(result) -> None:
        latencies.append((time.monotonic() - result.frame.timestamp) * 1000.0)

    runner = LiveRunner(
        str(clip), lambda: FaceAnalyzer(model_path), on_result=on_result, on_status=lambda *_: None
    )
    runner.start(timeout=30.0)
    time.sleep(seconds)
    stats = runner.stats
    runner.stop(timeout=10.0)
    done.set()
    steady = latencies[len(latencies) // 3 :] or [float("nan")]
    return {
        "latency_ms": round(statistics.median(steady), 1),
        "latency_p90_ms": round(sorted(steady)[int(0.9 * (len(steady) - 1))], 1),
        "processed_fps": round(stats.processing_fps, 1),
        "dropped": stats.frames_dropped,
    }


def speech_latency() -> dict[str, float]:
    """Held change → announcement (policy, at 30 fps) → speech starts (engine)."""
    from ferdesk.speech.engine import SpeechEngine
    from ferdesk.speech.policy import AnnouncementPolicy, PolicyConfig

    config = PolicyConfig()
    policy = AnnouncementPolicy(config)

    def face(emotion: str) -> TrackedFace:
        return TrackedFace(1, Box(270, 190, 100, 100), emotion, 0.9, {emotion: 0.9}, "centre")

    now = 0.0
    while now < 10.0:  # settle on "neutral" first
        policy.update([face("neutral")], now)
        now += 1 / FPS
    change_at = now
    announced_at = None
    while announced_at is None and now < change_at + 10.0:
        announcement = policy.update([face("happy")], now)
        if announcement is not None:
            announced_at = now
        now += 1 / FPS
    policy_ms = (announced_at - change_at) * 1000.0
    engine_ms = []
    with SpeechEngine() as engine:
        if not engine.available:
            return {"policy_hold_ms": round(policy_ms), "speech_start_ms": float("nan")}
        for _ in range(3):
            engine.speaking_started_at = None
            said = time.monotonic()
            engine.say("one person, in the centre: now appears happy", interrupt=True)
            deadline = said + 10.0
            while engine.speaking_started_at is None and time.monotonic() < deadline:
                time.sleep(0.002)
            if engine.speaking_started_at is not None:
                engine_ms.append((engine.speaking_started_at - said) * 1000.0)
            engine.wait_idle(10.0)
    engine_median = statistics.median(engine_ms) if engine_ms else float("nan")
    return {
        "policy_hold_ms": round(policy_ms),
        "engine_start_ms": round(engine_median),
        "change_to_speech_ms": round(policy_ms + engine_median),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])  # noqa: F841 - fonts for the overlay
    figures: dict[str, object] = {"machine": machine(), "reference_workload_ms": reference_workload_ms()}
    with tempfile.TemporaryDirectory() as folder:
        clips = make_clips(Path(folder), args.frames)
        with FaceAnalyzer(args.model) as analyzer:
            figures["model"] = analyzer.classifier.info.name
            for label, clip in clips.items():
                stages = stage_figures(clip, analyzer, args.frames)
                key = label.replace(" ", "_")
                figures.update({f"{key}_{k}": v for k, v in stages.items()})
                print(
                    f"{label:8} capture {stages['capture_ms']:5.2f}  detect {stages['detect_ms']:5.2f}  "
                    f"classify {stages['classify_ms']:5.2f}  track {stages['track_ms']:5.2f}  "
                    f"draw {stages['draw_ms']:5.2f}  = {stages['frame_ms']:5.2f} ms/frame "
                    f"→ {stages['fps']:5.1f} fps ({stages['faces']:.0f} faces); "
                    f"detect + classify {stages['detect_classify_ms']:5.2f} ms"
                )
            # Baseline in the same run: both flip views every frame (what live did before it
            # alternated them, and what file analysis still does).
            both = stage_figures(clips["3 faces"], analyzer, args.frames, alternate_flip=False)
            figures["3_faces_both_views_detect_classify_ms"] = both["detect_classify_ms"]
            figures["3_faces_both_views_classify_ms"] = both["classify_ms"]
            print(
                f"3 faces, both flip views every frame (baseline): classify {both['classify_ms']:5.2f}, "
                f"detect + classify {both['detect_classify_ms']:5.2f} ms"
            )
        fer_ms = fer_library_ms(clips["3 faces"], args.frames)
        if fer_ms is None:
            print("fer library not installed (pip install --no-deps fer==25.10.3): no comparison")
        else:
            ours = figures["3_faces_detect_classify_ms"]
            figures["3_faces_fer_library_ms"] = fer_ms
            figures["3_faces_vs_fer_library"] = round(float(ours) / fer_ms, 3)  # type: ignore[arg-type]
            print(
                f"3 faces, fer library's detect_emotions (same frames, same run): {fer_ms:5.2f} ms; "
                f"ferdesk detect + classify is {figures['3_faces_vs_fer_library']}x of it"
            )
        for label, clip in clips.items():
            live = live_latency(clip, args.model)
            key = label.replace(" ", "_")
            figures.update({f"{key}_live_{k}": v for k, v in live.items()})
            print(
                f"{label:8} live at 30 fps: capture→result {live['latency_ms']} ms median "
                f"(p90 {live['latency_p90_ms']}), processed {live['processed_fps']} fps, "
                f"dropped {live['dropped']}"
            )
    speech = speech_latency()
    figures.update({f"speech_{k}": v for k, v in speech.items()})
    print(
        f"speech: held change announced after {speech['policy_hold_ms']} ms (hold 1.0 s at 30 fps), "
        f"engine starts playing {speech.get('engine_start_ms')} ms later "
        f"→ {speech.get('change_to_speech_ms')} ms"
    )
    print(
        f"reference workload (machine baseline) {figures['reference_workload_ms']} ms; {figures['machine']}"
    )
    finish(figures)


if __name__ == "__main__":
    main()
