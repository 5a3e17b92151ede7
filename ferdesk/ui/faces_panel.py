"""The list of faces in view: one row per person, one child row per emotion with a probability bar.

A tree, not a grid of custom widgets, because screen readers navigate a tree item by item and read
each row's text ("Person 1, left: appears happy, 82 %"; "happy: 82 %"); the bar is only drawn by a
delegate beside that text. Rows are updated in place (text changed only when it differs) so the
keyboard focus and the expanded state survive the constant stream of frames.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from ferdesk.ui.overlay import UNCLEAR_COLOUR, colour_for
from ferdesk.ui.wording import describe_face
from ferdesk.vision.emotions import EMOTIONS
from ferdesk.vision.results import TrackedFace

#: Item data role holding a child row's probability (0..1) for the bar delegate.
PROBABILITY_ROLE = int(Qt.ItemDataRole.UserRole) + 1
EMOTION_ROLE = int(Qt.ItemDataRole.UserRole) + 2
TRACK_ROLE = int(Qt.ItemDataRole.UserRole) + 3


class ProbabilityBarDelegate(QStyledItemDelegate):
    """Child rows: the row's text on the left, a bar for its probability on the right.

    Text and bar never overlap, so the text keeps the palette's contrast (high-contrast themes
    included); the bar has an outline in the text colour and is filled in the emotion's colour.
    """

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        probability = index.data(PROBABILITY_ROLE)
        if probability is None:
            super().paint(painter, option, index)
            return
        self.initStyleOption(option, index)
        style = option.widget.style() if option.widget is not None else None
        text = option.text
        option.text = ""
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, option.widget)
        rect: QRect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_colour = option.palette.color(role)
        text_width = min(rect.width() // 2, option.fontMetrics.horizontalAdvance("surprise: 100 %") + 12)
        painter.save()
        painter.setPen(text_colour)
        text_rect = rect.adjusted(4, 0, 0, 0)
        text_rect.setWidth(text_width)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        bar = QRect(
            rect.left() + text_width + 8, rect.top() + 3, rect.width() - text_width - 14, rect.height() - 6
        )
        if bar.width() > 4 and bar.height() > 2:
            emotion = index.data(EMOTION_ROLE)
            fill = colour_for(emotion, 1.0, 0.0) if emotion else UNCLEAR_COLOUR
            filled = QRect(bar.left(), bar.top(), round(bar.width() * float(probability)), bar.height())
            painter.fillRect(filled, fill)
            painter.setPen(QPen(text_colour, 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(bar)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        height = max(size.height(), option.fontMetrics.height() + 8)
        view = option.widget
        if index.data(PROBABILITY_ROLE) is None and isinstance(view, QTreeView):
            # A tree does not tell the delegate its column width, so long rows would be cut off
            # with "…"; wrap them to the width the row really has instead.
            depth = 0
            parent = index.parent()
            while parent.isValid():
                depth, parent = depth + 1, parent.parent()
            width = view.viewport().width() - view.indentation() * (depth + 1) - 12
            if width > 40:
                text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
                bounds = option.fontMetrics.boundingRect(
                    QRect(0, 0, width, 100_000), int(Qt.TextFlag.TextWordWrap), text
                )
                height = max(height, bounds.height() + 8)
        return QSize(size.width(), height)


class FacesPanel(QTreeWidget):
    """Faces in the current frame, in left-to-right order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("facesPanel")
        self.setHeaderHidden(True)
        self.setColumnCount(1)
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(False)
        self.setWordWrap(True)  # long rows wrap instead of being cut off with "…"
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.header().setStretchLastSection(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setItemDelegate(ProbabilityBarDelegate(self))
        self.setAccessibleName("Faces")
        self.setAccessibleDescription(
            "One row per face in view with its position and expression; expand a row for the "
            "probability of each emotion."
        )
        self.confidence_threshold = 0.5
        self.position_style = "sides"
        self._items: dict[int, QTreeWidgetItem] = {}
        self._empty_item: QTreeWidgetItem | None = None
        self.show_message("Not running.")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.scheduleDelayedItemsLayout()  # wrapped rows need new heights at a new width

    def face_texts(self) -> list[str]:
        """The rows' texts, top to bottom (what a screen reader reads)."""
        return [self.topLevelItem(i).text(0) for i in range(self.topLevelItemCount())]

    def show_message(self, text: str) -> None:
        """Replace the rows with one line of text (e.g. "No face in view.")."""
        for item in self._items.values():
            self.takeTopLevelItem(self.indexOfTopLevelItem(item))
        self._items.clear()
        if self._empty_item is None:
            self._empty_item = QTreeWidgetItem([text])
            self._empty_item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            self.addTopLevelItem(self._empty_item)
        elif self._empty_item.text(0) != text:
            self._empty_item.setText(0, text)

    def set_faces(self, faces: list[TrackedFace]) -> None:
        if not faces:
            self.show_message("No face in view.")
            return
        if self._empty_item is not None:
            self.takeTopLevelItem(self.indexOfTopLevelItem(self._empty_item))
            self._empty_item = None
        ordered = sorted(faces, key=lambda face: face.box.center[0])
        wanted = {face.track_id for face in ordered}
        for track_id in [t for t in self._items if t not in wanted]:
            item = self._items.pop(track_id)
            self.takeTopLevelItem(self.indexOfTopLevelItem(item))
        for row, face in enumerate(ordered):
            item = self._items.get(face.track_id)
            if item is None:
                item = self._new_face_item(face.track_id)
                self._items[face.track_id] = item
                self.insertTopLevelItem(row, item)
                item.setExpanded(True)
            elif self.indexOfTopLevelItem(item) != row:
                expanded = item.isExpanded()
                self.takeTopLevelItem(self.indexOfTopLevelItem(item))
                self.insertTopLevelItem(row, item)
                item.setExpanded(expanded)
            self._update_item(item, face)

    def _new_face_item(self, track_id: int) -> QTreeWidgetItem:
        item = QTreeWidgetItem([f"Person {track_id}"])
        item.setData(0, TRACK_ROLE, track_id)
        for emotion in EMOTIONS:
            child = QTreeWidgetItem([f"{emotion}: 0 %"])
            child.setData(0, EMOTION_ROLE, emotion)
            child.setData(0, PROBABILITY_ROLE, 0.0)
            item.addChild(child)
        return item

    def _update_item(self, item: QTreeWidgetItem, face: TrackedFace) -> None:
        text = describe_face(face, self.confidence_threshold, self.position_style)
        if item.text(0) != text:
            item.setText(0, text)
        labels = list(face.probabilities) or list(EMOTIONS)
        # Keep one child per label the model reports (a custom model may have other labels).
        while item.childCount() < len(labels):
            item.addChild(QTreeWidgetItem([""]))
        while item.childCount() > len(labels):
            item.removeChild(item.child(item.childCount() - 1))
        for row, label in enumerate(labels):
            child = item.child(row)
            probability = float(face.probabilities.get(label, 0.0))
            child_text = f"{label}: {round(100 * probability)} %"
            if child.text(0) != child_text:
                child.setText(0, child_text)
            if child.data(0, EMOTION_ROLE) != label:
                child.setData(0, EMOTION_ROLE, label)
            if child.data(0, PROBABILITY_ROLE) != probability:
                child.setData(0, PROBABILITY_ROLE, probability)
