"""What a run shows while it works: one view per output style, fed by Dagster's own events.

The CLI registers `RunView.on_event` as a listener on the Dagster instance for its run
(`DagsterInstance.add_event_listener`), so each step start, materialization, failed check
and step failure reaches the view as it happens. Downloads report their bytes through
`download_progress`, called by the fetcher while it streams (pipelines/fetch.py); with no
view installed that call does nothing.

Views write to stderr only: stdout keeps the run summary (and nothing else under --json).
While a run is shown they write to a duplicate of the process's stderr taken when the view
opens (`original_stderr`): Dagster captures a run's output for its compute logs by pointing
file descriptor 2 at a file and copying that file back with a `tail` process, which may stop
before it copied the last lines, so a progress line written through it (the last step's) can
be lost. The duplicate still points at the terminal or the pipe.

- `LiveView` (rich): a bar over the run's assets, a line per running step, bytes per download.
- `LineView`: one plain line per finished step or download, for logs and CI.
- `QuietView`: errors only (for cron).
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from pipelines.redact import redact_text


def escape(text: str) -> str:
    """`text` safe inside rich markup (error messages may hold [brackets])."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


DownloadListener = Callable[[str, int, int | None], None]
_download_listener: DownloadListener | None = None

STAGES = {
    "raw": "download",
    "meta": "meta",
    "staging": "stage",
    "indicators": "indicator",
    "trends": "trends",
    "warehouse": "publish",
}


def download_progress(dataset: str, done: int, total: int | None) -> None:
    """Bytes received so far by the download of `dataset` (`total` when known)."""
    if _download_listener is not None:
        _download_listener(dataset, done, total)


def set_download_listener(listener: DownloadListener | None) -> None:
    global _download_listener
    _download_listener = listener


def step_label(step_key: str) -> str:
    """`staging__eurostat_crim_off_cat` -> `stage eurostat_crim_off_cat`."""
    layer, _, name = step_key.partition("__")
    if layer == "warehouse":
        return "publish"
    return f"{STAGES.get(layer, layer)} {name.replace('__', '/')}".strip()


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def original_stderr() -> TextIO | None:
    """A text stream on a duplicate of file descriptor 2 as it points now (None when stderr
    has no descriptor, e.g. a test's captured stream)."""
    try:
        fd = os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    return os.fdopen(
        fd,
        "w",
        buffering=1,
        encoding=sys.stderr.encoding or "utf-8",
        errors=sys.stderr.errors or "backslashreplace",
    )


