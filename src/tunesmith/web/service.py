"""The work behind each web endpoint, as plain functions over files in a job's private folder.

Each ``run_*`` function takes the path of an upload that :mod:`tunesmith.web.uploads`
has already checked, a :class:`~tunesmith.web.jobs.JobContext` (progress, partial
results, the job's private folder) and the user's settings, and returns a JSON-ready
``dict``; files for download are attached to the context as bytes. Only public
library functions are called; the models come from :class:`Models`, loaded once per
server and shared by every worker thread (inference only, under ``torch.no_grad``).

Pictures are sent as data, not images: a spectrogram is an 8-bit grey image
``round(255 * clip((S_dB - (max - range)) / range, 0, 1))`` (rows low to high
frequency, columns in time, max-pooled to at most :data:`MAX_COLUMNS` columns),
base64-encoded, so the page draws it on a canvas under the notes it overlays.
"""
from __future__ import annotations

import base64
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np

from tunesmith.errors import TunesmithError

log = logging.getLogger(__name__)

MAX_COLUMNS = 1600            # spectrogram columns sent to the page (max-pooled in time)
SPEC_RANGE_DB = 70.0          # dynamic range of a drawn spectrogram
F0_POINTS = 3000              # pitch-track points sent to the page (decimated)
PLOT_MIDI_MARGIN = 7          # semitones of spectrogram below the lowest and above the highest note
RENDER_SR = 22050             # sample rate of rendered notes (Hz)
CONVERT_MELS = 128            # mel bands of the before/after spectrograms
MAX_GENERATE_NOTES = 256      # longest continuation a request may ask for
GENERATE_MIDI_RANGE = (21, 108)


# ----------------------------------------------------------------------------- models, loaded once
class Models:
    """Every model the app uses, each loaded on first use (thread-safe) and then shared.

    ``preload()`` loads them all in the background at start-up, so the first
    request does not pay for loading.
    """

    def __init__(self):
        self._lock = threading.Lock()               # guards the dicts
        self._loading: dict[str, threading.Lock] = {}  # one lock per model: loads of different models overlap
        self._cache: dict[str, object] = {}
        self.load_seconds: dict[str, float] = {}

    def _get(self, name: str, loader):
        with self._lock:
            if name in self._cache:
                return self._cache[name]
            lock = self._loading.setdefault(name, threading.Lock())
        with lock:
            with self._lock:
                if name in self._cache:
                    return self._cache[name]
            t0 = time.perf_counter()
            value = loader()
            with self._lock:
                self._cache[name] = value
                self.load_seconds[name] = time.perf_counter() - t0
            log.info("loaded %s in %.2f s", name, self.load_seconds[name])
            return value

    def transcriber(self):
        from tunesmith.transcribe.pitch import load_model

        return self._get("transcriber", load_model)

    def composer(self):
        from tunesmith import models
        from tunesmith.compose import load_composer

        return self._get("composer", lambda: load_composer(models.path("composer")))

    def converter(self):
        from tunesmith.transform.conversion import Converter

        return self._get("converter", Converter)

    def voices(self):
        from tunesmith.classify.voices import load_voices_model

        return self._get("voices", load_voices_model)

    def voices_onnx(self) -> bytes:
        """The voices detector as ONNX (raw audio in, probabilities out), exported once."""
        return self._get("voices_onnx", self._export_onnx)

    def _export_onnx(self) -> bytes:
        import tempfile

        from tunesmith.classify.export import export_onnx

        with tempfile.TemporaryDirectory(prefix="tunesmith-onnx-") as tmp:
            path = export_onnx(self.voices(), Path(tmp) / "voices.onnx")
            return path.read_bytes()

    def loaded(self) -> list[str]:
        with self._lock:
            return sorted(self._cache)

    def preload(self, names=("voices", "transcriber", "composer", "converter", "voices_onnx")) -> threading.Thread:
        def work():
            for n in names:
                try:
                    getattr(self, n)()
                except Exception as exc:  # reported when a request needs the model
                    log.warning("could not preload %s: %s", n, exc)

        t = threading.Thread(target=work, name="tunesmith-preload", daemon=True)
        t.start()
        return t


