"""The Qt side of the live pipeline: a QObject that owns a :class:`ferdesk.live.LiveRunner`.

The runner captures and analyses on its own plain threads and calls back on its processing thread.
This adapter turns those callbacks into something the GUI thread can use without ever waiting:

* results: the newest one is kept in a single slot (latest frame wins); the window's display timer
  takes it at screen rate. :attr:`resultReady` is emitted only when the slot goes from empty to
  full, so at most one such signal is ever queued, however fast frames arrive;
* status (camera lost, reconnected, source ended, errors): a queued Qt signal — rare by nature;
* a per-result hook (the announcer's policy update) runs on the processing thread, each call in
  its own try/except so one failure cannot stop the stream; the first failure is reported.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from ferdesk.vision.results import FrameResult

log = logging.getLogger(__name__)

RunnerFactory = Callable[..., Any]


def _default_runner_factory(*args: Any, **kwargs: Any) -> Any:
    from ferdesk.live import LiveRunner

    return LiveRunner(*args, **kwargs)


class LiveWorker(QObject):
    """Starts, stops and listens to one live runner; lives in (and is used from) the GUI thread."""

    #: The result slot went from empty to full (call :meth:`take_latest`).
    resultReady = Signal()
    #: (kind, message): kind is info, warning, error, connected, disconnected or ended.
    statusChanged = Signal(str, str)

    def __init__(
        self,
        source_spec: str,
        analyzer_factory: Callable[[], Any],
        *,
        mirror: bool = False,
        user_facing_camera: bool = False,
        loop: bool = True,
        on_result: Callable[[FrameResult], None] | None = None,
        runner_factory: RunnerFactory | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.source_spec = source_spec
        self._analyzer_factory = analyzer_factory
        self._mirror = mirror
        self._user_facing_camera = user_facing_camera
        self._loop = loop
        self._on_result_hook = on_result
        self._runner_factory = runner_factory or _default_runner_factory
        self._runner: Any | None = None
        self._lock = threading.Lock()
        self._latest: FrameResult | None = None
        self._hook_failed = False
        self.results_received = 0
        #: Set when the analyzer could not be created (bad model or detector): nothing will run.
        self.analysis_error: BaseException | None = None

    # -- control (GUI thread) ----------------------------------------------------------------------
    def start(self) -> bool:
        """Create and start the runner; a failure is reported through :attr:`statusChanged`."""
        if self.is_running():
            return True
        try:
            self._runner = self._runner_factory(
                self.source_spec,
                self._make_analyzer,
                on_result=self._on_result,
                on_status=self._on_status,
                mirror=self._mirror,
                user_facing_camera=self._user_facing_camera,
                loop=self._loop,
            )
            self._runner.start()
        except Exception as error:  # reported to the user, never a traceback
            log.exception("live runner failed to start")
            self._runner = None
            self.statusChanged.emit("error", f"Could not start {self.source_spec!r}: {error}")
            return False
        return True

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the runner and wait up to ``timeout`` seconds; False if its threads still run."""
        runner, self._runner = self._runner, None
        if runner is None:
            return True
        try:
            runner.stop(timeout=timeout)
        except RuntimeError as error:  # a thread is stuck in a camera read or an analysis step
            log.error("%s", error)
        return not runner.is_running()

    def is_running(self) -> bool:
        return self._runner is not None and bool(self._runner.is_running())

    @property
    def runner(self) -> Any | None:
        return self._runner

    @property
    def stats(self) -> Any | None:
        return None if self._runner is None else self._runner.stats

    @property
    def source_name(self) -> str | None:
        """The open source's own name ("Camera 0 (640x480)"), None until it has opened."""
        return None if self._runner is None else getattr(self._runner, "source_name", None)

    def set_mirror(self, mirror: bool) -> None:
        """Flip the picture from the next frame on (the runner applies it while running)."""
        self._mirror = mirror
        if self._runner is not None:
            self._runner.set_mirror(mirror)

    def set_user_facing_camera(self, user_facing_camera: bool) -> None:
        """Whether the camera looks at the user (swaps the announced left and right)."""
        self._user_facing_camera = user_facing_camera
        if self._runner is not None:
            self._runner.set_user_facing_camera(user_facing_camera)

    def take_latest(self) -> FrameResult | None:
        """The newest result not yet taken, or None; results in between were simply overwritten."""
        with self._lock:
            result, self._latest = self._latest, None
        return result

    # -- callbacks (processing thread) ------------------------------------------------------------
    def _make_analyzer(self) -> Any:
        try:
            return self._analyzer_factory()
        except Exception as error:
            self.analysis_error = error  # read by the window with the "error" status that follows
            raise

    def _on_result(self, result: FrameResult) -> None:
        with self._lock:
            was_empty = self._latest is None
            self._latest = result
            self.results_received += 1
        if self._on_result_hook is not None:
            try:
                self._on_result_hook(result)
            except Exception as error:  # one bad frame must not stop the stream
                log.exception("result hook failed")
                if not self._hook_failed:
                    self._hook_failed = True
                    self.statusChanged.emit("warning", f"Announcements failed for a frame: {error}")
        if was_empty:
            self.resultReady.emit()

    def _on_status(self, kind: str, message: str) -> None:
        self.statusChanged.emit(str(kind), str(message))