class RunView:
    """Turns Dagster events into calls of the hooks below; subclasses show them."""

    def __init__(self, total_assets: int, stream: TextIO | None = None):
        self.total = total_assets
        self.done = 0
        self.stream = stream or sys.stderr
        self._default_stream = stream is None
        self._duplicate: TextIO | None = None  # original_stderr() while the view is open
        self._started: dict[str, float] = {}
        self._planned: list[str] = []
        self._ran: set[str] = set()
        self._broken = False
        self._materialized: set[str] = set()
        self._checks: dict[str, list[str]] = {}  # step -> "check asset" it evaluated
        self._warnings: dict[str, list[str]] = {}  # step -> its failed non-blocking checks
        self._notes: dict[str, str] = {}  # step -> what it observed (meta/build: nothing changed)
        self._skipped: list[str] = []  # steps skipped: their upstream built nothing

    def __enter__(self) -> RunView:
        if self._default_stream:
            self._duplicate = original_stderr()
            self.stream = self._duplicate or sys.stderr
        set_download_listener(self.download)
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        set_download_listener(None)
        if self._skipped:
            self.skipped(self._skipped)
        not_run = [s for s in self._planned if s not in self._ran and s not in self._skipped]
        if not_run:
            self.not_run(not_run)
        self.close()
        if self._duplicate is not None:
            self._duplicate.close()
            self._duplicate = None
            self.stream = sys.stderr

    def on_event(self, entry: Any) -> None:
        """Called by Dagster for each event of the run, in the run's thread: a display
        that breaks stops displaying, and never stops the run."""
        if self._broken:
            return
        try:
            self._handle(entry)
        except Exception as exc:  # noqa: BLE001
            self._broken = True
            print(f"note: progress display stopped: {type(exc).__name__}: {exc}", file=sys.stderr)

    def _handle(self, entry: Any) -> None:
        event = entry.dagster_event
        if event is None:
            return
        kind, step = event.event_type_value, event.step_key or ""
        if kind == "STEP_START":
            self._ran.add(step)
            self._started[step] = time.monotonic()
            self.step_started(step)
        elif kind == "STEP_SUCCESS":
            warnings = self._warnings.pop(step, [])
            notes = [self._notes.pop(step)] if step in self._notes else []
            note = "; ".join(notes + [f"warning: {w}" for w in warnings])
            self.step_finished(step, self._elapsed(step), ok=True, note=note)
        elif kind == "STEP_FAILURE":
            error = event.step_failure_data.error if event.step_failure_data else None
            error = error.cause if error and error.cause else error  # the user code's own
            note = error.message.strip().splitlines()[0] if error and error.message else ""
            self.step_finished(step, self._elapsed(step), ok=False, note=redact_text(note))
        elif kind == "STEP_SKIPPED":
            self._skipped.append(step)
        elif kind == "ASSET_OBSERVATION":
            from pipelines.nochange import MESSAGE_KEY

            metadata = event.asset_observation_data.asset_observation.metadata
            if MESSAGE_KEY in metadata:
                self._notes[step] = redact_text(str(metadata[MESSAGE_KEY].value))
        elif kind == "ASSET_MATERIALIZATION_PLANNED" and step not in self._planned:
            self._planned.append(step)
        elif kind == "ASSET_MATERIALIZATION":
            self._materialized.add(step)
            self.done += 1
            self.advanced()
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            self._checks.setdefault(step, []).append(
                f"{evaluation.check_name} {evaluation.asset_key.to_user_string()}"
            )
            first_line = (evaluation.description or "").strip().splitlines()[:1]
            if not evaluation.passed and evaluation.severity.value != "ERROR":
                self._warnings.setdefault(step, []).append(redact_text("".join(first_line)))
            if not evaluation.passed and evaluation.severity.value == "ERROR":
                self.error(
                    f"gate failed on {evaluation.asset_key.to_user_string()}: "
                    + redact_text("".join(first_line))
                )

    def label(self, step: str) -> str:
        """What a step did: `stage eurostat_x`, or, for a step of checks alone (such as a
        freshness check), `check freshness_check staging/eurostat_x`."""
        if step in self._checks and step not in self._materialized:
            return "check " + ", ".join(self._checks[step])
        return step_label(step)

    def _elapsed(self, step: str) -> float:
        started = self._started.pop(step, None)
        return time.monotonic() - started if started is not None else 0.0

    # hooks -----------------------------------------------------------------------------
    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def step_started(self, step: str) -> None:
        pass

    def step_finished(self, step: str, seconds: float, *, ok: bool, note: str) -> None:
        pass

    def advanced(self) -> None:
        pass

    def not_run(self, steps: list[str]) -> None:
        """Steps the run never started: an upstream step or blocking gate failed."""

    def skipped(self, steps: list[str]) -> None:
        """Steps Dagster skipped: their upstream built nothing (nothing changed)."""

    def download(self, dataset: str, done: int, total: int | None) -> None:
        pass

    def note(self, message: str) -> None:
        """What the CLI says outside Dagster's events (its check before a run)."""

    def error(self, message: str) -> None:
        print(f"error: {message}", file=self.stream, flush=True)


class QuietView(RunView):
    """Errors only: a failed step or gate, one line each."""

    def step_finished(self, step: str, seconds: float, *, ok: bool, note: str) -> None:
        if not ok:
            self.error(f"{self.label(step)} failed: {note}")