# ----------------------------------------------------------------------------- encoding helpers
def encode_image(S_db: np.ndarray, *, range_db: float = SPEC_RANGE_DB, max_columns: int = MAX_COLUMNS) -> dict:
    """An (rows, frames) dB image → 8-bit base64 (rows low to high), columns max-pooled to ``max_columns``.

    Returns ``{"rows", "cols", "data", "pool"}`` where ``pool`` is the number of frames per column.
    """
    S = np.asarray(S_db, dtype=np.float32)
    if S.ndim != 2 or S.size == 0:
        return {"rows": 0, "cols": 0, "data": "", "pool": 1}
    pool = max(1, int(np.ceil(S.shape[1] / max_columns)))
    if pool > 1:
        pad = (-S.shape[1]) % pool
        S = np.pad(S, ((0, 0), (0, pad)), constant_values=float(S.min())).reshape(S.shape[0], -1, pool).max(axis=2)
    top = float(S.max())
    img = np.clip((S - (top - range_db)) / range_db, 0.0, 1.0)
    data = np.round(img * 255).astype(np.uint8)
    return {"rows": int(data.shape[0]), "cols": int(data.shape[1]),
            "data": base64.b64encode(np.ascontiguousarray(data).tobytes()).decode("ascii"), "pool": pool}


def notes_json(seq) -> list[dict]:
    """Notes as performed: MIDI pitch, name, onset/offset (s), velocity, and beats when quantised."""
    out = []
    for n in seq:
        d = {"pitch": int(round(n.pitch)), "name": n.name, "onset": round(float(n.onset), 4),
             "offset": round(float(n.offset), 4), "velocity": int(n.velocity)}
        if n.onset_beats is not None:
            d["onset_beats"] = round(float(n.onset_beats), 4)
            d["duration_beats"] = round(float(n.duration_beats), 4)
        out.append(d)
    return out


def _meta(seq) -> dict:
    return {"tempo": round(float(seq.tempo), 2) if seq.tempo else None,
            "time_signature": list(seq.time_signature) if seq.time_signature else None,
            "key": seq.key, "duration": round(float(seq.duration), 3) if len(seq) else 0.0}


def _file_bytes(write, suffix: str, workdir: Path) -> bytes:
    """Run ``write(path)`` on a fresh file in ``workdir`` and return what it wrote (the file is removed)."""
    target = workdir / f"out-{time.perf_counter_ns()}{suffix}"
    try:
        written = write(target)
        path = Path(written) if isinstance(written, (str, Path)) else target
        return path.read_bytes()
    finally:
        for p in workdir.glob(target.stem + "*"):
            p.unlink(missing_ok=True)


def _attach_notes_files(ctx, seq, stem: str, *, musicxml_seq=None, render: bool = True) -> None:
    """MIDI and CSV (as performed), MusicXML (``musicxml_seq``, quantised) and the notes rendered to WAV."""
    from tunesmith.audio import save
    from tunesmith.notes import note_sequence_to_csv, note_sequence_to_midi, note_sequence_to_musicxml

    ctx.attach(f"{stem}.mid", _file_bytes(lambda p: note_sequence_to_midi(seq, p), ".mid", ctx.workdir),
               "audio/midi")
    ctx.attach(f"{stem}.csv", note_sequence_to_csv(seq).encode("utf-8"), "text/csv")
    if len(seq) and musicxml_seq is not None:
        ctx.attach(f"{stem}.musicxml",
                   _file_bytes(lambda p: note_sequence_to_musicxml(musicxml_seq, p), ".musicxml", ctx.workdir),
                   "application/vnd.recordare.musicxml+xml")
    if len(seq) and render:
        from tunesmith.render import render as render_notes

        audio = render_notes(seq, RENDER_SR)
        ctx.attach(f"{stem}.wav", _file_bytes(lambda p: save(audio, p, normalize=True), ".wav", ctx.workdir),
                   "audio/wav")


# ----------------------------------------------------------------------------- transcription
def _track_json(track, seq) -> dict:
    """The spectrogram rows around the notes (dB), the f0 track (MIDI, null when unvoiced), frame hop."""
    from tunesmith.transcribe.pitch import SPEC_SCALE, SPEC_SHIFT

    if len(seq):
        lo = min(n.pitch for n in seq) - PLOT_MIDI_MARGIN
        hi = max(n.pitch for n in seq) + PLOT_MIDI_MARGIN + 12
    else:
        lo, hi = 36.0, 96.0
    out: dict = {"hop_s": float(track.hop_s), "a4_hz": round(float(track.a4_hz), 2), "frames": len(track)}
    if track.spec is not None and track.spec.size:
        rows = (track.spec_midi >= lo) & (track.spec_midi <= hi)
        S_db = (track.spec[rows] * SPEC_SCALE + SPEC_SHIFT) * (10.0 / np.log(10.0))
        img = encode_image(S_db)
        midi = track.spec_midi[rows]
        img.update(midi_low=float(midi[0]), midi_high=float(midi[-1]),
                   seconds=float(track.spec.shape[1] * track.hop_s))
        out["spectrogram"] = img
    step = max(1, int(np.ceil(len(track) / F0_POINTS)))
    f0 = track.f0[::step]
    out["f0"] = {"step_s": float(track.hop_s * step),
                 "midi": [None if not np.isfinite(v) else round(float(v), 2) for v in f0]}
    return out


