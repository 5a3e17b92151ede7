"""The timeline of recent announcements: what was said, and when, readable at any later moment.

A plain list: screen readers move through it row by row, and a sighted helper can glance at it.
Newest at the bottom (like a chat log). While the list has no focus its current row follows the
newest entry; while the user reads it, the current row stays where they put it. Bounded, so a
long session cannot grow it without limit.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

MAX_ENTRIES = 500


class TimelineView(QListWidget):
    def __init__(self, parent: QWidget | None = None, max_entries: int = MAX_ENTRIES) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.max_entries = max_entries
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setWordWrap(True)
        self.setUniformItemSizes(False)
        self.setAccessibleName("Announcements")
        self.setAccessibleDescription(
            "What ferdesk announced, oldest first, each followed by the time it was announced. "
            "Press R to hear the last one again."
        )

    def add_entry(self, text: str, when: datetime | None = None) -> QListWidgetItem:
        when = when or datetime.now()
        at_newest = self.currentRow() in (-1, self.count() - 1)
        # Words first, time last: a screen reader user hears what was said before when.
        item = QListWidgetItem(f"{text} ({when:%H:%M:%S})")
        item.setData(Qt.ItemDataRole.UserRole, text)
        item.setToolTip(f"{when:%Y-%m-%d %H:%M:%S}")
        self.addItem(item)
        while self.count() > self.max_entries:
            self.takeItem(0)
        if not self.hasFocus():
            # Tabbing in lands on the newest entry.
            self.setCurrentRow(self.count() - 1)
            self.scrollToBottom()
        elif at_newest:
            # Not moving the current row while focused: the screen reader would read the entry
            # again on top of the announcement itself; the user is reading at their own pace.
            self.scrollToBottom()
        return item

    def texts(self) -> list[str]:
        """The announced texts, oldest first, without times."""
        return [self.item(row).data(Qt.ItemDataRole.UserRole) for row in range(self.count())]
