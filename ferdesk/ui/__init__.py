"""ferdesk's desktop window (PySide6): shows, forwards and speaks; all analysis lives outside ``ui``.

Import :func:`ferdesk.ui.app.main` to run the app; the modules here are the only place in ferdesk
that imports Qt.
"""
