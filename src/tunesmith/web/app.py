"""The HTTP app: the page, its static assets, and a JSON API over jobs (FastAPI, described at /openapi.json).

Every ``POST /api/<verb>`` takes multipart form data (a recording in ``file`` plus
the verb's settings as form fields), checks the upload, queues a job and answers
``202`` with the job (its ``url`` to poll). With ``?wait=S`` it waits up to ``S``
seconds and answers ``200`` with the finished job, so a script needs one call::

    curl -F file=@take.wav 'http://127.0.0.1:8000/api/transcribe?wait=60'

Errors are one line in ``{"detail": ...}``: 413 too large, 415 not audio,
422 bad settings or unreadable audio, 404 unknown job or file, 503 queue full.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from tunesmith import __version__
from tunesmith.errors import TunesmithError
from tunesmith.web import service
from tunesmith.web.jobs import Busy, JobRunner
from tunesmith.web.uploads import MAX_UPLOAD_BYTES, UploadError, display_name, save_upload

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
#: onnxruntime-web's WebAssembly is 14 MB; it ships gzipped (3.7 MB) and is served with Content-Encoding.
ORT_WASM = "ort-wasm-simd-threaded.wasm"
MAX_WAIT_S = 120.0
WAIT_POLL_S = 0.02
MULTIPART_SLACK_BYTES = 64 * 1024   # form fields and multipart boundaries around the file
LIVE_DECIDE_EVERY_S = 1.0     # the page's live detector decides once per second of new audio


def _job_response(snapshot: dict, *, status_code: int = 202) -> JSONResponse:
    snapshot = {**snapshot, "url": f"/api/jobs/{snapshot['id']}"}
    return JSONResponse(snapshot, status_code=status_code, headers={"Location": snapshot["url"]})


@lru_cache(maxsize=1)
def _ort_wasm() -> bytes:
    return (STATIC / "vendor" / "onnxruntime-web" / f"{ORT_WASM}.gz").read_bytes()


class BodyLimit:
    """ASGI middleware: refuse a POST whose declared body is too large (413) or undeclared (411) before reading it.

    Starlette spools a whole multipart body to disk before a route sees it, so the
    upload limit must act here, on ``Content-Length``, or a client could fill the disk.
    """

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, int(max_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            status, detail = None, None
            if length is None:
                status, detail = 411, "uploads need a Content-Length header"
            elif not length.isdigit() or int(length) > self.max_bytes:
                status = 413
                detail = f"upload larger than the {self.max_bytes // (1024 * 1024)} MiB limit"
            if status is not None:
                response = JSONResponse({"detail": detail}, status_code=status, headers={"Connection": "close"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _one_line(exc: RequestValidationError) -> str:
    """FastAPI's list of validation errors as one line: ``field: message; field: message``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def create_app(*, workers: int = 2, preload: bool = True, max_upload_bytes: int = MAX_UPLOAD_BYTES,
               torch_threads: int | None = 1, models: service.Models | None = None) -> FastAPI:
    """Build the app: ``workers`` job threads, models shared (``preload`` loads them at start-up).

    ``torch_threads`` sets torch's intra-op threads for the process when the app starts
    (``None`` leaves it alone). One per worker is the right number: the workers already
    use the cores in parallel, and on a busy 2-core machine two intra-op threads per job
    made a 20-s transcription 11x slower (2.2 s instead of 0.19 s) by spinning against each other.
    """
    models = models or service.Models()
    runner = JobRunner(models, workers=workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        import torch

        threads_before = torch.get_num_threads()
        if torch_threads:
            torch.set_num_threads(int(torch_threads))
        if preload:
            models.preload()
        yield
        runner.shutdown()
        torch.set_num_threads(threads_before)     # the process's own setting again (tests, notebooks)

    app = FastAPI(title="tunesmith", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Recordings into notes, scores, continuations, conversions and voice counts. "
                              "POST a recording as multipart form data; poll the job URL or add ?wait=S.")
    app.state.runner, app.state.models = runner, models

    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes + MULTIPART_SLACK_BYTES)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": _one_line(exc)}, status_code=422)

    @app.exception_handler(UploadError)
    async def _upload_error(request: Request, exc: UploadError):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(TunesmithError)
    async def _user_error(request: Request, exc: TunesmithError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "2"})

    async def _queue(kind: str, upload: UploadFile | None, fn, wait: float, *, allow_notes: bool = False,
                     **kwargs) -> JSONResponse:
        workdir = runner.new_workdir()
        try:
            path = await save_upload(upload, workdir, allow_notes=allow_notes, max_bytes=max_upload_bytes) \
                if upload is not None else None
            job = runner.submit(kind, fn, workdir, path=path, **kwargs)
        except BaseException:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
            raise
        if wait > 0:
            deadline = asyncio.get_running_loop().time() + min(wait, MAX_WAIT_S)
            while not job.future.done() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(WAIT_POLL_S)
        snap = runner.snapshot(job.id)
        return _job_response(snap, status_code=200 if snap["status"] in ("done", "error") else 202)

    # ------------------------------------------------------------------ page and assets
    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get(f"/static/vendor/onnxruntime-web/{ORT_WASM}", include_in_schema=False)
    async def ort_wasm():
        return Response(_ort_wasm(), media_type="application/wasm",
                        headers={"Content-Encoding": "gzip", "Cache-Control": "max-age=86400"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        """Swagger UI from the vendored copy (FastAPI's default page loads it from a CDN)."""
        from fastapi.openapi.docs import get_swagger_ui_html

        return get_swagger_ui_html(openapi_url="/openapi.json", title="tunesmith API",
                                   swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")

    # ------------------------------------------------------------------ API
    @app.get("/api/health", summary="Is the server up; which models are loaded; jobs by state")
    async def health():
        return {"ok": True, "version": __version__, "models_loaded": models.loaded(), **runner.stats()}

    @app.get("/api/info", summary="Choices and limits the page offers (instruments, keys, upload limit)")
    async def info():
        from tunesmith.transcribe import INSTRUMENT_RANGES

        try:
            voices = await asyncio.get_running_loop().run_in_executor(None, models.voices)
            live = {"model": "/api/models/voices.onnx", "sample_rate": int(voices.sr),
                    "window_samples": int(round(voices.window_s * voices.sr)),
                    "classes": list(voices.classes), "decide_every_s": LIVE_DECIDE_EVERY_S}
        except TunesmithError as exc:       # the page still works; only the live detector says why it cannot
            live = {"error": str(exc)}
        return {"instruments": sorted(INSTRUMENT_RANGES), "max_upload_bytes": max_upload_bytes,
                "max_generate_notes": service.MAX_GENERATE_NOTES, "voices": live}

    @app.post("/api/transcribe", summary="Transcribe a recording of one instrument or voice into notes",
              description="Multipart: `file` (WAV, FLAC, OGG, MP3 or AIFF) and optional settings. The job's "
                          "result holds `notes` (MIDI pitch, name, onset/offset in s, velocity), tempo, metre, "
                          "key, the spectrogram and pitch track; files: notes.mid, notes.csv, notes.musicxml, "
                          "notes.wav (the notes rendered).")
    async def transcribe(file: UploadFile = File(..., description="the recording"),
                         instrument: str | None = Form(None, description="range preset, e.g. voice, flute"),
                         min_note_ms: float | None = Form(None, gt=0, le=2000),
                         onset_threshold: float | None = Form(None, gt=0, lt=1),
                         wait: float = Query(0.0, ge=0, le=MAX_WAIT_S, description="wait up to S seconds")):
        from tunesmith.transcribe import pitch_range

        instrument = instrument or None
        pitch_range(instrument)
        name = display_name(file.filename)

        def work(ctx, path):
            return service.run_transcribe(path, ctx, name=name, instrument=instrument, min_note_ms=min_note_ms,
                                          onset_threshold=onset_threshold)

        return await _queue("transcribe", file, work, wait)

    @app.post("/api/generate", summary="Continue a melody with the composer",
              description="Multipart: a primer as `file` (a recording, transcribed first, or MIDI/MusicXML/ABC) "
                          "or `primer_job` (the id of a finished transcription job), or neither (a new melody). "
                          "Settings: length (new notes), temperature, key ('D minor'), pitch_range ('C4-G5'), "
                          "seed. Files: continuation.mid/.musicxml/.csv/.wav.")
    async def generate(file: UploadFile | None = File(None, description="primer recording or note file"),
                       primer_job: str | None = Form(None, description="id of a finished transcription job"),
                       length: int = Form(32, ge=1, le=service.MAX_GENERATE_NOTES),
                       temperature: float = Form(1.0, ge=0.05, le=5.0),
                       key: str | None = Form(None), pitch_range: str | None = Form(None),
                       seed: int | None = Form(None, ge=0, lt=2**31),
                       wait: float = Query(0.0, ge=0, le=MAX_WAIT_S)):
        service.check_generate_options(length=length, temperature=temperature, key=key or None,
                                       pitch_range=pitch_range, seed=seed)
        primer = None
        if primer_job:
            primer = runner.kept(primer_job, "score")
            if primer is None:
                return JSONResponse({"detail": "primer_job: no finished transcription with notes has that id"},
                                    status_code=404)

        def work(ctx, path):
            return service.run_generate(path if path is not None else primer, ctx, length=length,
                                        temperature=temperature, key=key or None, pitch_range=pitch_range,
                                        seed=seed)

        return await _queue("generate", file if (file is not None and file.filename) else None, work, wait,
                            allow_notes=True)

    @app.post("/api/convert", summary="Transform a recording with the sound-transformation model",
              description="Multipart: `file`. The shipped model turns piano into violin. Result: before/after "
                          "log-mel spectrograms; files: converted.wav, input.wav.")
    async def convert(file: UploadFile = File(...), wait: float = Query(0.0, ge=0, le=MAX_WAIT_S)):
        return await _queue("convert", file, lambda ctx, path: service.run_convert(path, ctx), wait)

    @app.post("/api/voices", summary="One voice (or instrument) or several at once, per window",
              description="Multipart: `file`, optional `hop_s` between windows. Result: the file's label and "
                          "p(several), and per window start/end (s), label and p(several).")
    async def voices(file: UploadFile = File(...), hop_s: float | None = Form(None, gt=0.1, le=30),
                     wait: float = Query(0.0, ge=0, le=MAX_WAIT_S)):
        return await _queue("voices", file, lambda ctx, path: service.run_voices(path, ctx, hop_s=hop_s), wait)

    @app.get("/api/jobs/{job_id}", summary="A job's state, progress, result so far and download URLs")
    async def job(job_id: str):
        snap = runner.snapshot(job_id)
        if snap is None:
            return JSONResponse({"detail": "no such job (finished jobs expire after an hour)"}, status_code=404)
        return {**snap, "url": f"/api/jobs/{job_id}"}

    @app.get("/api/jobs/{job_id}/files/{name}", summary="Download one of a job's files")
    async def job_file(job_id: str, name: str):
        found = runner.file(job_id, name)
        if found is None:
            return JSONResponse({"detail": "no such file for this job"}, status_code=404)
        data, media_type = found
        return Response(data, media_type=media_type,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/api/models/voices.onnx", summary="The one-voice-or-several detector as ONNX (audio in)",
             description="Input `audio` (batch, window samples) float32 at the model's rate; output "
                         "`probabilities` (batch, 2) for [one, several]. Metadata: sample_rate, window_samples.")
    async def voices_onnx():
        data = await asyncio.get_running_loop().run_in_executor(None, models.voices_onnx)
        return Response(data, media_type="application/octet-stream",
                        headers={"Cache-Control": "max-age=3600"})

    return app
