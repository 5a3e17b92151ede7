"""Make the AppStream screenshot (packaging/screenshots/main-window.png) from the real app on the demo.

    python packaging/make_screenshot.py [--out packaging/screenshots/main-window.png]

Runs ``ferdesk --source demo`` headless for a few seconds (three faces are in view by then), saves
the window and reduces it to a 128-colour PNG (about 50 KB) so the repository stays small.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "screenshots" / "main-window.png")
    parser.add_argument("--seconds", type=float, default=6.0, help="how long the demo plays first")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "window.png"
        env = dict(
            os.environ,
            QT_QPA_PLATFORM="offscreen",
            XDG_CONFIG_HOME=str(Path(scratch) / "config"),  # default settings, not the user's
            FERDESK_LOG_DIR=str(Path(scratch) / "logs"),
            PYTHONPATH=str(HERE.parent),
        )
        command = [sys.executable, "-m", "ferdesk", "--source", "demo", "--no-speech"]
        command += ["--quit-after", str(args.seconds), "--screenshot", str(raw)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not raw.is_file():
            print(
                f"make_screenshot: the app failed (status {done.returncode}):\n{done.stderr}", file=sys.stderr
            )
            return 1
        with Image.open(raw) as image:
            small = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        small.save(args.out, optimize=True)
    print(f"{args.out}: {args.out.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
