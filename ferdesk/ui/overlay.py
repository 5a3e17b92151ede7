"""Face boxes and labels drawn over the video, in a palette that colour-blind viewers can tell apart.

Colours come from Okabe & Ito's palette (distinguishable with every common colour-vision
deficiency), but colour never carries meaning alone: every box has a text label with the person's
number, the emotion word and the confidence. Each box and label is drawn on a dark outline so it
stays visible on light and dark video alike, and sizes follow the view's size with the user's
font size as the floor (large-text users get large labels).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from ferdesk.vision.results import TrackedFace

#: Okabe–Ito colours, one per emotion.
EMOTION_COLOURS: dict[str, QColor] = {
    "angry": QColor("#D55E00"),  # vermillion
    "disgust": QColor("#009E73"),  # bluish green
    "fear": QColor("#CC79A7"),  # reddish purple
    "happy": QColor("#F0E442"),  # yellow
    "sad": QColor("#0072B2"),  # blue
    "surprise": QColor("#E69F00"),  # orange
    "neutral": QColor("#56B4E9"),  # sky blue
}
#: A face the model is unsure about, or one too small to read: light grey, labelled in words.
UNCLEAR_COLOUR = QColor("#BBBBBB")
OUTLINE_COLOUR = QColor("#000000")


def colour_for(emotion: str | None, confidence: float, threshold: float) -> QColor:
    """The box colour for a face: its emotion's colour when the model is sure enough, else grey."""
    if emotion is None or confidence < threshold:
        return QColor(UNCLEAR_COLOUR)
    return QColor(EMOTION_COLOURS.get(emotion, UNCLEAR_COLOUR))


def text_colour_on(background: QColor) -> QColor:
    """Black or white, whichever contrasts more with ``background`` (WCAG relative luminance)."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    luminance = (
        0.2126 * channel(background.redF())
        + 0.7152 * channel(background.greenF())
        + 0.0722 * channel(background.blueF())
    )
    return QColor("#000000") if luminance > 0.179 else QColor("#FFFFFF")


def face_label(face: TrackedFace, threshold: float) -> str:
    """Short label on the box, e.g. ``1: happy 82 %``, ``2: unclear``, ``3: too small``.

    Kept short so labels of neighbouring faces rarely overlap; the faces panel has the details.
    """
    if face.too_small or face.emotion is None:
        return f"{face.track_id}: too small"
    if face.confidence < threshold:
        return f"{face.track_id}: unclear"
    return f"{face.track_id}: {face.emotion} {round(100 * face.confidence)} %"


def overlay_metrics(view_height: float, min_font_px: float) -> tuple[float, float]:
    """Label font size (px) and box line width (px) for a view ``view_height`` pixels tall."""
    font_px = max(min_font_px, min(view_height / 22.0, 48.0))
    line_width = max(3.0, view_height / 150.0)
    return font_px, line_width


def draw_faces(
    painter: QPainter,
    faces: Iterable[TrackedFace],
    image_rect: QRectF,
    scale: float,
    base_font: QFont,
    min_font_px: float,
    threshold: float,
) -> None:
    """Draw each face's box and label; ``image_rect`` is where the frame lies in the view,
    ``scale`` is view pixels per frame pixel."""
    view_font_px, line_width = overlay_metrics(image_rect.height(), min_font_px)
    font = QFont(base_font)
    font.setBold(True)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    for face in faces:
        box = face.box
        rect = QRectF(
            image_rect.left() + box.x * scale,
            image_rect.top() + box.y * scale,
            box.w * scale,
            box.h * scale,
        )
        colour = colour_for(face.emotion, face.confidence, threshold)
        # Dark outline first, colour on top: visible on any background.
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(OUTLINE_COLOUR, line_width + 4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.SquareCap))
        painter.drawRect(rect)
        painter.setPen(QPen(colour, line_width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.SquareCap))
        painter.drawRect(rect)
        if face.partly_out:
            dash = QPen(OUTLINE_COLOUR, max(1.0, line_width / 2), Qt.PenStyle.DashLine)
            painter.setPen(dash)
            painter.drawRect(rect)

        text = face_label(face, threshold)
        # As large as the view allows, shrunk to about the box's width for small faces, but never
        # below the user's own font size (large-text users keep large labels).
        font.setPixelSize(max(1, round(view_font_px)))
        width_at_view_size = QFontMetricsF(font).horizontalAdvance(text)
        font_px = view_font_px
        if width_at_view_size > rect.width() * 1.4:
            font_px = max(min_font_px, view_font_px * rect.width() * 1.4 / width_at_view_size)
            font.setPixelSize(max(1, round(font_px)))
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        padding = font_px * 0.25
        text_width = metrics.horizontalAdvance(text) + 2 * padding
        text_height = metrics.height() + padding
        # Above the box when there is room, otherwise inside its top edge.
        top = rect.top() - text_height - line_width / 2
        if top < image_rect.top():
            top = rect.top() + line_width / 2
        left = min(max(rect.left() - line_width / 2, image_rect.left()), image_rect.right() - text_width)
        label_rect = QRectF(max(left, image_rect.left()), top, text_width, text_height)
        painter.setPen(QPen(OUTLINE_COLOUR, 2))
        painter.setBrush(colour)
        painter.drawRect(label_rect)
        painter.setPen(text_colour_on(colour))
        painter.drawText(
            QPointF(label_rect.left() + padding, label_rect.top() + padding / 2 + metrics.ascent()), text
        )
    painter.setBrush(Qt.BrushStyle.NoBrush)
