"""The page's run queue: every browser tab's comparison runs through one queue, no more
at once than the machine has workers.

A job is one ``treatsim compare`` command line, run as a child process in a new process
group (so cancelling it stops its worker processes too) with its output in a folder of
the page's own, ``<results>/runs/<key>/``. Its progress is read from the command's
progress lines (``NAME: 3/10 replications``, ``judgement checks: 4/20 runs``). A job
that finished is found again by its key: the same question is answered at once. A job
whose browser tabs have all closed is cancelled.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..io.outputs import atomic_file

PROGRESS = re.compile(r"^(?P<stage>.+): (?P<done>\d+)/(?P<total>\d+) (?:replications|runs)$")
DONE_FILE = "done.json"
LOG_FILE = "log.txt"
OUTPUT_FILE = "summary.txt"
"""What the command printed: the headline summary, as on the command line."""
GRACE_SECONDS = 5.0
"""How long a run waits for a closed tab to reconnect before it is cancelled (seconds)."""
KILL_AFTER = 5.0
"""Seconds a cancelled run has to stop on SIGTERM before its process group is killed."""
TAIL_LINES = 12
"""Lines of the command's messages kept to explain a failed run."""


@dataclasses.dataclass(kw_only=True)
class Job:
    """One comparison run for the page.

    :ivar units: the replications and runs the command is expected to make, for the
        progress bar (the count it reports wins when larger).
    :ivar owners: the browser sessions waiting for it.
    :ivar state: ``queued``, ``running``, ``done``, ``failed`` or ``cancelled``.
    :ivar stages: each progress stage's (done, total) as last reported.
    """

    key: str
    folder: Path
    argv: list[str]
    units: int
    owners: set[str] = dataclasses.field(default_factory=set)
    state: str = "queued"
    stages: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    queued_at: float = dataclasses.field(default_factory=time.monotonic)
    started_at: float | None = None
    seconds: float | None = None
    message: str = ""
    proc: subprocess.Popen[str] | None = dataclasses.field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        """Whether the job has stopped (done, failed or cancelled)."""
        return self.state in ("done", "failed", "cancelled")

    def fraction(self) -> float:
        """Share of the expected work done, 0 to 1."""
        done = sum(d for d, _ in self.stages.values())
        total = max(self.units, sum(t for _, t in self.stages.values()), 1)
        return 1.0 if self.state == "done" else min(done / total, 0.99)

    def seconds_left(self) -> float | None:
        """Estimated seconds to the answer, from the pace so far (None before the first
        replication has finished)."""
        f = self.fraction()
        if self.started_at is None or f <= 0 or self.finished:
            return None
        spent = time.monotonic() - self.started_at
        return spent * (1 - f) / f