def run_transcribe(path: Path, ctx, *, name: str = "take", instrument: str | None = None,
                   min_note_ms: float | None = None, onset_threshold: float | None = None) -> dict:
    """Transcribe one upload; the notes are published as soon as they exist, the score after."""
    from tunesmith.audio import info
    from tunesmith.transcribe import analyse_file, pitch_range
    from tunesmith.transcribe.quantize import score

    options = {k: v for k, v in (("instrument", instrument), ("min_note_ms", min_note_ms),
                                 ("onset_threshold", onset_threshold)) if v is not None}
    pitch_range(instrument)              # a bad preset fails here, before any work
    duration = float(info(path)["duration"])
    ctx.progress(0.05, "analysing pitch")
    ctx.models.transcriber()             # loaded once; analyse_file finds it in the library's cache

    def progress(done: float, total: float) -> None:
        ctx.progress(0.05 + 0.55 * min(1.0, done / max(total, 1e-6)), "analysing pitch")

    result = analyse_file(path, name=name, on_progress=progress, **options)
    seq = result.notes
    warnings = result.warnings
    out = {"kind": "transcription", "name": name, "duration_s": round(duration, 3), "notes": notes_json(seq),
           **_meta(seq), "warnings": warnings, "track": _track_json(result.track, seq)}
    ctx.partial(out)                     # the page draws the notes now; the score follows
    ctx.progress(0.65, "writing the score")
    scored = score(seq) if len(seq) else None
    if scored is not None:
        ctx.keep("score", scored)
    ctx.progress(0.75, "rendering the notes")
    _attach_notes_files(ctx, seq, "notes", musicxml_seq=scored)
    ctx.progress(0.98, "done")
    out["score_notes"] = notes_json(scored) if scored is not None else []
    return out


# ----------------------------------------------------------------------------- composer
def parse_pitch_range(text: str | None) -> tuple[int, int] | None:
    """``"C4-G5"`` or ``"60-79"`` → (60, 79) MIDI; ``None``/empty → no limit."""
    from tunesmith.notes import name_to_midi

    if not text or not text.strip():
        return None
    parts = text.replace("\u2013", "-").split("-")
    if len(parts) != 2:
        raise TunesmithError(f"range {text!r}: give LOW-HIGH, e.g. C4-G5 or 60-79")

    def one(p: str) -> int:
        p = p.strip()
        return int(p) if p.isdigit() else int(name_to_midi(p))

    lo, hi = one(parts[0]), one(parts[1])
    if not GENERATE_MIDI_RANGE[0] <= lo < hi <= GENERATE_MIDI_RANGE[1]:
        raise TunesmithError(f"range {text!r}: need low < high within MIDI {GENERATE_MIDI_RANGE[0]}-"
                             f"{GENERATE_MIDI_RANGE[1]}")
    return lo, hi


def check_generate_options(*, length: int, temperature: float, key: str | None, pitch_range: str | None,
                           seed: int | None) -> None:
    """Refuse settings the composer cannot honour, with one line each (before the job is queued)."""
    from tunesmith.notes import parse_key

    if not 1 <= length <= MAX_GENERATE_NOTES:
        raise TunesmithError(f"length must be 1-{MAX_GENERATE_NOTES} notes, got {length}")
    if not 0.05 <= temperature <= 5.0:
        raise TunesmithError(f"temperature must be 0.05-5, got {temperature}")
    if key and parse_key(key) is None:
        raise TunesmithError(f"key {key!r}: give e.g. 'D minor' or 'Bb major'")
    if seed is not None and not 0 <= seed < 2**31:
        raise TunesmithError(f"seed must be 0-{2**31 - 1}, got {seed}")
    parse_pitch_range(pitch_range)


