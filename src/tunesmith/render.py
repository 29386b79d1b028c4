"""NoteSequence → audio: FluidSynth with a General MIDI soundfont, or a small built-in synthesiser.

:func:`render` uses the ``fluidsynth`` program (Debian: ``fluidsynth`` and
``fluid-soundfont-gm``) when it and a soundfont are present; otherwise it
prints a one-line notice and uses :func:`synthesize`, an additive
synthesiser (a few decaying harmonics under an ADSR envelope) that needs
nothing but numpy.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tunesmith.audio import Audio, save
from tunesmith.errors import TunesmithError
from tunesmith.notes import NoteSequence, midi_to_hz, note_sequence_to_midi

log = logging.getLogger(__name__)

__all__ = ["render", "render_to_file", "synthesize", "find_soundfont", "fluidsynth_available"]

SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
_notice_shown = False


def find_soundfont(soundfont: str | Path | None = None) -> Path | None:
    """The soundfont to use: ``soundfont``, ``$TUNESMITH_SOUNDFONT``, or a system GM soundfont."""
    for cand in (soundfont, os.environ.get("TUNESMITH_SOUNDFONT"), *SOUNDFONT_CANDIDATES):
        if cand and Path(cand).is_file():
            return Path(cand)
    return None


def fluidsynth_available(soundfont: str | Path | None = None) -> bool:
    return shutil.which("fluidsynth") is not None and find_soundfont(soundfont) is not None


def render(seq: NoteSequence, sr: int = 22050, *, program: int | None = None,
           soundfont: str | Path | None = None, reverb: bool = False, gain: float = 0.6,
           engine: str = "auto", tail_s: float = 0.5) -> Audio:
    """Render ``seq`` to mono audio at ``sr`` Hz with GM ``program`` (default ``seq.program``).

    ``engine`` is ``"fluidsynth"``, ``"synth"`` (built-in) or ``"auto"`` (FluidSynth when
    available, else the built-in synthesiser with a one-line notice on stderr).
    FluidSynth's reverb and chorus are off unless ``reverb=True``. The result
    lasts until the last note-off plus ``tail_s`` seconds.
    """
    global _notice_shown
    program = seq.program if program is None else int(program)
    if not 0 <= program <= 127:
        raise TunesmithError(f"GM program must be 0-127, got {program}")
    if engine not in ("auto", "fluidsynth", "synth"):
        raise ValueError(f"engine must be auto, fluidsynth or synth, got {engine!r}")
    use_fs = engine == "fluidsynth" or (engine == "auto" and fluidsynth_available(soundfont))
    if engine == "fluidsynth" and not fluidsynth_available(soundfont):
        raise TunesmithError("FluidSynth or a GM soundfont is missing (apt-get install fluidsynth fluid-soundfont-gm)")
    if not use_fs:
        if not _notice_shown:
            log.warning("FluidSynth not found; rendering with the built-in synthesiser")
            _notice_shown = True
        return synthesize(seq, sr, tail_s=tail_s)
    return _render_fluidsynth(seq, sr, program, find_soundfont(soundfont), reverb, gain, tail_s)


def _render_fluidsynth(seq, sr, program, sf2, reverb, gain, tail_s) -> Audio:
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="tunesmith-render-") as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        note_sequence_to_midi(seq.copy(), mid, program=program)
        cmd = ["fluidsynth", "-ni", "-q", "-g", str(gain), "-r", str(sr), "-F", str(wav), "-T", "wav",
               "-o", "synth.polyphony=256"]
        if not reverb:
            cmd += ["-R", "0", "-C", "0"]
        cmd += [str(sf2), str(mid)]
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0 or not wav.exists():
            raise TunesmithError(f"FluidSynth failed: {(proc.stderr or proc.stdout).strip()[:200]}")
        y, file_sr = sf.read(str(wav), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    n = int(round((seq.duration + tail_s) * file_sr))
    y = np.pad(y, (0, max(0, n - len(y))))[:n]
    audio = Audio(y, file_sr)
    return audio.resample(sr)


def synthesize(seq: NoteSequence, sr: int = 22050, *, harmonics: int = 6, tail_s: float = 0.5) -> Audio:
    """A dependency-free additive synthesiser: decaying harmonics, 10 ms attack, 80 ms release."""
    n_total = int(round((seq.duration + tail_s) * sr)) + 1
    y = np.zeros(n_total, dtype=np.float64)
    attack, release = int(0.01 * sr), int(0.08 * sr)
    for note in seq.notes:
        start = int(round(note.onset * sr))
        length = max(1, int(round(note.duration * sr)))
        t = np.arange(length + release) / sr
        f0 = float(midi_to_hz(note.pitch))
        tone = np.zeros_like(t)
        for h in range(1, harmonics + 1):
            if f0 * h < sr / 2:
                tone += np.sin(2 * np.pi * f0 * h * t) * (0.6 ** (h - 1)) * np.exp(-t * 1.5 * h)
        env = np.ones_like(t)
        env[:attack] = np.linspace(0, 1, attack, endpoint=False)
        env[length:] = np.linspace(1, 0, len(t) - length)
        seg = tone * env * (note.velocity / 127.0) * 0.3
        end = min(n_total, start + len(seg))
        y[start:end] += seg[: end - start]
    peak = np.max(np.abs(y)) if len(y) else 0.0
    if peak > 0.99:
        y *= 0.99 / peak
    return Audio(y.astype(np.float32), sr)


def render_to_file(seq: NoteSequence, path: str | Path, sr: int = 22050, **kwargs) -> Path:
    """Render ``seq`` and write it to ``path`` (WAV, FLAC, OGG, ... by extension), atomically."""
    return save(render(seq, sr, **kwargs), path)
