"""The video area: the newest frame, scaled to fit, with the face overlay on top.

The frame's numpy array is wrapped by a QImage without copying; the view keeps a reference to the
array for as long as the QImage lives, otherwise Qt would read freed memory. The view only paints:
it never waits for, or asks for, a frame — the window's display timer hands it the newest one.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontInfo, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ferdesk.ui.overlay import draw_faces
from ferdesk.vision.results import FrameResult


def wrap_rgb(rgb: np.ndarray) -> tuple[QImage, np.ndarray]:
    """A QImage over ``rgb`` (H, W, 3) uint8 without a copy, and the array it reads from.

    The returned array must outlive the image; it is ``rgb`` itself unless ``rgb`` was not
    C-contiguous, in which case it is a contiguous copy.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got shape {rgb.shape} dtype {rgb.dtype}.")
    array = rgb if rgb.flags["C_CONTIGUOUS"] else np.ascontiguousarray(rgb)
    height, width = array.shape[:2]
    image = QImage(array.data, width, height, array.strides[0], QImage.Format.Format_RGB888)
    return image, array


class VideoView(QWidget):
    """Paints the current :class:`FrameResult`; keyboard-focusable so its description can be read."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("videoView")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.setAccessibleName("Video")
        self.setAccessibleDescription("No video yet.")
        self._result: FrameResult | None = None
        #: Track id -> the session's person number, for the labels on the boxes.
        self.numbers: dict[int, int] = {}
        #: Where the labels were drawn at the last paint (view coordinates).
        self.label_rects: list[QRectF] = []
        self._image: QImage | None = None
        self._pixels: np.ndarray | None = None  # keeps the QImage's memory alive
        self.confidence_threshold = 0.5
        self.placeholder = "No video."
        #: Capture-to-display delay of the last painted frame, in milliseconds.
        self.last_latency_ms: float | None = None
        self.frames_painted = 0
        self._painted_index: int | None = None

    # -- data ---------------------------------------------------------------------------------
    @property
    def result(self) -> FrameResult | None:
        return self._result

    def set_result(self, result: FrameResult | None, numbers: dict[int, int] | None = None) -> None:
        self.numbers = dict(numbers or {})
        if result is None:
            self._result, self._image, self._pixels = None, None, None
        else:
            image, pixels = wrap_rgb(result.frame.rgb)
            self._result, self._image, self._pixels = result, image, pixels
        self.update()

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        if self._result is None:
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(640, 480)

    # -- geometry -----------------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        """Where the frame is drawn inside the view (aspect kept, centred)."""
        if self._image is None:
            return QRectF()
        frame_w, frame_h = self._image.width(), self._image.height()
        scale = min(self.width() / frame_w, self.height() / frame_h)
        width, height = frame_w * scale, frame_h * scale
        return QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)

    def view_scale(self) -> float:
        if self._image is None:
            return 1.0
        return self.image_rect().width() / self._image.width()

    def map_box(self, box) -> QRectF:
        """A face box (frame pixels) in view coordinates."""
        rect, scale = self.image_rect(), self.view_scale()
        return QRectF(rect.left() + box.x * scale, rect.top() + box.y * scale, box.w * scale, box.h * scale)

    # -- painting -----------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#000000"))
        if self._image is None or self._result is None:
            painter.setPen(QColor("#FFFFFF"))  # on the black video background, whatever the theme
            painter.drawText(
                self.rect().adjusted(12, 12, -12, -12),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.placeholder,
            )
        else:
            target = self.image_rect()
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, self._image)
            self.label_rects = draw_faces(
                painter,
                self._result.faces,
                target,
                self.view_scale(),
                self.font(),
                float(QFontInfo(self.font()).pixelSize()),
                self.confidence_threshold,
                self.numbers,
            )
            if self._painted_index != self._result.frame.index:
                self._painted_index = self._result.frame.index
                self.frames_painted += 1
                self.last_latency_ms = (time.monotonic() - self._result.frame.timestamp) * 1000.0
        if self.hasFocus():
            # A thick focus ring in the palette's highlight colour: visible focus for keyboard users.
            pen = QPen(self.palette().color(QPalette.ColorRole.Highlight), 4)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.rect().adjusted(2, 2, -2, -2))
        painter.end()