def run_generate(primer, ctx, *, length: int = 32, temperature: float = 1.0, key: str | None = None,
                 pitch_range: str | None = None, seed: int | None = None) -> dict:
    """Continue ``primer`` (a NoteSequence, a checked note or audio file path, or ``None``) with the composer."""
    from tunesmith.compose import generate

    check_generate_options(length=length, temperature=temperature, key=key, pitch_range=pitch_range, seed=seed)
    rng = parse_pitch_range(pitch_range)
    if isinstance(primer, Path) and primer.suffix.lower() in _AUDIO_SUFFIXES:
        ctx.progress(0.05, "transcribing the primer")
        primer = _transcribed(primer, ctx)
    ctx.progress(0.3, "composing")
    composer = ctx.models.composer()
    if seed is None:
        seed = int.from_bytes(os.urandom(3), "little")
    n_primer = _primer_notes(primer)
    seq = generate(composer, n=1, length=length, temperature=temperature, seed=seed, primer=primer,
                   key=key or None, pitch_range=rng)[0]
    ctx.progress(0.7, "rendering")
    _attach_notes_files(ctx, seq, "continuation", musicxml_seq=seq)
    notes = notes_json(seq)
    for i, n in enumerate(notes):     # generate() keeps the primer's notes at the start of its output
        n["primer"] = i < n_primer
    return {"kind": "continuation", "notes": notes, **_meta(seq), "seed": seed, "length": length,
            "temperature": temperature, "pitch_range": list(rng) if rng else None,
            "primer_notes": n_primer, "warnings": []}


def _primer_notes(primer) -> int:
    """How many notes of the output are the primer's (0 without one)."""
    if primer is None:
        return 0
    if isinstance(primer, Path):
        from tunesmith.compose import load_melody

        return len(load_melody(primer)[0])
    return len(primer)


_AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff"}


def _transcribed(path: Path, ctx):
    """An uploaded recording as a quantised primer (the same pipeline as ``run_transcribe``)."""
    from tunesmith.transcribe import analyse_file
    from tunesmith.transcribe.quantize import score

    ctx.models.transcriber()
    result = analyse_file(path, name="primer")
    if not len(result.notes):
        raise TunesmithError("the primer recording has no pitched notes to continue")
    return score(result.notes)


# ----------------------------------------------------------------------------- transform
def _logmel_db(samples: np.ndarray, sr: int) -> np.ndarray:
    import torch

    from tunesmith.features import LogMelSpectrogram

    fe = LogMelSpectrogram(sr=sr, n_mels=CONVERT_MELS)
    with torch.no_grad():
        return fe(torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))[None])[0].numpy()


def run_convert(path: Path, ctx) -> dict:
    """The transform model on an upload: converted WAV plus before/after log-mel spectrograms."""
    from tunesmith.audio import Audio, check_not_silent, load, save
    from tunesmith.transform import convert

    ctx.progress(0.05, "loading")
    conv = ctx.models.converter()
    audio = check_not_silent(load(path, sr=conv.sr), "upload")
    ctx.progress(0.15, "converting")
    out = convert(audio, conv)
    y = out.samples
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0.999:
        y = y * (0.999 / peak)
    ctx.progress(0.85, "drawing")
    converted = Audio(y, out.sr)
    ctx.attach("converted.wav", _file_bytes(lambda p: save(converted, p), ".wav", ctx.workdir), "audio/wav")
    ctx.attach("input.wav", _file_bytes(lambda p: save(audio, p), ".wav", ctx.workdir), "audio/wav")
    before, after = _logmel_db(audio.samples, audio.sr), _logmel_db(y, out.sr)
    return {"kind": "conversion", "duration_s": round(audio.duration, 3), "sr": out.sr,
            "settings": conv.settings(), "before": encode_image(before), "after": encode_image(after),
            "n_mels": CONVERT_MELS, "warnings": []}


# ----------------------------------------------------------------------------- voices
def run_voices(path: Path, ctx, *, hop_s: float | None = None) -> dict:
    """Per-window probability that several voices sound at once, and the file's decision."""
    from tunesmith.audio import check_not_silent, load
    from tunesmith.classify.train import classify_audio

    ctx.progress(0.05, "loading")
    model = ctx.models.voices()
    audio = check_not_silent(load(path, sr=model.sr), "upload")
    ctx.progress(0.3, "deciding")
    r = classify_audio(audio, model, hop_s=hop_s)
    several = r.classes.index("several")
    windows = [{"start": round(float(s), 3), "end": round(float(e), 3), "label": lab,
                "p_several": round(float(p[several]), 4)}
               for s, e, lab, p in zip(r.starts, r.ends, r.window_labels, r.probs)]
    return {"kind": "voices", "duration_s": round(audio.duration, 3), "label": r.label,
            "p_several": round(float(r.file_probs[several]), 4), "window_s": float(model.window_s),
            "windows": windows, "warnings": []}
