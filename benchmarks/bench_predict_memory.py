"""Peak memory of ``ferdesk predict`` against folder size: it must stay flat, not grow with the folder.

    python benchmarks/bench_predict_memory.py [--photos 1 10 100 1000] [--megapixels 3]

Writes real photos (the public-domain astronaut, resized to ``--megapixels`` and varied in crop,
mirror and brightness) as JPEGs into a temporary folder, then runs the real ``ferdesk predict
--json`` over the first N of them for each N, in a fresh process each time, and reads that
process's peak resident memory (``ru_maxrss`` from ``wait4``). The run on one photo is the baseline
(interpreter, LiteRT, MediaPipe and the models): the figure that matters is how much more the
largest folder needs. Prints a table and ends with one JSON line; figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import finish, machine

VARIANTS = 12


def make_photos(folder: Path, count: int, megapixels: float) -> list[Path]:
    """``count`` JPEG photos: ``VARIANTS`` distinct encodings, the rest hard links to them."""
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    side_w = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    size = (side_w, int(side_w * 3 / 4))
    rng = np.random.default_rng(0)
    originals = []
    for number in range(VARIANTS):
        left, top = (int(v) for v in rng.integers(0, 60, 2))
        variant = astronaut.crop((left, top, left + 452, top + 339)).resize(size, Image.Resampling.BICUBIC)
        if number % 2:
            variant = variant.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        variant = ImageEnhance.Brightness(variant).enhance(0.8 + 0.04 * number)
        path = folder / f"photo_{number:05d}.jpg"
        variant.save(path, quality=92)
        originals.append(path)
    photos = list(originals)
    for number in range(VARIANTS, count):
        path = folder / f"photo_{number:05d}.jpg"
        os.link(originals[number % VARIANTS], path)
        photos.append(path)
    return photos


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """Peak resident memory (MB) of one process running ``command``, and its wall time."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            text = stderr.read().decode(errors="replace")
            raise SystemExit(f"ferdesk predict failed ({process.returncode}): {text[-2000:]}")
    return usage.ru_maxrss / 1024.0, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--megapixels", type=float, default=3.0)
    args = parser.parse_args()
    counts = sorted(set(args.photos))

    rows = []
    with tempfile.TemporaryDirectory(prefix="ferdesk-memory-") as scratch:
        photos = make_photos(Path(scratch), counts[-1], args.megapixels)
        with Image.open(photos[0]) as first:
            width, height = first.size
        for count in counts:
            folder = Path(scratch) / f"n{count}"
            folder.mkdir()
            for photo in photos[:count]:
                os.link(photo, folder / photo.name)
            command = [sys.executable, "-m", "ferdesk", "predict", "--json", "--no-progress", str(folder)]
            peak, seconds = peak_rss_mb(command)
            rows.append({"photos": count, "peak_rss_mb": round(peak, 1), "seconds": round(seconds, 1)})

    baseline = rows[0]["peak_rss_mb"]
    print(f"ferdesk predict --json, {width}x{height} JPEG photos ({args.megapixels} MP); {machine()}")
    print(f"{'photos':>7}{'peak RSS MB':>13}{'over 1 photo':>14}{'seconds':>9}{'photos/s':>10}")
    for row in rows:
        rate = row["photos"] / row["seconds"] if row["seconds"] else 0.0
        print(
            f"{row['photos']:>7}{row['peak_rss_mb']:>13.1f}{row['peak_rss_mb'] - baseline:>+14.1f}"
            f"{row['seconds']:>9.1f}{rate:>10.1f}"
        )
    finish(
        {
            "benchmark": "predict_memory",
            "megapixels": args.megapixels,
            "image_size": [width, height],
            "runs": rows,
            "baseline_peak_rss_mb": baseline,
            "largest_peak_rss_mb": rows[-1]["peak_rss_mb"],
            "growth_mb": round(rows[-1]["peak_rss_mb"] - baseline, 1),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
