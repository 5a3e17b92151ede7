"""Render ferdesk's PNG icons from the one SVG (``assets/icons/ferdesk.svg``) into a hicolor tree.

PNGs are made, not committed: the SVG is the only source. Uses Qt's own SVG renderer (PySide6's
QtSvg, already a dependency), so no extra tool is needed::

    python packaging/make_icons.py OUT_DIR            # OUT_DIR/hicolor/<N>x<N>/apps/ferdesk.png
    python packaging/make_icons.py OUT_DIR --flat     # OUT_DIR/ferdesk-<N>.png

Prints one line per file written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

#: The sizes desktops look up in the hicolor theme (16 for menus and title bars ... 512 for stores).
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
DEFAULT_SVG = Path(__file__).resolve().parent.parent / "assets" / "icons" / "ferdesk.svg"


def render_icons(
    svg: Path, out_dir: Path, sizes: tuple[int, ...] = ICON_SIZES, flat: bool = False
) -> list[Path]:
    """Render ``svg`` at each size; returns the PNG paths. Raises ValueError for an unreadable SVG."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QApplication

    # A QApplication, not just a QGuiApplication: in a process that later makes widgets (the test
    # suite), the first application object decides, and widgets abort under a QGuiApplication.
    _app = QApplication.instance() or QApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a readable SVG file (Qt's SVG renderer rejected it).")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        if flat:
            path = out_dir / f"ferdesk-{size}.png"
        else:
            path = out_dir / "hicolor" / f"{size}x{size}" / "apps" / "ferdesk.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path), "PNG"):
            raise OSError(f"{path}: could not write the PNG icon (is the folder writable?).")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--svg", type=Path, default=DEFAULT_SVG, help="source SVG (default: %(default)s)")
    parser.add_argument("--flat", action="store_true", help="ferdesk-<N>.png files instead of a hicolor tree")
    args = parser.parse_args(argv)
    try:
        for path in render_icons(args.svg, args.out_dir, flat=args.flat):
            print(path)
    except (ValueError, OSError) as error:
        print(f"make_icons: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
