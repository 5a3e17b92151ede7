"""Network-camera loss and reconnection times, and what a damaged video prints on stderr.

    python benchmarks/bench_sources.py [--cycles 5]

Serves the demo clip as a real MJPEG-over-HTTP camera on 127.0.0.1 (``tests/mjpeg_server.py``),
runs the live runner on it with the real analyzer, and ``--cycles`` times switches the server off
for 2.5 s and back on the same port: how long until the runner reports the loss, and how long after
the server is back until it is "connected" again (the spec: within 2 s). Then reads a damaged copy
of the demo clip in a child process with FFmpeg's messages shown (``FERDESK_NATIVE_LOGS=1``, what
users saw before) and as shipped, and counts stderr lines. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.common import finish, machine, reference_workload_ms  # noqa: E402
from ferdesk.capture import DemoSource, open_source  # noqa: E402
from ferdesk.live import LiveRunner  # noqa: E402
from ferdesk.vision.analyze import FaceAnalyzer  # noqa: E402
from tests.mjpeg_server import MjpegServer, encode_jpegs  # noqa: E402

READER = """
import sys
from ferdesk.capture import BadFrameError, open_source
with open_source(sys.argv[1], loop=True, realtime=True) as source:
    for _ in range(int(sys.argv[2])):
        try:
            source.read()
        except BadFrameError as error:
            print(error, file=sys.stderr)
"""


def wait_for(predicate, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_sources: timed out after {timeout} s")
        time.sleep(0.005)
    return time.monotonic()


def reconnection(cycles: int) -> dict[str, float]:
    with open_source("demo", loop=False, realtime=False) as demo:
        jpegs = encode_jpegs([demo.read().rgb for _ in range(30)])
    server = MjpegServer(jpegs).start()
    kinds: list[str] = []
    lock = threading.Lock()

    def on_status(kind: str, message: str) -> None:
        with lock:
            kinds.append(kind)

    def count(kind: str) -> int:
        with lock:
            return kinds.count(kind)

    runner = LiveRunner(server.url, FaceAnalyzer, on_result=lambda result: None, on_status=on_status)
    runner.start()
    lost, back = [], []
    try:
        wait_for(lambda: count("connected") == 1, 60)
        for cycle in range(cycles):
            time.sleep(1.0)
            cut = time.monotonic()
            server.stop()
            lost.append(wait_for(lambda c=cycle: count("disconnected") == c + 1, 10) - cut)
            time.sleep(2.5)
            server.start()
            returned = time.monotonic()
            back.append(wait_for(lambda c=cycle: count("connected") == c + 2, 10) - returned)
    finally:
        runner.stop()
        server.stop()
    return {
        "loss_reported_s_median": round(statistics.median(lost), 3),
        "loss_reported_s_max": round(max(lost), 3),
        "reconnected_after_return_s_median": round(statistics.median(back), 3),
        "reconnected_after_return_s_max": round(max(back), 3),
    }


def damaged_video_lines(frames: int) -> dict[str, int]:
    data = bytearray(DemoSource().path.read_bytes())
    rng = np.random.default_rng(1)
    for position in rng.integers(len(data) // 10, len(data) - len(data) // 10, 3000):
        data[position] = rng.integers(0, 256)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.mp4"
        path.write_bytes(bytes(data))
        counts = {}
        for name, extra in (("ffmpeg_shown", {"FERDESK_NATIVE_LOGS": "1"}), ("shipped", {})):
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCV_", "FERDESK_NATIVE"))}
            env.update(extra, PYTHONPATH=str(REPO))
            done = subprocess.run(
                [sys.executable, "-c", READER, str(path), str(frames)],
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
            )
            counts[f"stderr_lines_{name}"] = len(done.stderr.splitlines())
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=5, help="times the camera is switched off and on")
    parser.add_argument("--frames", type=int, default=120, help="frames of the damaged video read (15 fps)")
    args = parser.parse_args()
    reference = reference_workload_ms()
    figures = {"machine": machine(), "reference_workload_ms": reference, "cycles": args.cycles}
    figures.update(reconnection(args.cycles))
    figures.update(damaged_video_lines(args.frames))
    print(f"machine: {figures['machine']} (reference workload {reference:.2f} ms)")
    print(
        f"network camera, {args.cycles} cycles: loss reported after {figures['loss_reported_s_median']:.2f} s "
        f"(max {figures['loss_reported_s_max']:.2f}); connected again "
        f"{figures['reconnected_after_return_s_median']:.2f} s after the camera returned "
        f"(max {figures['reconnected_after_return_s_max']:.2f}; spec: < 2 s)"
    )
    print(
        f"damaged demo clip, {args.frames} frames at 15 fps: {figures['stderr_lines_ffmpeg_shown']} stderr lines "
        f"with FFmpeg's messages shown, {figures['stderr_lines_shipped']} as shipped"
    )
    finish(figures)


if __name__ == "__main__":
    main()