class LineView(RunView):
    """One line per finished step (with the files and bytes it downloaded): for CI logs."""

    def __init__(self, total_assets: int, stream: TextIO | None = None):
        super().__init__(total_assets, stream)
        self._files: list[int] = []

    def step_started(self, step: str) -> None:
        self._files = []

    def download(self, dataset: str, done: int, total: int | None) -> None:
        if total is not None and done >= total:
            self._files.append(done)

    def step_finished(self, step: str, seconds: float, *, ok: bool, note: str) -> None:
        verdict = "ok" if ok else "FAILED"
        if self._files:
            files = len(self._files)
            got = f"{files} file{'s' if files > 1 else ''}, {human_bytes(sum(self._files))}"
            note = f"{got}; {note}" if note else got
        print(
            f"[{self.done}/{self.total}] {self.label(step)}: {verdict} ({seconds:.1f} s)"
            + (f": {note}" if note else ""),
            file=self.stream,
            flush=True,
        )

    def not_run(self, steps: list[str]) -> None:
        print(
            f"not run (an upstream step or gate failed): {', '.join(map(self.label, steps))}",
            file=self.stream,
            flush=True,
        )

    def skipped(self, steps: list[str]) -> None:
        print(skipped_line(steps), file=self.stream, flush=True)

    def note(self, message: str) -> None:
        print(redact_text(message), file=self.stream, flush=True)


class LiveView(RunView):
    """rich: an overall bar, a spinner per running step, a bytes bar per download."""

    def open(self) -> None:
        from rich.console import Console, Group
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TransferSpeedColumn,
        )

        self.console = Console(file=self.stream, force_terminal=True)
        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.bytes = Progress(
            TextColumn("  {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=self.console,
            transient=True,
        )
        self.overall = self.bar.add_task("assets", total=self.total)
        self.steps: dict[str, Any] = {}
        self.downloads: dict[str, Any] = {}
        self.live = Live(
            Group(self.bar, self.bytes), console=self.console, transient=True, refresh_per_second=8
        )
        self.live.start()

    def close(self) -> None:
        self.live.stop()

    def step_started(self, step: str) -> None:
        self.steps[step] = self.bar.add_task(escape(self.label(step)), total=None)

    def step_finished(self, step: str, seconds: float, *, ok: bool, note: str) -> None:
        task = self.steps.pop(step, None)
        if task is not None:
            self.bar.remove_task(task)
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        self.console.print(
            f"{mark} {escape(self.label(step))} [dim]{seconds:.1f} s[/]"
            + (f"  {escape(note)}" if note else ""),
            markup=True,
            highlight=False,
        )

    def advanced(self) -> None:
        self.bar.update(self.overall, completed=self.done)

    def not_run(self, steps: list[str]) -> None:
        self.console.print(
            f"[yellow]-[/] not run (an upstream step or gate failed): "
            f"{escape(', '.join(map(self.label, steps)))}",
            markup=True,
            highlight=False,
        )

    def skipped(self, steps: list[str]) -> None:
        self.console.print(f"[dim]- {escape(skipped_line(steps))}[/]", highlight=False)

    def download(self, dataset: str, done: int, total: int | None) -> None:
        task = self.downloads.get(dataset)
        if task is None:
            task = self.downloads[dataset] = self.bytes.add_task(escape(dataset), total=total)
        self.bytes.update(task, completed=done, total=total)
        if total is not None and done >= total:
            self.bytes.remove_task(task)
            del self.downloads[dataset]
            self.console.print(
                f"  [dim]downloaded {escape(dataset)}: {human_bytes(done)}[/]", highlight=False
            )

    def error(self, message: str) -> None:
        self.console.print(f"[red]error:[/] {escape(message)}", markup=True, highlight=False)

    def note(self, message: str) -> None:  # before the live display opens, or without one
        print(redact_text(message), file=self.stream, flush=True)


def skipped_line(steps: list[str]) -> str:
    """`skipped, nothing to build: 41 steps (13 stage, 13 check, ...)`."""
    layers: dict[str, int] = {}
    for step in steps:
        word = "check" if step.startswith("freshness_check") else step_label(step).split()[0]
        layers[word] = layers.get(word, 0) + 1
    kinds = ", ".join(f"{n} {word}" for word, n in layers.items())
    return f"skipped, nothing to build: {len(steps)} steps ({kinds})"


def choose_view(total_assets: int, *, quiet: bool, force: bool) -> RunView:
    """rich when stderr is a terminal (or --progress), plain lines otherwise, errors only
    with --quiet."""
    if quiet:
        return QuietView(total_assets)
    if force or sys.stderr.isatty():
        return LiveView(total_assets)
    return LineView(total_assets)
