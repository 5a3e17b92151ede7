"""``ferdesk analyze`` throughput: analysed 640x480 frames per second, one face, ``--every 1``.

    python benchmarks/bench_analyze.py [--frames 300] [--repeats 3] [--compare-backends]

Times :meth:`VideoAnalyzer.analyze_input` — the whole per-input path of ``ferdesk analyze``:
decoding on the reader thread, detect → classify → track → smooth, records — on mp4v clips made
from the public-domain astronaut photo (the target clip: her face, gently moving, in every
frame; also a pan and zoom over the photo, and three faces side by side), models loaded once
beforehand (as for the second and later inputs of a run). Also: decoding alone (the ceiling), the
short-range detector, and writing the outputs (CSV + timeline PNG). The detector backend is the
default one (``$FERDESK_DETECTOR_BACKEND`` chooses another); the JSON line names it.
Target from issue 14: >= 60 frames/s with one face. Best of ``--repeats`` runs (the machine is
shared). Prints a table and ends with one JSON line; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import finish, machine, reference_workload_ms
from ferdesk.analysis.analyzer import AnalysisInput, AnalysisOptions, VideoAnalyzer
from ferdesk.capture import open_source
from ferdesk.capture.synthetic import (
    ASTRONAUT_FACE,
    compose_faces,
    face_crop,
    pan_zoom,
    three_faces,
    write_video,
)

FPS = 30.0
TARGET_FPS = 60.0
CLIP_NAMES = {"one": "1 face", "pan": "1 face, pan and zoom", "three": "3 faces"}


def one_face(face, count: int):
    """One face, gently moving, in every frame (the full-range detector finds it in each)."""
    for step in range(count):
        phase = 2.0 * math.pi * step / 30.0
        yield compose_faces([face], offsets=[(round(40 * math.sin(phase)), round(12 * math.cos(phase)))])


def make_clips(folder: Path, frames: int) -> dict[str, Path]:
    from skimage import data

    photo = data.astronaut()
    crop = face_crop(photo, ASTRONAUT_FACE)
    clips = {name: folder / f"{name}.mp4" for name in ("one", "pan", "three")}
    write_video(clips["one"], one_face(crop, frames), fps=FPS)
    # A pan and zoom over the whole photo: the full-range detector loses the face when it is close.
    write_video(clips["pan"], pan_zoom(photo, frames, zoom=(1.0, 1.3), pan=0.2), fps=FPS)
    write_video(clips["three"], three_faces(crop, frames), fps=FPS)
    return clips


def decode_fps(clip: Path) -> float:
    started = time.perf_counter()
    count = 0
    with open_source(str(clip), loop=False, realtime=False) as source:
        while source.read() is not None:
            count += 1
    return count / (time.perf_counter() - started)


def analyse_fps(analyzer: VideoAnalyzer, clip: Path, repeats: int) -> tuple[float, int, object]:
    best, outcome = 0.0, None
    for _ in range(repeats):
        started = time.perf_counter()
        outcome = analyzer.analyze_input(AnalysisInput(str(clip), "video"))
        elapsed = time.perf_counter() - started
        assert outcome.ok, outcome.error
        best = max(best, outcome.frames_analysed / elapsed)
    return best, outcome.frames_analysed, outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--compare-backends", action="store_true", help="also: both detector backends, interleaved"
    )
    args = parser.parse_args(argv)
    reference = reference_workload_ms()
    from ferdesk.vision.detector import resolve_backend

    figures: dict[str, object] = {
        "benchmark": "analyze",
        "machine": machine(),
        "frames": args.frames,
        "detector_backend": resolve_backend(),
    }
    with tempfile.TemporaryDirectory() as folder:
        clips = make_clips(Path(folder), args.frames)
        figures["decode_fps"] = round(max(decode_fps(clips["one"]) for _ in range(args.repeats)), 1)
        rows = []
        for detector in ("full", "short"):
            with VideoAnalyzer(AnalysisOptions(detector=detector)) as analyzer:
                analyzer.analyze_input(AnalysisInput(str(clips["pan"]), "video"))  # warm-up
                for name in ("one", "pan", "three"):
                    fps, frames, outcome = analyse_fps(analyzer, clips[name], args.repeats)
                    faces = len(outcome.records) / max(frames, 1)
                    figures[f"{name}_{detector}_fps"] = round(fps, 1)
                    figures[f"{name}_{detector}_faces_per_frame"] = round(faces, 2)
                    rows.append((f"{CLIP_NAMES[name]}, {detector} range", fps, faces))
                    if name == "one" and detector == "full":
                        from ferdesk.analysis.plots import timeline_png
                        from ferdesk.analysis.writers import csv_text

                        started = time.perf_counter()
                        csv_text(outcome.records, outcome.labels)
                        csv_ms = (time.perf_counter() - started) * 1000
                        timeline_png(outcome.records, outcome.labels, "warm-up")
                        started = time.perf_counter()
                        timeline_png(outcome.records, outcome.labels, "clip")
                        png_ms = (time.perf_counter() - started) * 1000
                        figures["write_csv_ms"] = round(csv_ms, 1)
                        figures["write_timeline_ms"] = round(png_ms, 1)
        if args.compare_backends:
            # Both detector backends on the target clip, interleaved round by round, so the load of
            # this shared machine weighs on both alike.
            import os

            from ferdesk.vision.detector import BACKEND_ENV, BACKENDS

            saved = os.environ.get(BACKEND_ENV)
            analyzers = {}
            try:
                for backend in BACKENDS:
                    os.environ[BACKEND_ENV] = backend
                    analyzers[backend] = VideoAnalyzer(AnalysisOptions(detector="full"))
                    analyzers[backend].analyze_input(AnalysisInput(str(clips["pan"]), "video"))  # warm-up
                best = dict.fromkeys(BACKENDS, 0.0)
                for _ in range(args.repeats):
                    for backend, analyzer in analyzers.items():
                        best[backend] = max(best[backend], analyse_fps(analyzer, clips["one"], 1)[0])
            finally:
                for analyzer in analyzers.values():
                    analyzer.close()
                if saved is None:
                    os.environ.pop(BACKEND_ENV, None)
                else:
                    os.environ[BACKEND_ENV] = saved
            figures["one_full_fps_by_backend"] = {k: round(v, 1) for k, v in best.items()}
    one = figures["one_full_fps"]
    figures["target_fps"] = TARGET_FPS
    figures["meets_target"] = bool(one >= TARGET_FPS)
    figures["reference_workload_ms"] = reference
    print(f"ferdesk analyze throughput, {args.frames} frames of 640x480, --every 1 (best of {args.repeats})")
    print(
        f"machine: {figures['machine']}; reference workload {reference} ms; detector backend {figures['detector_backend']}"
    )
    print(f"{'clip, detector':<36} {'frames/s':>9} {'faces/frame':>12}")
    print(f"{'decoding alone (ceiling)':<36} {figures['decode_fps']:>9.1f} {'':>12}")
    for label, fps, faces in rows:
        print(f"{label:<36} {fps:>9.1f} {faces:>12.2f}")
    print(
        f"writing {args.frames} frames' rows: CSV {figures['write_csv_ms']} ms, timeline PNG {figures['write_timeline_ms']} ms"
    )
    if "one_full_fps_by_backend" in figures:
        pairs = ", ".join(f"{k} {v}" for k, v in figures["one_full_fps_by_backend"].items())
        print(f"1 face, full range, detector backends interleaved: {pairs} frames/s")
    print(
        f"target >= {TARGET_FPS:g} frames/s with one face (full range): {'met' if figures['meets_target'] else 'NOT met'} ({one})"
    )
    finish(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