class JobQueue:
    """Runs jobs one after another (``slots`` at a time), each on ``workers`` processes.

    :param alive: says whether a browser session is still open; a queued or running job
        none of whose owners has been open for ``grace_seconds`` is cancelled. None:
        never cancel on that ground.
    """

    def __init__(self, slots: int = 1, poll_seconds: float = 0.5,
                 alive: Callable[[str], bool] | None = None,
                 grace_seconds: float = GRACE_SECONDS) -> None:
        self.slots, self.poll, self.alive = slots, poll_seconds, alive
        self.grace = grace_seconds
        self._orphaned: dict[str, float] = {}
        self.jobs: dict[str, Job] = {}
        self.order: list[str] = []
        self.lock = threading.Lock()
        self.running_peak = 0
        self._thread = threading.Thread(target=self._loop, name="treatsim-jobs", daemon=True)
        self._thread.start()

    def submit(self, key: str, folder: Path, argv: list[str], units: int,
               owner: str | None = None) -> Job:
        """The job for ``key``: the one already queued, running or finished on disk
        (answered at once), or a new one queued behind the others."""
        with self.lock:
            job = self.jobs.get(key)
            gone = job is not None and job.state == "done" and not (folder / DONE_FILE).is_file()
            if job is None or gone or job.state in ("failed", "cancelled"):
                job = Job(key=key, folder=folder, argv=argv, units=units)
                if (folder / DONE_FILE).is_file():
                    job.state = "done"
                    job.seconds = _recorded_seconds(folder)
                self.jobs[key] = job
                self.order.append(key)
            if owner:
                job.owners.add(owner)
            return job

    def ahead(self, job: Job) -> int:
        """How many jobs will run before ``job`` starts (0 once it runs)."""
        with self.lock:
            if job.state != "queued":
                return 0
            waiting = [k for k in self.order if self.jobs[k].state in ("queued", "running")]
            return waiting.index(job.key) if job.key in waiting else 0

    def running(self) -> int:
        """Jobs running now."""
        return sum(j.state == "running" for j in self.jobs.values())

    def cancel(self, job: Job, why: str = "cancelled") -> None:
        """Stop ``job`` (and its worker processes) or take it off the queue."""
        with self.lock:
            if job.finished:
                return
            job.message = why
            if job.proc is not None and job.proc.poll() is None:
                _stop(job.proc)
            job.state = "cancelled"

    def _loop(self) -> None:
        while True:
            time.sleep(self.poll)
            self._drop_orphans()
            with self.lock:
                free = self.slots - self.running()
                todo = [self.jobs[k] for k in self.order if self.jobs[k].state == "queued"]
                for job in todo[:max(free, 0)]:
                    self._start(job)
                self.running_peak = max(self.running_peak, self.running())

    def _drop_orphans(self) -> None:
        """Cancel every waiting or running job whose browser tabs have all been closed
        for :attr:`grace` seconds (a tab that reconnects within it keeps its run)."""
        if self.alive is None:
            return
        now = time.monotonic()
        for job in list(self.jobs.values()):
            if job.finished or not job.owners or any(self.alive(o) for o in job.owners):
                self._orphaned.pop(job.key, None)
                continue
            since = self._orphaned.setdefault(job.key, now)
            if now - since >= self.grace:
                self.cancel(job, "cancelled: its browser tab was closed")

    def _start(self, job: Job) -> None:
        job.folder.mkdir(parents=True, exist_ok=True)
        (job.folder / DONE_FILE).unlink(missing_ok=True)
        job.state, job.started_at = "running", time.monotonic()
        with (job.folder / OUTPUT_FILE).open("w", encoding="utf-8") as printed:
            job.proc = subprocess.Popen(job.argv, stdout=printed, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, text=True, encoding="utf-8",
                                        errors="replace", start_new_session=True)
        threading.Thread(target=self._follow, args=(job,), daemon=True).start()

    def _follow(self, job: Job) -> None:
        """Read the job's progress lines until it ends, then record how it ended."""
        assert job.proc is not None and job.proc.stderr is not None
        tail: list[str] = []
        with (job.folder / LOG_FILE).open("w", encoding="utf-8") as log:
            for line in job.proc.stderr:
                log.write(line)
                m = PROGRESS.match(line.strip())
                if m:
                    job.stages[m["stage"]] = (int(m["done"]), int(m["total"]))
                else:
                    tail = [*tail, line.rstrip()][-TAIL_LINES:]
        code = job.proc.wait()
        with self.lock:
            job.seconds = time.monotonic() - (job.started_at or time.monotonic())
            if job.state == "cancelled":
                return
            if code == 0:
                atomic_file(job.folder / DONE_FILE, lambda tmp: tmp.write_text(json.dumps(
                    {"format": "treatsim app run", "argv": job.argv,
                     "seconds": round(job.seconds, 3)}, indent=2) + "\n", encoding="utf-8"))
                job.state = "done"
            else:
                job.state = "failed"
                job.message = "\n".join(t for t in tail if t) or f"exit code {code}"


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stop a job's process group: SIGTERM (the command keeps nothing half-written), then
    SIGKILL to whatever of the group is left after :data:`KILL_AFTER` seconds."""
    group = proc.pid  # the job runs in a session (and process group) of its own
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGTERM)

    def finish() -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(KILL_AFTER)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)

    threading.Thread(target=finish, daemon=True).start()


def _recorded_seconds(folder: Path) -> float | None:
    """The run time a finished job recorded, in seconds."""
    try:
        return float(json.loads((folder / DONE_FILE).read_text(encoding="utf-8"))["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
