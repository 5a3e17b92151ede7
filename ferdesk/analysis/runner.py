"""One ``ferdesk analyze`` run: decide what to do per input, run an engine, write, summarise.

The engines only analyse (:class:`~ferdesk.analysis.analyzer.InputOutcome` per input); every file
is written here, in the driving process, by one code path — which is why the local and the Ray
engine give byte-for-byte the same tables.

Per input, before anything runs (:func:`decide`):

* a complete manifest whose input (size, mtime) and options are unchanged, with its outputs in
  place → **skip**;
* no manifest and no outputs → **analyse**; a manifest saying ``"complete": false`` (an earlier run
  was interrupted or failed) → **redo**;
* outputs that ferdesk did not record (no manifest), or a complete analysis of a changed input or
  with other options → **refuse** without ``--force``: nothing is overwritten unasked.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ferdesk.analysis.analyzer import AnalysisInput, AnalysisOptions, InputOutcome
from ferdesk.analysis.inputs import PlannedInput
from ferdesk.analysis.summary import SUMMARY_FILE, SummarySource, is_our_summary, summary_text
from ferdesk.analysis.writers import (
    OutputError,
    atomic_write_bytes,
    manifest_path,
    read_manifest,
    read_table,
    table_bytes,
    write_manifest,
)


def table_path(planned: PlannedInput, fmt: str) -> Path:
    return planned.out_dir / f"{planned.name}.{fmt}"


def timeline_path(planned: PlannedInput) -> Path:
    return planned.out_dir / f"{planned.name}_timeline.png"


def input_identity(item: AnalysisInput) -> dict:
    """What says "the input has not changed": size and mtime (for a folder: of its images)."""
    path = Path(item.path)
    if item.kind == "images":
        from ferdesk.capture.sources import list_images

        files = list_images(path)
        stats = [f.stat() for f in files]
        return {
            "path": str(path.resolve()),
            "kind": "images",
            "count": len(files),
            "size": sum(s.st_size for s in stats),
            "mtime_ns": max((s.st_mtime_ns for s in stats), default=0),
        }
    stat = path.stat()
    return {"path": str(path.resolve()), "kind": "video", "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


@dataclass
class Decision:
    planned: PlannedInput
    action: str  # "analyse", "redo", "skip", "refuse"
    reason: str = ""
    identity: dict = field(default_factory=dict)
    manifest: dict | None = None


def decide(planned: PlannedInput, options: AnalysisOptions, fmt: str, force: bool) -> Decision:
    """What to do with one input (see the module notes)."""
    try:
        identity = input_identity(planned.input)
    except OSError as error:
        return Decision(
            planned, "refuse", f"{planned.input.path}: cannot be read ({error.strerror or error})."
        )
    manifest_file = manifest_path(planned.out_dir, planned.name)
    outputs = [table_path(planned, fmt), timeline_path(planned)]
    manifest = read_manifest(manifest_file)
    if force:
        return Decision(
            planned,
            "redo" if manifest or any(p.exists() for p in outputs) else "analyse",
            identity=identity,
            manifest=manifest,
        )
    if manifest is None:
        existing = [p for p in [*outputs, manifest_file] if p.exists()]
        if existing:
            return Decision(
                planned,
                "refuse",
                f"{existing[0]} already exists and is not the record of a ferdesk analysis of "
                f"{planned.input.path}; pass --force to overwrite it, or --out DIR to write elsewhere.",
            )
        return Decision(planned, "analyse", identity=identity)
    if not manifest.get("complete"):
        return Decision(planned, "redo", "an earlier run did not finish", identity, manifest)
    same_input = manifest.get("input") == identity
    same_options = manifest.get("options") == options.identity() and manifest.get("output_format") == fmt
    if same_input and same_options and all(p.exists() for p in outputs):
        return Decision(planned, "skip", "unchanged since its complete analysis", identity, manifest)
    if same_input and same_options:
        return Decision(planned, "redo", "some of its outputs are missing", identity, manifest)
    what = "the input changed" if not same_input else "it was analysed with other options or format"
    return Decision(
        planned,
        "refuse",
        f"{planned.input.path}: {what} since {manifest_file.name} was written; pass --force to analyse "
        "it again and overwrite its outputs.",
    )


def _write_manifest_of(
    decision: Decision, options: AnalysisOptions, fmt: str, *, complete: bool, **fields: object
) -> None:
    """The manifest beside the outputs: what was analysed, how, and whether it finished."""
    planned = decision.planned
    write_manifest(
        manifest_path(planned.out_dir, planned.name),
        {
            "complete": complete,
            "input": decision.identity,
            "options": options.identity(),
            "output_format": fmt,
            "name": planned.name,
            **fields,
        },
    )


def start_manifest(decision: Decision, options: AnalysisOptions, fmt: str) -> None:
    """Mark the outputs as being written (``"complete": false``) before the analysis starts."""
    _write_manifest_of(decision, options, fmt, complete=False)


def write_outputs(
    decision: Decision, outcome: InputOutcome, options: AnalysisOptions, fmt: str
) -> list[Path]:
    """Write the table, the timeline and the complete manifest (in that order); the paths written."""
    from ferdesk import __version__
    from ferdesk.analysis.plots import timeline_png

    planned = decision.planned
    table = table_path(planned, fmt)
    timeline = timeline_path(planned)
    atomic_write_bytes(table, table_bytes(outcome.records, outcome.labels, fmt))
    atomic_write_bytes(timeline, timeline_png(outcome.records, outcome.labels, Path(planned.input.path).name))
    _write_manifest_of(
        decision,
        options,
        fmt,
        complete=True,
        labels=list(outcome.labels),
        fps=outcome.fps,
        sample_period_s=outcome.sample_period_s,
        frames_read=outcome.frames_read,
        frames_analysed=outcome.frames_analysed,
        rows=len(outcome.records),
        tracks=len({r.track_id for r in outcome.records}),
        outputs=[table.name, timeline.name],
        ferdesk_version=__version__,
    )
    return [table, timeline]


def fail_manifest(decision: Decision, options: AnalysisOptions, fmt: str, reason: str) -> None:
    """Record why the input failed; the next run redoes it (the outputs are not complete)."""
    _write_manifest_of(decision, options, fmt, complete=False, error=reason)


@dataclass
class RunReport:
    """What a run did; ``exit_code`` follows the contract (0 all read, 1 some failed)."""

    analysed: list[tuple[PlannedInput, InputOutcome]] = field(default_factory=list)
    skipped: list[PlannedInput] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    summary: Path | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0


#: An engine takes the decisions to run and yields each input's outcome as it is done.
Engine = Callable[[list[Decision]], Iterator[InputOutcome]]


def say(message: str, stream=None) -> None:
    """One line to the terminal without breaking the progress bars."""
    from tqdm import tqdm

    tqdm.write(message, file=stream or sys.stderr)


def run_analysis(
    planned: list[PlannedInput],
    engine: Engine,
    options: AnalysisOptions,
    fmt: str,
    force: bool,
    summary_folder: Path,
    report: RunReport,
) -> RunReport:
    """Decide, analyse what must be, write each input's outputs as it finishes, then the summary."""
    decisions = [decide(p, options, fmt, force) for p in planned]
    to_run: list[Decision] = []
    summary_sources: dict[int, SummarySource] = {}
    for index, decision in enumerate(decisions):
        if decision.action == "refuse":
            report.failures.append(decision.reason)
            say(f"ferdesk analyze: {decision.reason}")
        elif decision.action == "skip":
            try:
                labels, records = read_table(table_path(decision.planned, fmt))
            except (OSError, OutputError, ValueError, KeyError, ImportError):
                decision.action = "redo"  # the table is unreadable after all: analyse again
            else:
                report.skipped.append(decision.planned)
                say(f"{decision.planned.input.path}: {decision.reason}; skipped (--force analyses it again).")
                summary_sources[index] = SummarySource(
                    decision.planned.input.path,
                    decision.planned.name,
                    labels,
                    float((decision.manifest or {}).get("sample_period_s") or 0.0),
                    records,
                )
                continue
        if decision.action in ("analyse", "redo"):
            try:
                start_manifest(decision, options, fmt)
            except OSError as error:
                report.failures.append(f"{decision.planned.out_dir}: cannot write there ({error}).")
                say(f"ferdesk analyze: {report.failures[-1]}")
                continue
            to_run.append(decision)
    # Outcomes from another process carry a copy of their input: equal, not identical.
    by_input = {d.planned.input: (i, d) for i, d in enumerate(decisions)}
    for outcome in engine(to_run):
        index, decision = by_input[outcome.input]
        if outcome.error is not None:  # i.e. not outcome.ok, said so that the type narrows to str
            report.failures.append(outcome.error)
            say(f"ferdesk analyze: {outcome.error}")
            with contextlib.suppress(OSError):  # the failure is said; the manifest is a courtesy
                fail_manifest(decision, options, fmt, outcome.error)
            continue
        try:
            written = write_outputs(decision, outcome, options, fmt)
        except OSError as error:
            reason = f"{decision.planned.input.path}: its outputs could not be written ({error})."
            report.failures.append(reason)
            say(f"ferdesk analyze: {reason}")
            continue
        report.analysed.append((decision.planned, outcome))
        tracks = len({r.track_id for r in outcome.records})
        say(
            f"{decision.planned.input.path}: {outcome.frames_analysed} frames analysed, "
            f"{tracks} {'person' if tracks == 1 else 'people'} -> {written[0]}",
            sys.stdout,
        )
        for warning in outcome.warnings[:3]:
            say(f"ferdesk analyze: warning: {warning}")
        if outcome.skipped_frames:
            count = outcome.skipped_frames
            were = "frames were" if count != 1 else "frame was"
            say(f"{decision.planned.input.path}: {count} unreadable {were} skipped.")
        summary_sources[index] = SummarySource(
            decision.planned.input.path,
            decision.planned.name,
            outcome.labels,
            outcome.sample_period_s,
            outcome.records,
        )
    if summary_sources:
        _write_summary(summary_folder, [summary_sources[i] for i in sorted(summary_sources)], force, report)
    return report


def _write_summary(folder: Path, sources: list[SummarySource], force: bool, report: RunReport) -> None:
    path = folder / SUMMARY_FILE
    if path.exists() and not force:
        try:
            with path.open(encoding="utf-8") as stream:
                start = stream.readline()
        except (OSError, UnicodeDecodeError):
            start = ""
        if not is_our_summary(start):
            reason = (
                f"{path} exists and is not a ferdesk summary; pass --force to overwrite it, or --out DIR."
            )
            report.failures.append(reason)
            say(f"ferdesk analyze: {reason}")
            return
    try:
        atomic_write_bytes(path, summary_text(sources).encode("utf-8"))
    except OSError as error:
        report.failures.append(f"{path}: the summary could not be written ({error}).")
        say(f"ferdesk analyze: {report.failures[-1]}")
        return
    report.summary = path
