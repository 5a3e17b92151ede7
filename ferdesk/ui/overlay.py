"""Face boxes and labels drawn over the video, in a palette that colour-blind viewers can tell apart.

Colours come from Okabe & Ito's palette (distinguishable with every common colour-vision
deficiency), but colour never carries meaning alone: every box has a text label with the person's
number, the emotion word and the confidence. Each box and label is drawn on a dark outline so it
stays visible on light and dark video alike, and sizes follow the view's size with the user's
font size as the floor (large-text users get large labels).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from ferdesk.vision.reading import overlay_label, read_face
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
    # FER+ models only. Okabe-Ito's last colour is black, the boxes' outline, so contempt takes
    # the olive the timeline plots use (ferdesk.analysis.plots), set apart from yellow and green.
    "contempt": QColor("#BCBD22"),
}
#: A face the model is unsure about, or one too small to read: light grey, labelled in words.
UNCLEAR_COLOUR = QColor("#BBBBBB")
OUTLINE_COLOUR = QColor("#000000")


def colour_for(emotion: str | None, confidence: float, threshold: float) -> QColor:
    """The box colour for a face: its emotion's colour when the model is sure enough, else grey."""
    if emotion is None or confidence < threshold:
        return QColor(UNCLEAR_COLOUR)
    return QColor(EMOTION_COLOURS.get(emotion, UNCLEAR_COLOUR))


def colour_for_face(face: TrackedFace, threshold: float) -> QColor:
    """The colour of the face's reading (:func:`ferdesk.vision.reading.read_face`)."""
    reading = read_face(face, threshold)
    return (
        colour_for(reading.emotion, reading.confidence, 0.0) if reading.is_emotion else QColor(UNCLEAR_COLOUR)
    )


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


def face_label(face: TrackedFace, threshold: float, number: int | None = None) -> str:
    """Short label on the box, e.g. ``1: happy 82 %``, ``2: unclear``, ``3: too small``.

    ``number`` is the session's person number (the faces panel's "Person 1"); kept short so labels
    of neighbouring faces rarely overlap; the faces panel has the details.
    """
    return overlay_label(face.track_id if number is None else number, face, threshold)


def overlay_metrics(view_height: float, min_font_px: float) -> tuple[float, float]:
    """Label font size (px) and box line width (px) for a view ``view_height`` pixels tall."""
    font_px = max(min_font_px, min(view_height / 22.0, 48.0))
    line_width = max(3.0, view_height / 150.0)
    return font_px, line_width


def place_labels(
    boxes: Sequence[QRectF], sizes: Sequence[tuple[float, float]], bounds: QRectF, gap: float
) -> list[QRectF]:
    """Where each label goes so that no two labels cover each other (nor leave ``bounds``).

    Tried in turn for each label: just above its box, just inside its top edge, just below it,
    then further down in steps of a label's height — the first place that overlaps no label
    placed before wins. Labels are placed left to right, the order they are read in.
    """
    placed: list[QRectF] = []
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i].left(), boxes[i].top()))
    result: dict[int, QRectF] = {}
    for i in order:
        box, (width, height) = boxes[i], sizes[i]
        left = min(max(box.left() - gap, bounds.left()), bounds.right() - width)
        left = max(left, bounds.left())
        candidates = [box.top() - height - gap, box.top() + gap, box.bottom() + gap]
        candidates += [box.bottom() + gap + k * (height + 1) for k in range(1, 12)]
        chosen = None
        for top in candidates:
            if top < bounds.top() or top + height > bounds.bottom():
                continue
            rect = QRectF(left, top, width, height)
            if not any(rect.intersects(other) for other in placed):
                chosen = rect
                break
        if chosen is None:  # nowhere free inside: beside the last label rather than on top of it
            last = placed[-1] if placed else QRectF(left, max(box.top(), bounds.top()), 0, 0)
            chosen = QRectF(last.right() + 1, last.top(), width, height)
        placed.append(chosen)
        result[i] = chosen
    return [result[i] for i in range(len(boxes))]


def draw_faces(
    painter: QPainter,
    faces: Sequence[TrackedFace],
    image_rect: QRectF,
    scale: float,
    base_font: QFont,
    min_font_px: float,
    threshold: float,
    numbers: dict[int, int] | None = None,
) -> list[QRectF]:
    """Draw each face's box and label; returns where the labels went.

    ``image_rect`` is where the frame lies in the view, ``scale`` is view pixels per frame pixel,
    ``numbers`` maps track ids to the session's person numbers (the panel's "Person 1").
    """
    view_font_px, line_width = overlay_metrics(image_rect.height(), min_font_px)
    font = QFont(base_font)
    font.setBold(True)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    rects, texts, fonts, sizes, colours = [], [], [], [], []
    for face in faces:
        box = face.box
        rect = QRectF(
            image_rect.left() + box.x * scale, image_rect.top() + box.y * scale, box.w * scale, box.h * scale
        )
        colour = colour_for_face(face, threshold)
        # Dark outline first, colour on top: visible on any background.
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(OUTLINE_COLOUR, line_width + 4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.SquareCap))
        painter.drawRect(rect)
        painter.setPen(QPen(colour, line_width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.SquareCap))
        painter.drawRect(rect)
        if face.partly_out:
            painter.setPen(QPen(OUTLINE_COLOUR, max(1.0, line_width / 2), Qt.PenStyle.DashLine))
            painter.drawRect(rect)
        number = numbers.get(face.track_id) if numbers else None
        text = face_label(face, threshold, number)
        # As large as the view allows, shrunk to about the box's width for small faces, but never
        # below the user's own font size (large-text users keep large labels).
        label_font = QFont(font)
        label_font.setPixelSize(max(1, round(view_font_px)))
        width_at_view_size = QFontMetricsF(label_font).horizontalAdvance(text)
        font_px = view_font_px
        if width_at_view_size > rect.width() * 1.4:
            font_px = max(min_font_px, view_font_px * rect.width() * 1.4 / width_at_view_size)
            label_font.setPixelSize(max(1, round(font_px)))
        metrics = QFontMetricsF(label_font)
        padding = font_px * 0.25
        rects.append(rect)
        texts.append((text, padding, metrics.ascent()))
        fonts.append(label_font)
        sizes.append((metrics.horizontalAdvance(text) + 2 * padding, metrics.height() + padding))
        colours.append(colour)
    labels = place_labels(rects, sizes, image_rect, line_width / 2)
    for label_rect, (text, padding, ascent), label_font, colour in zip(
        labels, texts, fonts, colours, strict=True
    ):
        painter.setFont(label_font)
        painter.setPen(QPen(OUTLINE_COLOUR, 2))
        painter.setBrush(colour)
        painter.drawRect(label_rect)
        painter.setPen(text_colour_on(colour))
        painter.drawText(QPointF(label_rect.left() + padding, label_rect.top() + padding / 2 + ascent), text)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    return labels
