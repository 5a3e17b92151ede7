"""The list of faces in view: one row per person, one child row per emotion with a probability bar.

A tree, not a grid of custom widgets, because screen readers navigate a tree item by item and read
each row's text ("Person 1, left: appears happy, 82 %"; "happy: 82 %"); the bar is only drawn by a
delegate beside that text.

Stable rows: row *n* is always the *n*-th person from the user's left (the one order of
:mod:`ferdesk.vision.reading`, the order speech uses). Rows are never deleted and re-made while
people stay in view; only their text changes, and only when it differs. People are named by the
session's small reused numbers ("Person 1", "Person 2"), not by the tracker's ever-growing ids, so
Up and Down never land on a row that no longer exists. Entering the list makes sure a row is
current, so the screen reader reads it (and :attr:`FacesPanel.rowEntered` lets the window speak it
with built-in speech too).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QFocusEvent, QPainter, QPalette, QPen
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
from ferdesk.vision.emotions import EMOTIONS
from ferdesk.vision.reading import row_text, user_order
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
    """Faces in the current frame, one stable row per place, left to right from the user's side."""

    #: The keyboard focus entered the list; the current row's text (for built-in speech).
    rowEntered = Signal(str)

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
            "One row per face in view, from your left to your right, with its position and "
            "expression; expand a row for the probability of each emotion."
        )
        self.confidence_threshold = 0.5
        self.position_style = "sides"
        #: Text changes made to rows (each one is an accessibility event); for rate checks.
        self.text_changes = 0
        self._rows: list[QTreeWidgetItem] = []
        self.show_message("Not running.")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.scheduleDelayedItemsLayout()  # wrapped rows need new heights at a new width

    def focusInEvent(self, event: QFocusEvent) -> None:
        if self.currentItem() is None and self.topLevelItemCount():
            self.setCurrentItem(self.topLevelItem(0))
        super().focusInEvent(event)
        current = self.currentItem()
        if current is not None and event.reason() != Qt.FocusReason.PopupFocusReason:
            self.rowEntered.emit(current.text(0))

    def face_texts(self) -> list[str]:
        """The rows' texts, top to bottom (what a screen reader reads)."""
        return [self.topLevelItem(i).text(0) for i in range(self.topLevelItemCount())]

    # -- rows --------------------------------------------------------------------------------------
    def _set_text(self, item: QTreeWidgetItem, text: str) -> None:
        if item.text(0) != text:
            item.setText(0, text)
            self.text_changes += 1

    @staticmethod
    def _set_indicator(row: QTreeWidgetItem, policy: QTreeWidgetItem.ChildIndicatorPolicy) -> None:
        if row.childIndicatorPolicy() != policy:
            row.setChildIndicatorPolicy(policy)

    def _ensure_rows(self, count: int) -> None:
        """Exactly ``count`` top-level rows (at least one), adding or removing at the end only."""
        count = max(count, 1)
        while len(self._rows) < count:
            item = QTreeWidgetItem([""])
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            self.addTopLevelItem(item)
            self._rows.append(item)
            item.setExpanded(True)
        while len(self._rows) > count:
            item = self._rows.pop()
            self.takeTopLevelItem(self.indexOfTopLevelItem(item))

    def show_message(self, text: str) -> None:
        """One row with one line of text (e.g. "No face in view."); the first row is kept."""
        self._ensure_rows(1)
        row = self._rows[0]
        row.setData(0, TRACK_ROLE, None)
        self._set_text(row, text)
        for i in range(row.childCount()):
            if not row.child(i).isHidden():
                row.child(i).setHidden(True)
        self._set_indicator(row, QTreeWidgetItem.ChildIndicatorPolicy.DontShowIndicator)

    def set_scene(self, scene: Sequence[tuple[int, TrackedFace]], update_children: bool = True) -> None:
        """Show ``scene`` — (person number, face) pairs in the user's left-to-right order."""
        if not scene:
            self.show_message("No face in view.")
            return
        self._ensure_rows(len(scene))
        for row, (number, face) in zip(self._rows, scene, strict=True):
            if row.data(0, TRACK_ROLE) != number:
                row.setData(0, TRACK_ROLE, number)
            self._set_indicator(row, QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
            self._set_text(row, row_text(number, face, self.confidence_threshold, self.position_style))
            if update_children or row.childCount() == 0 or row.child(0).isHidden():
                self._update_children(row, face)

    def set_faces(self, faces: Sequence[TrackedFace]) -> None:
        """Faces without session numbers: numbered 1, 2, ... by place, left to right."""
        self.set_scene(list(enumerate(user_order(faces), start=1)))

    def _update_children(self, item: QTreeWidgetItem, face: TrackedFace) -> None:
        labels = list(face.probabilities) or list(EMOTIONS)
        # Keep one child per label the model reports (a custom model may have other labels).
        while item.childCount() < len(labels):
            item.addChild(QTreeWidgetItem([""]))
        while item.childCount() > len(labels):
            item.removeChild(item.child(item.childCount() - 1))
        for row, label in enumerate(labels):
            child = item.child(row)
            if child.isHidden():
                child.setHidden(False)
            # Rounded as the text is: a change below 1 % is no event for a screen reader.
            probability = round(float(face.probabilities.get(label, 0.0)), 2)
            self._set_text(child, f"{label}: {round(100 * probability)} %")
            if child.data(0, EMOTION_ROLE) != label:
                child.setData(0, EMOTION_ROLE, label)
            if child.data(0, PROBABILITY_ROLE) != probability:
                child.setData(0, PROBABILITY_ROLE, probability)
