"""Rebuild ``assets/demo.mp4``, the clip behind ferdesk's built-in ``demo`` source.

Run from the repository root (needs scikit-image, which the test extras install)::

    .venv/bin/python assets/make_demo.py            # writes assets/demo.mp4
    .venv/bin/python assets/make_demo.py --check    # also runs the detector over every frame

The clip: 4 s of a slow pan and zoom over scikit-image's public-domain ``astronaut`` photo
(NASA, Eileen Collins), then 4 s of three copies of her face side by side, gently moving.
640x480, 15 fps, ``mp4v`` (every OpenCV build decodes it), well under 1 MB.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from ferdesk.capture.synthetic import demo_frames, write_video  # noqa: E402

FPS = 15.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "assets" / "demo.mp4")
    parser.add_argument("--check", action="store_true", help="count the faces BlazeFace finds per frame")
    args = parser.parse_args(argv)
    try:
        from skimage import data
    except ImportError:
        print("make_demo.py needs scikit-image: pip install scikit-image", file=sys.stderr)
        return 1
    photo = np.ascontiguousarray(data.astronaut())
    frames = list(demo_frames(photo, fps=FPS))
    written = write_video(args.out, frames, fps=FPS)
    size_kb = args.out.stat().st_size / 1024
    print(f"{args.out}: {written} frames, {written / FPS:.1f} s, {size_kb:.0f} KB")
    if args.check:
        from ferdesk.vision.detector import FaceDetector

        with FaceDetector("full") as detector:
            counts = [len(detector.detect(frame)) for frame in frames]
        print("faces per frame:", "".join(str(c) for c in counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
