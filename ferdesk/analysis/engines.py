"""The local engine (this process, one input after another) and the progress bars both engines use.

The Ray engine lives in :mod:`ferdesk.analysis.ray_engine` and is imported only for
``--engine ray``: the app and the local engine never import Ray.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from ferdesk.analysis.analyzer import InputOutcome, VideoAnalyzer, expected_frames
from ferdesk.analysis.runner import Decision


class ProgressBars:
    """An overall bar (every input's frames) and one bar for the input being analysed, in frames/s."""

    def __init__(self, decisions: list[Decision], enabled: bool = True) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.enabled = enabled
        self.expected = {d.planned.input: expected_frames(d.planned.input) for d in decisions}
        known = [n for n in self.expected.values() if n]
        total = sum(known) if len(known) == len(self.expected) and known else None
        self.overall = tqdm(
            total=total,
            unit="frame",
            desc=f"{len(decisions)} input{'s' if len(decisions) != 1 else ''}",
            file=sys.stderr,
            disable=not enabled,
            position=0,
            dynamic_ncols=True,
        )
        self.current = None
        self._seen = 0

    def start_input(self, decision: Decision) -> None:
        self.close_input()
        item = decision.planned.input
        self.current = self._tqdm(
            total=self.expected.get(item),
            unit="frame",
            desc=decision.planned.name,
            file=sys.stderr,
            disable=not self.enabled,
            position=1,
            leave=False,
            dynamic_ncols=True,
        )
        self._seen = 0

    def frames(self, frames_read: int) -> None:
        """Called with the running count of frames read from the current input."""
        delta = frames_read - self._seen
        if delta > 0:
            self._seen = frames_read
            if self.current is not None:
                self.current.update(delta)
            self.overall.update(delta)

    def add_finished(self, outcome: InputOutcome) -> None:
        """An input finished elsewhere (the Ray engine): count its frames at once."""
        self.overall.update(outcome.frames_read)

    def close_input(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None

    def close(self) -> None:
        self.close_input()
        self.overall.close()


def local_engine(analyzer: VideoAnalyzer, progress: bool = True):
    """Analyse the inputs one after another in this process, with the models loaded once."""

    def run(decisions: list[Decision]) -> Iterator[InputOutcome]:
        if not decisions:
            return
        bars = ProgressBars(decisions, enabled=progress)
        try:
            for decision in decisions:
                bars.start_input(decision)
                outcome = analyzer.analyze_input(decision.planned.input, on_frame=bars.frames)
                bars.close_input()
                yield outcome
        finally:
            bars.close()

    return run
