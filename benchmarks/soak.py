"""Soak test: the real ``ferdesk`` app on the demo clip for a long time, its resources sampled.

    python benchmarks/soak.py [--seconds 3600] [--interval 10] [--warmup 60] [--speech]

Runs ``ferdesk --source demo --quit-after SECONDS --speech-log FILE`` (offscreen, a fresh settings
folder, ``--no-speech`` unless ``--speech``) and reads the process's resident memory, thread count
and open file descriptors from ``/proc/<pid>`` every ``--interval`` seconds. The first
``--warmup`` seconds (MediaPipe and the model load, caches fill) are the baseline; growth is
measured against it, and the growth rate per hour is the least-squares slope of the samples after
warm-up, so one sample's noise does not decide it; threads and descriptors count as constant when
their floor (the lowest of the last ten samples against the lowest of the first ten) does not rise,
so a descriptor open for a moment (the clip reopened at its end) is not taken for a leak. Targets
(issue 10): at most 20 MB of RSS growth per hour; threads and descriptors constant. Prints a table
and ends with one JSON line. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import finish, machine

RSS_TARGET_MB_PER_HOUR = 20.0


@dataclass(frozen=True)
class Sample:
    t_s: float
    rss_mb: float
    threads: int
    fds: int


def read_sample(pid: int, t_s: float) -> Sample | None:
    """One reading of ``/proc/<pid>``; None once the process has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss_kb = int(fields["VmRSS"].split()[0])
    return Sample(t_s, rss_kb / 1024.0, int(fields["Threads"]), fds)


def slope_per_hour(samples: list[Sample]) -> float:
    """Least-squares slope of RSS over time, in MB per hour (0 with fewer than two samples)."""
    if len(samples) < 2:
        return 0.0
    mean_t = sum(s.t_s for s in samples) / len(samples)
    mean_m = sum(s.rss_mb for s in samples) / len(samples)
    var = sum((s.t_s - mean_t) ** 2 for s in samples)
    if var == 0:
        return 0.0
    cov = sum((s.t_s - mean_t) * (s.rss_mb - mean_m) for s in samples)
    return cov / var * 3600.0


def floor_growth(values: list[int], window: int) -> int:
    """How much the lowest of the last ``window`` values exceeds the lowest of the first ``window``."""
    return min(values[-window:]) - min(values[:window])


def ferdesk_command() -> list[str]:
    script = Path(sys.executable).with_name("ferdesk")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ferdesk"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600.0, help="how long the app runs (default 1 h)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the baseline sample")
    parser.add_argument("--speech", action="store_true", help="built-in speech on (default --no-speech)")
    args = parser.parse_args(argv)
    if args.seconds <= args.warmup:
        parser.error(f"--seconds == {args.seconds:g} must be longer than --warmup == {args.warmup:g}")
    if not Path("/proc/self/status").is_file():
        parser.error("this benchmark reads /proc and runs on Linux only")

    with tempfile.TemporaryDirectory(prefix="ferdesk-soak-") as folder:
        log = Path(folder) / "speech.log"
        command = [
            *ferdesk_command(),
            "--source",
            "demo",
            "--quit-after",
            f"{args.seconds:g}",
            "--speech-log",
            str(log),
        ]
        if not args.speech:
            command.append("--no-speech")
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(Path(folder) / "config"))
        started = time.monotonic()
        stderr_path = Path(folder) / "stderr.txt"
        with stderr_path.open("w") as stderr:
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            samples: list[Sample] = []
            while process.poll() is None:
                sample = read_sample(process.pid, time.monotonic() - started)
                if sample is not None:
                    samples.append(sample)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=args.interval)
        ran_s = time.monotonic() - started
        lines = log.read_text(encoding="utf-8").splitlines() if log.is_file() else []
        stderr_tail = stderr_path.read_text(errors="replace")[-600:]

    # From the end of warm-up to just before --quit-after (then the app is closing down).
    steady = [s for s in samples if args.warmup <= s.t_s <= args.seconds - 1.0]
    if not steady:
        print(
            f"ferdesk ended after {ran_s:.0f} s (exit {process.returncode}) before warm-up ended:\n{stderr_tail}"
        )
        finish({"benchmark": "soak", "exit_code": process.returncode, "ran_s": round(ran_s, 1), "ok": False})
        return 1
    base, last = steady[0], steady[-1]
    growth_mb = last.rss_mb - base.rss_mb
    rate = slope_per_hour(steady)
    threads = sorted({s.threads for s in steady})
    fds = sorted({s.fds for s in steady})
    # A leak raises the floor; a file reopened when the clip loops, or a helper process, shows
    # as a spike in one sample. So growth is the floor of the last samples over that of the first.
    window = max(1, min(10, len(steady) // 4))
    thread_growth = floor_growth([s.threads for s in steady], window)
    fd_growth = floor_growth([s.fds for s in steady], window)
    ok = process.returncode == 0 and rate <= RSS_TARGET_MB_PER_HOUR and thread_growth <= 0 and fd_growth <= 0
    print(f"ferdesk soak on the demo, {ran_s:.0f} s, {len(samples)} samples, {machine()}")
    print(f"  exit status              {process.returncode}")
    print(f"  announcements logged     {len(lines)}")
    print(f"  RSS at {base.t_s:5.0f} s (baseline) {base.rss_mb:8.1f} MB")
    print(f"  RSS at {last.t_s:5.0f} s            {last.rss_mb:8.1f} MB  ({growth_mb:+.1f} MB)")
    print(f"  RSS peak                 {max(s.rss_mb for s in steady):8.1f} MB")
    print(f"  RSS trend after warm-up  {rate:+8.1f} MB/h (target <= {RSS_TARGET_MB_PER_HOUR:g})")
    print(f"  threads after warm-up    {threads[0]}..{threads[-1]} (floor growth {thread_growth:+d})")
    print(f"  open fds after warm-up   {fds[0]}..{fds[-1]} (floor growth {fd_growth:+d})")
    if process.returncode != 0:
        print(f"  stderr tail: {stderr_tail}")
    finish(
        {
            "benchmark": "soak",
            "seconds": args.seconds,
            "ran_s": round(ran_s, 1),
            "exit_code": process.returncode,
            "announcements": len(lines),
            "samples": len(samples),
            "rss_baseline_mb": round(base.rss_mb, 1),
            "rss_end_mb": round(last.rss_mb, 1),
            "rss_growth_mb": round(growth_mb, 1),
            "rss_peak_mb": round(max(s.rss_mb for s in steady), 1),
            "rss_mb_per_hour": round(rate, 1),
            "threads_min": threads[0],
            "threads_max": threads[-1],
            "fds_min": fds[0],
            "fds_max": fds[-1],
            "fd_floor_growth": fd_growth,
            "thread_floor_growth": thread_growth,
            "speech": bool(args.speech),
            "ok": ok,
        }
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
