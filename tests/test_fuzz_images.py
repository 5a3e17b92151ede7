"""A seeded fuzz run: a few hundred damaged images never crash, stall or lose ``predict``'s line.

The files are made by ``benchmarks/fuzz.py`` (the same generator runs 10,000 there, with figures in
docs/benchmarks.md): bit flips, truncations, mangled headers and dimensions of PNG, JPEG, GIF, BMP,
TIFF and WebP, corrupt EXIF, extreme sizes (5000x1, 1x5000) and progressive JPEGs with thousands
of scans. The whole test is bounded: it fails rather than run past ``BUDGET_S``.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from PIL import Image, ImageOps

from benchmarks.fuzz import check_predict, make_corpus, read_each, run_predict

FILES = 300
SEED = 20261201
#: CPU seconds (steady on a loaded machine, unlike wall time): a valid 100 MP image (a mangled
#: header can claim one) decodes in ~1.5 s; what the fuzzing hunts for took 20 s to minutes.
SLOW_FILE_S = 5.0
BUDGET_S = 55.0


def _old_reader_crashes(files) -> int:
    """Files that ended Pillow's own read + exif_transpose with an exception the old reader missed."""
    crashes = 0
    for item in files:
        try:
            with Image.open(item.path) as image:
                image.load()
                ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError):
            pass
        except Exception:  # struct.error, TypeError, AttributeError, DecompressionBombError, ...
            crashes += 1
    return crashes


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes on the EXIF it is fed
def test_fuzzed_images_never_crash_stall_or_lose_a_line(tmp_path):
    started = time.monotonic()
    folder = tmp_path / "corpus"
    files = make_corpus(folder, FILES, SEED)
    kinds = Counter(item.kind for item in files)
    assert {"exif", "extreme_size", "scans", "dimensions", "truncate"} <= set(kinds)
    # The corpus has teeth: some of these files crashed the reader this replaced.
    assert _old_reader_crashes([f for f in files if f.kind in ("exif", "dimensions", "bitflip")]) >= 3

    outcomes = read_each(files)
    crashes = [o for o in outcomes if o["outcome"] == "crash"]
    assert not crashes, crashes[:5]
    slow = [o for o in outcomes if o["cpu_seconds"] > SLOW_FILE_S]
    assert not slow, slow[:5]
    assert Counter(o["outcome"] for o in outcomes).keys() == {"decoded", "error"}

    remaining = BUDGET_S - (time.monotonic() - started)
    assert remaining > 10, f"the corpus alone took {BUDGET_S - remaining:.0f} s"
    report = run_predict(folder, timeout=remaining)
    assert not check_predict(files, report)
    extreme = [r for r in report["records"] if "_extreme_size" in r["path"]]
    assert extreme and all(r["error"] is None and r["faces"] == [] for r in extreme)

    remaining = BUDGET_S - (time.monotonic() - started)
    assert remaining > 5, "no time left for the --faces whole run"
    whole = run_predict(folder, remaining, "--faces", "whole")
    assert not check_predict(files, whole)
