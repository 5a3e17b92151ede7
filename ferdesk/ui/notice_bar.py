"""A message strip above the video for problems the user must act on ("Camera disconnected").

Non-modal on purpose: a dialog would steal focus every time a camera drops out. The strip says the
severity in words ("Problem:", "Warning:"), not only in colour, and offers what the user can do
next as buttons that work with the keyboard: open a file, use the demo, try again.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

SEVERITY_WORDS = {"error": "Problem", "warning": "Warning", "info": "Note"}


class ButtonKeysFilter(QObject):
    """Lets a focused button take Space and Enter before the window's single-key shortcuts.

    The main window binds Space to start/stop; without this, pressing Space on a focused button
    would start or stop the video instead of pressing the button.
    """

    KEYS = (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() in self.KEYS
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
        ):
            event.accept()
            return True
        return False


class NoticeBar(QFrame):
    openFileRequested = Signal()
    demoRequested = Signal()
    retryRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.setFrameShape(QFrame.Shape.Box)
        self.setLineWidth(2)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.setAccessibleName("Message")
        self.setAccessibleDescription("A problem or note about the video source, with what you can do next.")
        self.severity = "info"

        self.message = QLabel()
        self.message.setObjectName("noticeMessage")
        self.message.setWordWrap(True)
        self.message.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.message.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        # Focusable by Tab so a screen reader can reach the message and read it again.
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.message.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # A label's accessible name replaces its text for a screen reader: the name *is* the message
        # (set in show_message), never a fixed "Message text".
        self.message.setAccessibleName("No message")
        self.message.setAccessibleDescription("The message about the video source.")

        self._keys = ButtonKeysFilter(self)
        self.open_file = self._button(
            "Open &file…",
            "Open file",
            "Choose a video, an image or a folder of images to use instead.",
            self.openFileRequested,
        )
        self.use_demo = self._button(
            "Use &demo", "Use demo", "Play ferdesk's built-in demo clip instead.", self.demoRequested
        )
        self.retry = self._button(
            "&Try again", "Try again", "Try to open the same source again now.", self.retryRequested
        )
        self.dismiss = self._button("Dis&miss", "Dismiss", "Hide this message.", None)
        self.dismiss.clicked.connect(self.hide)

        layout = QHBoxLayout(self)
        layout.addWidget(self.message, 1)
        for button in (self.open_file, self.use_demo, self.retry, self.dismiss):
            layout.addWidget(button)
        self.hide()

    def _button(self, text: str, name: str, description: str, signal: Signal | None) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(name)
        button.setAccessibleDescription(description)
        button.setToolTip(description)
        button.installEventFilter(self._keys)
        if signal is not None:
            button.clicked.connect(signal.emit)
        return button

    def show_message(self, severity: str, text: str, offer_alternatives: bool = True) -> None:
        """Show ``text`` with its severity in words; ``offer_alternatives`` shows file/demo/retry."""
        self.severity = severity
        word = SEVERITY_WORDS.get(severity, "Note")
        message = f"{word}: {text}"
        if self.message.text() != message:  # a retrying source repeats itself: no new events then
            self.message.setText(message)
            self.message.setAccessibleName(message)
            self.setAccessibleDescription(message)
        for button in (self.open_file, self.use_demo, self.retry):
            button.setVisible(offer_alternatives)
        self.show()

    def text(self) -> str:
        return self.message.text()
