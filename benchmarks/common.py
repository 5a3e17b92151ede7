"""Helpers shared by the benchmark scripts: timing, machine description, the closing JSON line."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def time_ms(function: Callable[[], object], repeats: int, warmup: int = 10) -> dict[str, float]:
    """Median and 90th percentile wall time of ``function`` in milliseconds."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000.0)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p90_ms": round(samples[int(0.9 * (len(samples) - 1))], 3),
    }


def reference_workload_ms(repeats: int = 50) -> float:
    """A fixed single-threaded numeric workload, measured in the same run as a machine baseline.

    The machine is shared and noisy: dividing a figure by this baseline makes runs comparable.
    """
    rng = np.random.default_rng(0)
    a = rng.random((256, 256), dtype=np.float32)
    b = rng.random((256, 256), dtype=np.float32)
    return time_ms(lambda: np.convolve(a[0], b[0]) + (a @ b).sum(), repeats)["median_ms"]


def finish(figures: dict) -> None:
    """Print the closing JSON line every benchmark ends with."""
    print(json.dumps(figures, sort_keys=True))
