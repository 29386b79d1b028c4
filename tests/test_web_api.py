"""The HTTP API on real demo recordings, through FastAPI's TestClient (no socket, no network)."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient

from tunesmith.web.uploads import display_name, sniff_audio

ROOT = Path(__file__).resolve().parents[1]
SONGS = ROOT / "data" / "songs"
TRUMPET = SONGS / "kinder0-007-schlaf-du-liebe-kleine-trumpet.wav"
FLUTE = SONGS / "kinder0-001-schlaf-kindlein-schlaf-flute.flac"
PIANO = SONGS / "kinder0-006-schlaf-mein-kindchen-sieben-stun-piano.ogg"
WAIT = "?wait=60"


@pytest.fixture(scope="module")
def client():
    from tunesmith.web import create_app

    app = create_app(workers=2, max_upload_bytes=2 * 1024 * 1024)
    with TestClient(app) as c:
        c.app_state = app.state
        yield c


def _post(client, verb: str, path: Path | None = None, *, name: str | None = None, data=None, content=None):
    files = None
    if path is not None or content is not None:
        files = {"file": (name or path.name, content if content is not None else path.read_bytes())}
    return client.post(f"/api/{verb}{WAIT}", files=files, data=data or {})


def test_openapi_names_a_multipart_transcription_endpoint(client):
    spec = client.get("/openapi.json").json()
    paths = [p for p in spec["paths"] if "transcribe" in p]
    assert paths == ["/api/transcribe"]
    body = spec["paths"]["/api/transcribe"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body
    for verb in ("generate", "convert", "voices"):
        assert "multipart/form-data" in spec["paths"][f"/api/{verb}"]["post"]["requestBody"]["content"]


def test_transcribe_returns_the_notes_of_a_real_recording(client):
    from tunesmith.transcribe import transcribe_file

    r = _post(client, "transcribe", TRUMPET)
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["status"] == "done", job["error"]
    notes = job["result"]["notes"]
    # the same notes as the library gives for the file
    want = transcribe_file(TRUMPET)
    assert [n["pitch"] for n in notes] == [int(round(n.pitch)) for n in want]
    assert notes[0]["onset"] == pytest.approx(want[0].onset, abs=1e-3)
    assert job["result"]["key"] == want.key
    assert set(job["files"]) == {"notes.mid", "notes.csv", "notes.musicxml", "notes.wav"}
    mid = client.get(job["files"]["notes.mid"])
    assert mid.status_code == 200 and mid.content[:4] == b"MThd"
    xml = client.get(job["files"]["notes.musicxml"]).text
    assert "score-partwise" in xml and xml.count("<note") >= len(notes) // 2
    csv_lines = client.get(job["files"]["notes.csv"]).text.strip().splitlines()
    assert len(csv_lines) == len(notes) + 1
    wav = client.get(job["files"]["notes.wav"]).content
    assert wav[:4] == b"RIFF" and len(wav) > 100_000
    # the job URL the answer names gives the same job
    assert client.get(job["url"]).json()["result"]["notes"] == notes


def test_job_without_wait_is_polled_to_completion(client):
    import time

    r = client.post("/api/transcribe", files={"file": ("flute.flac", FLUTE.read_bytes())},
                    data={"instrument": "flute"})
    assert r.status_code in (200, 202)
    url = r.headers["Location"]
    for _ in range(600):
        job = client.get(url).json()
        if job["status"] in ("done", "error"):
            break
        time.sleep(0.05)
    assert job["status"] == "done" and len(job["result"]["notes"]) > 10
    assert all(58 <= n["pitch"] <= 98 for n in job["result"]["notes"])   # the flute preset's range


def test_text_named_wav_is_refused_and_server_keeps_serving(client):
    r = _post(client, "transcribe", name="take.wav", content=b"this is a text file, not audio\n" * 20)
    assert r.status_code == 415
    detail = r.json()["detail"]
    assert "take" in detail and "not a recording" in detail and "\n" not in detail
    # a truncated WAV: right magic, broken body
    head = TRUMPET.read_bytes()[:60]
    r = _post(client, "voices", name="cut.wav", content=head)
    assert r.status_code == 422 and "cut" in r.json()["detail"]
    assert client.get("/api/health").json()["ok"]
    assert _post(client, "voices", TRUMPET).json()["status"] == "done"


def test_upload_size_is_bounded(client):
    big = b"RIFF" + b"\0\0\0\0" + b"WAVE" + b"\0" * (3 * 1024 * 1024)
    r = _post(client, "convert", name="big.wav", content=big)      # refused from its Content-Length
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    just_over = b"RIFF" + b"\0\0\0\0" + b"WAVE" + b"\0" * (2 * 1024 * 1024 + 1)
    r = _post(client, "convert", name="over.wav", content=just_over)   # within the slack: counted while saved
    assert r.status_code == 413 and "over" in r.json()["detail"]
    assert client.get("/api/health").json()["temp_folders"] == 0


def test_bad_settings_are_one_line_422(client):
    r = _post(client, "transcribe", TRUMPET, data={"instrument": "kazoo"})
    assert r.status_code == 422 and "kazoo" in r.json()["detail"]
    r = client.post("/api/generate", data={"key": "H mixolydian"})
    assert r.status_code == 422 and "key" in r.json()["detail"]
    r = client.post("/api/generate", data={"pitch_range": "G5-C4"})
    assert r.status_code == 422
    r = _post(client, "transcribe", TRUMPET, data={"min_note_ms": "-5"})
    assert r.status_code == 422 and r.json()["detail"].startswith("min_note_ms:")


def test_no_request_path_reaches_the_file_system(client):
    assert client.get("/api/jobs/..%2F..%2Fetc%2Fpasswd").status_code == 404
    job = _post(client, "voices", TRUMPET).json()
    assert client.get(f"/api/jobs/{job['id']}/files/..%2F..%2Fpyproject.toml").status_code == 404
    assert client.get("/static/../pyproject.toml").status_code == 404
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("a/b\\c<script>.wav") == "c_script"
    # the upload's temporary folder is gone once the job has ended
    assert client.get("/api/health").json()["temp_folders"] == 0


def test_generate_continues_the_transcription(client):
    take = _post(client, "transcribe", TRUMPET).json()
    n_take = len(take["result"]["score_notes"])
    form = {"primer_job": take["id"], "length": "12", "seed": "5", "temperature": "0.8", "key": "F major"}
    a = _post(client, "generate", data=form).json()
    assert a["status"] == "done", a["error"]
    res = a["result"]
    assert res["primer_notes"] == n_take and len(res["notes"]) == n_take + 12
    assert [n["pitch"] for n in res["notes"][:n_take]] == [n["pitch"] for n in take["result"]["score_notes"]]
    f_major = {5, 7, 9, 10, 0, 2, 4}
    assert all(n["pitch"] % 12 in f_major for n in res["notes"][n_take:])
    b = _post(client, "generate", data=form).json()
    assert [n["pitch"] for n in b["result"]["notes"]] == [n["pitch"] for n in res["notes"]]   # same seed
    assert client.get(a["files"]["continuation.mid"]).content[:4] == b"MThd"
    unknown = client.post("/api/generate", data={"primer_job": "nope"})
    assert unknown.status_code == 404


def test_generate_with_an_uploaded_note_file_and_a_range(client):
    mid = SONGS / "kinder0-008-schlaf-kindlein-feste.mid"
    r = _post(client, "generate", mid, data={"length": "10", "seed": "1", "pitch_range": "C4-C5"})
    job = r.json()
    assert job["status"] == "done", job["error"]
    new = [n for n in job["result"]["notes"] if not n["primer"]]
    assert len(new) == 10 and all(60 <= n["pitch"] <= 72 for n in new)


def test_convert_and_voices(client):
    conv = _post(client, "convert", PIANO).json()
    assert conv["status"] == "done", conv["error"]
    res = conv["result"]
    assert res["before"]["rows"] == res["n_mels"] and res["after"]["cols"] > 100
    out = client.get(conv["files"]["converted.wav"]).content
    assert out[:4] == b"RIFF"
    v = _post(client, "voices", TRUMPET).json()["result"]
    assert v["label"] == "one" and len(v["windows"]) >= 5
    assert v["windows"][0]["start"] == 0.0 and v["windows"][-1]["end"] == pytest.approx(v["duration_s"], abs=0.1)


def test_voices_onnx_model_matches_the_torch_model(client):
    import numpy as np
    import onnxruntime as ort
    import torch

    data = client.get("/api/models/voices.onnx").content
    info = client.get("/api/info").json()["voices"]
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    from tunesmith.audio import load

    x = load(TRUMPET, sr=info["sample_rate"]).samples[: info["window_samples"]][None]
    got = sess.run(None, {"audio": np.ascontiguousarray(x)})[0]
    model = client.app_state.models.voices()
    with torch.no_grad():
        want = model.predict_proba(torch.from_numpy(x)).numpy()
    assert np.abs(got - want).max() < 1e-3


def test_page_and_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "tunesmith" in page.text and "/static/app.js" in page.text
    wasm = client.get("/static/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm")
    assert wasm.status_code == 200 and wasm.content[:4] == b"\0asm"     # gzip undone by the client
    assert client.get("/static/vendor/opensheetmusicdisplay/LICENSE.txt").status_code == 200


def test_sniffing_recognises_the_demo_formats():
    assert sniff_audio(TRUMPET.read_bytes()[:64]) == ".wav"
    assert sniff_audio(FLUTE.read_bytes()[:64]) == ".flac"
    assert sniff_audio(PIANO.read_bytes()[:64]) == ".ogg"
    assert sniff_audio(b"<html>") is None


def test_serve_starts_prints_its_url_and_stops_on_ctrl_c():
    import os
    import re
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tunesmith.cli", "serve", "--port", "0"], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        line = ""
        deadline = time.monotonic() + 60
        while "serving on" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line
        with urllib.request.urlopen(url.group(0), timeout=10) as r:     # loopback only
            assert r.status == 200 and b"tunesmith" in r.read()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert "stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_models_are_loaded_once_even_when_asked_at_once():
    import threading

    from tunesmith.web.service import Models

    calls = []
    models = Models()

    def loader():
        calls.append(1)
        threading.Event().wait(0.05)
        return object()

    got = []
    threads = [threading.Thread(target=lambda: got.append(models._get("m", loader))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(g) for g in got}) == 1


def test_jobs_run_side_by_side_clean_up_and_refuse_when_full(tmp_path):
    import threading

    from tunesmith.errors import TunesmithError
    from tunesmith.web.jobs import Busy, JobRunner

    runner = JobRunner(models=None, workers=2, max_queued=3)
    both = threading.Barrier(3, timeout=10)      # the two jobs and this test: passes only if both jobs run at once

    def together(ctx):
        (ctx.workdir / "upload.wav").write_bytes(b"x")
        ctx.progress(0.5, "waiting for the other")
        both.wait()
        return {"ok": True}

    def fails(ctx):
        raise TunesmithError("bad take")

    try:
        a = runner.submit("t", together, runner.new_workdir())
        b = runner.submit("t", together, runner.new_workdir())
        c = runner.submit("t", fails, runner.new_workdir())
        with pytest.raises(Busy):
            runner.submit("t", fails, runner.new_workdir())   # three are already queued or running
        both.wait()
        for job in (a, b, c):
            job.future.result(timeout=20)
        assert runner.snapshot(a.id)["status"] == runner.snapshot(b.id)["status"] == "done"
        snap = runner.snapshot(c.id)
        assert snap["status"] == "error" and snap["error"] == "bad take"
        assert runner.stats()["temp_folders"] == 0             # every job's folder removed, failed one too
        assert len(a.id) >= 20 and a.id != b.id                 # server-made random tokens
    finally:
        runner.shutdown()
