"""``--engine ray``: each input is one Ray task; each worker process loads the models once.

The only module of ferdesk that imports Ray (``pip install 'ferdesk[cluster]'``), and only when
``--engine ray`` is asked for. A task runs the very same :meth:`VideoAnalyzer.analyze_input` as the
local engine and sends the records back; the driver writes every file (see
:mod:`ferdesk.analysis.runner`), so the tables are byte-for-byte those of ``--engine local``.

* Models: a worker process keeps one :class:`VideoAnalyzer` per set of options (a per-process
  cache), so a worker that analyses a hundred inputs loads the detector and classifier once.
* Failures: a bad input comes back as an outcome with its one-line reason; a worker that dies
  (a decoder crash) is retried once by Ray and then reported for that input only — the other
  inputs go on.
* Cluster: ``--address`` joins a running cluster (``ray start --head`` and workers, see
  ``docs/cluster.md``); without it a local one is started with ``--workers`` CPUs (default:
  every core) and shut down at the end. Inputs must be readable at the same path on every node
  (a shared or copied folder); outputs are written by the driver only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ferdesk.analysis.analyzer import AnalysisInput, AnalysisOptions, InputOutcome, VideoAnalyzer
from ferdesk.analysis.runner import Decision

if TYPE_CHECKING:  # Ray is imported only when --engine ray runs
    from ray import ObjectRef

#: This process's analyzers (one per options) and how many times models were loaded here.
_ANALYZERS: dict[AnalysisOptions, VideoAnalyzer] = {}
_MODEL_LOADS = 0


def _cached_analyzer(options: AnalysisOptions) -> VideoAnalyzer:
    global _MODEL_LOADS
    analyzer = _ANALYZERS.get(options)
    if analyzer is None:
        analyzer = VideoAnalyzer(options)
        _ANALYZERS[options] = analyzer
        _MODEL_LOADS += 1
    return analyzer


def analyze_in_worker(item: AnalysisInput, options: AnalysisOptions) -> InputOutcome:
    """The task body: one input with this process's cached models (runs in a Ray worker)."""
    try:
        analyzer = _cached_analyzer(options)
    except Exception as error:  # the models load on the driver; a node may still lack them
        return InputOutcome(
            input=item,
            error=f"{item.path}: the models could not be loaded on Ray worker pid {os.getpid()} ({error}).",
        )
    outcome = analyzer.analyze_input(item)
    outcome.worker = f"pid {os.getpid()}"
    outcome.model_loads = _MODEL_LOADS
    return outcome


def check_models(options: AnalysisOptions) -> None:
    """Load the emotion model and find the detector on the driver: a model error is exit 2, at once."""
    from ferdesk.vision.classifier import EmotionClassifier
    from ferdesk.vision.detector import DetectorError, detector_path

    if options.accurate:
        from ferdesk.vision.ensemble import EnsembleClassifier

        EnsembleClassifier.from_manifest()
    else:
        EmotionClassifier(options.model)
    path = detector_path(options.detector)
    if not path.is_file():
        raise DetectorError(f"Face detector model not found: {path}. Reinstall ferdesk, or pass --detector.")


class RayEngine:
    """Runs the decisions' inputs as Ray tasks and yields their outcomes as they finish."""

    def __init__(
        self,
        options: AnalysisOptions,
        *,
        address: str | None = None,
        workers: int | None = None,
        progress: bool = True,
    ) -> None:
        self.options = options
        self.address = address
        self.workers = workers
        self.progress = progress
        self._started_ray = False

    def _connect(self) -> None:
        import ray

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves the machine unasked
        if ray.is_initialized():
            return
        # Spelled out rather than splatted from a dict, so that each argument is checked against
        # ray.init's signature; joining a cluster takes no dashboard setting (the head owns it).
        if self.address:
            ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(
                num_cpus=self.workers or os.cpu_count() or 1,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
        self._started_ray = True  # ours to shut down (a cluster we joined keeps running)

    def __call__(self, decisions: list[Decision]) -> Iterator[InputOutcome]:
        if not decisions:
            return
        import ray

        from ferdesk.analysis.engines import ProgressBars

        self._connect()
        task = ray.remote(num_cpus=1, max_retries=1)(analyze_in_worker)
        limit = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        bars = ProgressBars(decisions, enabled=self.progress)
        waiting = list(decisions)
        running: dict[ObjectRef[InputOutcome], Decision] = {}
        try:
            while waiting or running:
                while waiting and len(running) < limit:
                    decision = waiting.pop(0)
                    running[task.remote(decision.planned.input, self.options)] = decision
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    decision = running.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except Exception as error:  # the worker died (twice) or Ray failed
                        reason = " ".join(str(error).split())[:300]
                        path = decision.planned.input.path
                        outcome = InputOutcome(
                            input=decision.planned.input,
                            error=f"{path}: the Ray task failed ({type(error).__name__}: {reason}).",
                        )
                    bars.add_finished(outcome)
                    yield outcome
        finally:
            bars.close()
            for ref in running:
                with contextlib.suppress(Exception):  # a task that finished meanwhile
                    ray.cancel(ref)

    def close(self) -> None:
        """Stop the local cluster we started, or leave the one we joined; Ray set up by the caller stays."""
        if not self._started_ray or "ray" not in sys.modules:
            return
        import ray

        if ray.is_initialized():
            ray.shutdown()
        self._started_ray = False
