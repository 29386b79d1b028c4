"""Jobs: long work in a bounded worker pool, with progress, partial results and private temp folders.

A job is created by the server with a random token as its id (``secrets.token_urlsafe``),
so no part of a request ever names a file: uploads are written into a temporary
folder that belongs to the job and is removed when the job ends, whatever happens;
results (JSON and the bytes of downloadable files) stay in memory until the job
expires (:data:`JOB_TTL_S`) or the store is full (the oldest finished jobs go first).

The pool has ``workers`` threads. Torch and numpy release the GIL in their kernels,
so two uploads are analysed at once on two cores, and the models are shared (loaded
once, used read-only). When more than ``max_queued`` jobs wait, new ones are
refused (:class:`Busy`) instead of piling up.
"""
from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.errors import TunesmithError

log = logging.getLogger(__name__)

JOB_TTL_S = 3600.0        # a finished job (and its files) is kept this long
MAX_JOBS = 200            # jobs kept in memory at most (oldest finished dropped first)
MAX_QUEUED = 32           # jobs waiting or running at most; more are refused with 503
TOKEN_BYTES = 16          # job ids: 128 random bits


class Busy(Exception):
    """Too many jobs are waiting; the client should retry later."""


@dataclass
class Job:
    id: str
    kind: str
    created: float = field(default_factory=time.time)
    status: str = "queued"            # queued, running, done, error
    progress: float = 0.0
    stage: str = "waiting for a worker"
    result: dict | None = None
    error: str | None = None
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    finished: float | None = None
    objects: dict[str, object] = field(default_factory=dict)   # server-side only (e.g. the NoteSequence)
    future: Future | None = None

    def public(self, base_url: str = "") -> dict:
        """What ``GET /api/jobs/{id}`` answers: state, progress, the result so far and file URLs."""
        return {"id": self.id, "kind": self.kind, "status": self.status, "progress": round(self.progress, 3),
                "stage": self.stage, "error": self.error, "result": self.result,
                "files": {name: f"{base_url}/api/jobs/{self.id}/files/{name}" for name in sorted(self.files)}}


class JobContext:
    """Handed to the work function: progress, partial results, attached files, a private folder."""

    def __init__(self, job: Job, workdir: Path, models, lock: threading.Lock):
        self.job, self.workdir, self.models, self._lock = job, workdir, models, lock

    def progress(self, fraction: float, stage: str) -> None:
        with self._lock:
            self.job.progress = max(self.job.progress, min(1.0, float(fraction)))
            self.job.stage = stage

    def partial(self, result: dict) -> None:
        """Publish a result before the job ends (e.g. the notes, before the score is written)."""
        with self._lock:
            self.job.result = dict(result)

    def keep(self, name: str, obj) -> None:
        """Keep a Python object with the job for later jobs (never sent to the client)."""
        with self._lock:
            self.job.objects[name] = obj

    def attach(self, name: str, data: bytes, media_type: str) -> None:
        with self._lock:
            self.job.files[name] = (bytes(data), media_type)


class JobRunner:
    """A thread pool plus an in-memory store of jobs keyed by server-made tokens."""

    def __init__(self, models, *, workers: int = 2, max_queued: int = MAX_QUEUED, ttl_s: float = JOB_TTL_S,
                 max_jobs: int = MAX_JOBS):
        self.models = models
        self.workers = int(workers)
        self.max_queued, self.ttl_s, self.max_jobs = int(max_queued), float(ttl_s), int(max_jobs)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="tunesmith-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._tmp_root = Path(tempfile.mkdtemp(prefix="tunesmith-web-"))

    # -- creating and running
    def new_workdir(self) -> Path:
        """A fresh private folder for one job's upload (removed when the job ends)."""
        return Path(tempfile.mkdtemp(dir=self._tmp_root))

    def submit(self, kind: str, fn, workdir: Path, **kwargs) -> Job:
        """Queue ``fn(ctx, **kwargs)``; its return value becomes the job's result."""
        with self._lock:
            self._expire()
            active = sum(j.status in ("queued", "running") for j in self._jobs.values())
            if active >= self.max_queued:
                shutil.rmtree(workdir, ignore_errors=True)
                raise Busy(f"{active} jobs are waiting; try again in a moment")
            job = Job(secrets.token_urlsafe(TOKEN_BYTES), kind)
            self._jobs[job.id] = job
        job.future = self._pool.submit(self._run, job, fn, workdir, kwargs)
        return job

    def _run(self, job: Job, fn, workdir: Path, kwargs: dict) -> None:
        ctx = JobContext(job, workdir, self.models, self._lock)
        with self._lock:
            job.status, job.stage = "running", "starting"
        t0 = time.perf_counter()
        try:
            result = fn(ctx, **kwargs)
            with self._lock:
                job.result = dict(result)
                job.result["seconds"] = round(time.perf_counter() - t0, 3)
                job.status, job.progress, job.stage = "done", 1.0, "done"
        except TunesmithError as exc:
            with self._lock:
                job.status, job.error, job.stage = "error", str(exc), "failed"
        except Exception as exc:  # a bug, not the user's fault: log it, report one line
            log.exception("job %s (%s) failed", job.id, job.kind)
            with self._lock:
                job.status, job.error, job.stage = "error", f"internal error: {type(exc).__name__}: {exc}", "failed"
        finally:
            job.finished = time.time()
            shutil.rmtree(workdir, ignore_errors=True)

    # -- reading
    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def snapshot(self, job_id: str, base_url: str = "") -> dict | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.public(base_url)

    def kept(self, job_id: str, name: str):
        """An object a finished job kept (``None`` when the job or the object does not exist)."""
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None or job.status != "done" else job.objects.get(name)

    def file(self, job_id: str, name: str) -> tuple[bytes, str] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.files.get(name)

    def stats(self) -> dict:
        with self._lock:
            by = {}
            for j in self._jobs.values():
                by[j.status] = by.get(j.status, 0) + 1
            return {"workers": self.workers, "jobs": by, "temp_folders": len(list(self._tmp_root.iterdir()))
                    if self._tmp_root.exists() else 0}

    # -- housekeeping
    def _expire(self) -> None:
        """Drop finished jobs older than the TTL, then the oldest finished ones beyond ``max_jobs``."""
        now = time.time()
        for jid in [j.id for j in self._jobs.values() if j.finished and now - j.finished > self.ttl_s]:
            del self._jobs[jid]
        done = sorted((j for j in self._jobs.values() if j.finished), key=lambda j: j.finished)
        while len(self._jobs) > self.max_jobs and done:
            del self._jobs[done.pop(0).id]

    def shutdown(self) -> None:
        """Finish running jobs, drop queued ones, remove every temporary folder."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._tmp_root, ignore_errors=True)
