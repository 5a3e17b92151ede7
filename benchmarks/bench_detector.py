"""Face detection speed, MediaPipe Tasks (before) against LiteRT + MediaPipe's decoding (after).

    python benchmarks/bench_detector.py [--repeats 300] [--no-process]

For each shipped BlazeFace model (short, full) and each backend, the median wall milliseconds and
the CPU milliseconds (all the process's threads: MediaPipe runs its graph on its own threads) of
``FaceDetector.detect`` on one 640x480 frame (the astronaut photo, one face, and a
frame of the demo clip with three faces), measured in interleaved rounds in the same run so machine
noise hits both backends alike, and the median wall time when called once per frame at 30 fps, as
the live app's worker does (a tight loop is penalised by a busy machine's scheduler). The two
backends' boxes are compared too (IoU, count). Unless
``--no-process`` is given, it also times a whole short-lived process per backend (import, load,
one detection, exit) and, where strace runs, counts the internet sockets that process opens.

Prints a table and ends with one JSON line. Figures are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import finish, machine, reference_workload_ms, time_ms
from ferdesk.vision.detector import FaceDetector
from ferdesk.vision.paths import assets_dir

BACKENDS = ("mediapipe", "litert")
ROUNDS = 3

_PROCESS_SNIPPET = """
import numpy as np, sys
from skimage import data
from ferdesk.vision.detector import FaceDetector
with FaceDetector("full", backend=sys.argv[1]) as detector:
    assert len(detector.detect(np.ascontiguousarray(data.astronaut()))) == 1
"""


def _frames() -> dict[str, np.ndarray]:
    from skimage import data

    frames = {"astronaut": cv2.resize(data.astronaut(), (640, 480), interpolation=cv2.INTER_AREA)}
    capture = cv2.VideoCapture(str(assets_dir() / "demo.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 100)
    ok, frame = capture.read()
    capture.release()
    if ok:
        frames["demo_three_faces"] = np.ascontiguousarray(frame[:, :, ::-1])
    return frames


def _iou(a, b) -> float:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / (a.area + b.area - inter)


def _paced_ms(detector: FaceDetector, frame: np.ndarray, calls: int, fps: float = 30.0) -> float:
    """Median wall ms of ``detect`` called once per frame period, as the live app's worker does.

    A tight loop keeps the thread runnable, and on a busy machine it then shares time slices with
    every other job; a thread that waits for its next frame is scheduled at once when it wakes.
    """
    period = 1.0 / fps
    samples = []
    next_tick = time.perf_counter()
    for _ in range(calls):
        started = time.perf_counter()
        detector.detect(frame)
        samples.append((time.perf_counter() - started) * 1000.0)
        next_tick += period
        time.sleep(max(0.0, next_tick - time.perf_counter()))
    return float(np.median(samples))


def _process_seconds(backend: str) -> tuple[float, int | None]:
    """Wall seconds of a whole process using ``backend``, and its internet sockets (None: no strace)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    command = [sys.executable, "-c", _PROCESS_SNIPPET, backend]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, timeout=300)
    seconds = time.perf_counter() - started
    if shutil.which("strace") is None:
        return seconds, None
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "trace"
        traced = subprocess.run(
            ["strace", "-f", "-qq", "-e", "trace=socket,connect", "-o", str(log), "--", *command],
            capture_output=True,
            env=env,
            timeout=300,
        )
        if traced.returncode != 0 or not log.exists():
            return seconds, None
        pattern = re.compile(r"socket\(AF_INET6?\b")
        return seconds, sum(1 for line in log.read_text().splitlines() if pattern.search(line))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=300, help="timed calls per backend and round")
    parser.add_argument("--paced", type=int, default=90, help="calls paced at 30 fps per backend and frame")
    parser.add_argument("--no-process", action="store_true", help="skip the whole-process timing")
    args = parser.parse_args()

    frames = _frames()
    figures: dict[str, object] = {"machine": machine(), "reference_workload_ms": reference_workload_ms()}
    per_round = max(1, args.repeats // ROUNDS)
    for model in ("short", "full"):
        detectors = {backend: FaceDetector(model, backend=backend) for backend in BACKENDS}
        try:
            for frame_name, frame in frames.items():
                samples: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
                cpu: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
                for _ in range(ROUNDS):  # interleaved: noise hits both backends alike
                    for backend, detector in detectors.items():
                        started = time.process_time()
                        timing = time_ms(lambda d=detector, f=frame: d.detect(f), per_round, warmup=5)
                        cpu[backend].append((time.process_time() - started) * 1000.0 / (per_round + 5))
                        samples[backend].append(timing["median_ms"])
                paced = {
                    backend: _paced_ms(detector, frame, args.paced) for backend, detector in detectors.items()
                }
                found = {backend: detector.detect(frame) for backend, detector in detectors.items()}
                tasks, lite = found["mediapipe"], found["litert"]
                ious = [max((_iou(d.box, t.box) for t in tasks), default=0.0) for d in lite]
                for backend in BACKENDS:
                    value = round(float(np.median(samples[backend])), 3)
                    cpu_ms = round(float(np.median(cpu[backend])), 3)
                    figures[f"detect_{model}_{frame_name}_{backend}_ms"] = value
                    figures[f"detect_{model}_{frame_name}_{backend}_cpu_ms"] = cpu_ms
                    figures[f"detect_{model}_{frame_name}_{backend}_paced_ms"] = round(paced[backend], 3)
                    print(
                        f"{model:<5} {frame_name:<17} {backend:<9} {value:7.3f} ms wall, {cpu_ms:7.3f} ms CPU "
                        f"(all threads), {paced[backend]:7.3f} ms wall at 30 fps, per 640x480 frame "
                        f"({len(found[backend])} faces)"
                    )
                figures[f"detect_{model}_{frame_name}_min_iou"] = round(min(ious), 4) if ious else None
                figures[f"detect_{model}_{frame_name}_same_count"] = len(tasks) == len(lite)
                print(
                    f"{'':24}boxes: same count {len(tasks) == len(lite)}, min IoU {min(ious, default=1):.4f}"
                )
        finally:
            for detector in detectors.values():
                detector.close()

    if not args.no_process:
        for backend in BACKENDS:
            seconds, sockets = _process_seconds(backend)
            figures[f"process_{backend}_s"] = round(seconds, 2)
            figures[f"process_{backend}_internet_sockets"] = sockets
            shown = "strace unavailable" if sockets is None else f"{sockets} internet sockets"
            print(f"whole process (import, load, 1 detection, exit), {backend:<9} {seconds:6.2f} s, {shown}")
    print(f"reference workload (machine baseline) {figures['reference_workload_ms']:.3f} ms")
    print(f"machine: {figures['machine']}")
    finish(figures)


if __name__ == "__main__":
    main()
