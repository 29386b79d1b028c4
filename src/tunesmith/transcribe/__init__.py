"""Monophonic transcription: a recording of one instrument or voice → notes.

>>> from tunesmith.transcribe import transcribe_file
>>> seq = transcribe_file("flute.wav", instrument="flute")    # doctest: +SKIP
>>> [(n.name, round(n.onset, 2)) for n in seq][:3]             # doctest: +SKIP
[('D5', 0.31), ('E5', 0.62), ('F#5', 0.93)]

Pipeline (each stage is its own module):

1. :mod:`~tunesmith.transcribe.pitch` - tuning estimate (A4 from spectral
   peaks), a log-frequency front end re-centred on that tuning, and a small
   CNN that gives, per 16 ms frame, the semitone, voicing, onset and offset
   probabilities (audio streamed in blocks: bounded memory for any length);
2. :mod:`~tunesmith.transcribe.onsets` - onset peak picking with sub-frame timing
   (and a spectral-flux onset curve for other f0 trackers);
3. :mod:`~tunesmith.transcribe.segment` - notes from frames (repeated notes
   split at onsets, slurs split at stable pitch changes, blips removed,
   vibrato-robust pitch, velocity from loudness);
4. :mod:`~tunesmith.transcribe.quantize` - tempo, beat, metre and key
   estimation; a quantised score for MusicXML;
5. :mod:`~tunesmith.transcribe.evaluate` and :mod:`~tunesmith.transcribe.plot`.

The returned :class:`~tunesmith.notes.NoteSequence` holds the notes as
performed (seconds, integer MIDI pitches relative to the estimated tuning,
velocity from loudness) with ``tempo``, ``time_signature`` and ``key``
estimated when there are enough notes.
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.audio import Audio
from tunesmith.errors import TunesmithError
from tunesmith.notes import NoteSequence, hz_to_midi, name_to_midi
from tunesmith.transcribe.segment import DEFAULT_MIN_NOTE_MS, DEFAULT_ONSET_THRESHOLD, DEFAULT_VOICING_THRESHOLD

__all__ = ["transcribe", "transcribe_file", "transcribe_folder", "transcribe_track", "write_outputs",
           "INSTRUMENT_RANGES", "pitch_range", "Transcription", "analyse_file", "check_options",
           "polyphony_share", "POLYPHONY_HARMONICITY", "POLYPHONY_CONFIDENCE", "POLYPHONY_SHARE",
           "POLYPHONY_MIN_FRAMES"]

# Written ranges (MIDI) with a little room; the model covers MIDI 24-107 (C1-B7).
INSTRUMENT_RANGES: dict[str, tuple[int, int]] = {
    "voice": (38, 86), "soprano": (57, 86), "alto": (52, 79), "tenor": (45, 74), "bass_voice": (38, 67),
    "flute": (58, 98), "piccolo": (72, 107), "recorder": (58, 88), "oboe": (56, 93), "clarinet": (48, 96),
    "bassoon": (32, 77), "sax": (42, 84), "alto_sax": (47, 82), "tenor_sax": (42, 77), "trumpet": (52, 86),
    "horn": (33, 79), "trombone": (38, 77), "tuba": (26, 65), "violin": (53, 103), "viola": (46, 91),
    "cello": (34, 84), "double_bass": (26, 67), "guitar": (38, 88), "bass": (26, 67), "piano": (24, 107),
    "whistle": (62, 98), "harmonica": (55, 91),
}
# Polyphony (:func:`polyphony_share`, ``Transcription.polyphonic``): a voiced frame is "chord-like" when little of its power lies on
# the harmonics of the chosen pitch (harmonicity below POLYPHONY_HARMONICITY) *and* the CNN is unsure
# of that pitch (confidence below POLYPHONY_CONFIDENCE); a recording warns when at least POLYPHONY_SHARE
# of its voiced frames are. Harmonicity alone (its median, the rule until 2026-12-02) also fired on one
# voice through a telephone band, whose missing fundamental reads as a chord's phantom root, and on
# guitar in reverb; the CNN stays sure of those pitches. On the sung path a frame's confidence is the
# larger of the CNN's and swift-f0's (a singer through a narrow phone band loses the harmonics the CNN
# leans on; swift-f0 does not), so two voices singing in harmony there may pass without a warning.
# Chosen on development renders and recordings (``python benchmarks/polyphony_choice.py``,
# benchmarks/results/transcription_polyphony.md): of a grid of 200 settings, the best of those that
# leave every real one-line recording at least 0.05 below the share.
POLYPHONY_HARMONICITY = 0.85
POLYPHONY_CONFIDENCE = 0.9
POLYPHONY_SHARE = 0.5
POLYPHONY_MIN_FRAMES = 20      # voiced frames needed before the share says anything (below: share 0)
STREAM_BLOCK_S = 30.0
SEGMENTATIONS = ("auto", "attack", "contour")
ANY_INSTRUMENT = ("", "any")


def _to_midi(value) -> float:
    """A frequency in Hz (number) or a note name ('G3') → MIDI number."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return float(name_to_midi(value))
    if value <= 0:
        raise TunesmithError(f"frequency must be positive, got {value}")
    return float(hz_to_midi(float(value)))


def pitch_range(instrument: str | None = None, fmin=None, fmax=None) -> tuple[float, float] | None:
    """The MIDI range to search: an ``instrument`` preset, narrowed or widened by ``fmin``/``fmax``.

    ``instrument`` ``None`` or ``"any"`` sets no preset.

    ``fmin``/``fmax`` are frequencies in Hz or note names ('E2'). ``None`` when nothing limits the range.
    """
    lo, hi = None, None
    if instrument and instrument.strip().lower() not in ANY_INSTRUMENT:
        key = instrument.lower().replace(" ", "_").replace("-", "_")
        if key not in INSTRUMENT_RANGES:
            raise TunesmithError(f"unknown instrument {instrument!r} (choose from {', '.join(sorted(INSTRUMENT_RANGES))})")
        lo, hi = INSTRUMENT_RANGES[key]
    if fmin is not None:
        lo = _to_midi(fmin)
    if fmax is not None:
        hi = _to_midi(fmax)
    if lo is None and hi is None:
        return None
    lo, hi = (lo if lo is not None else 0.0), (hi if hi is not None else 127.0)
    if lo >= hi:
        raise TunesmithError(f"fmin ({lo:.1f}) must be below fmax ({hi:.1f}) (MIDI numbers)")
    return float(lo), float(hi)


@dataclass
class Transcription:
    """Notes plus the frame analysis they came from (for pictures and frame-level evaluation)."""

    notes: NoteSequence
    track: object
    sung: bool = False
    choice: dict | None = None    # how the path was chosen (voice.sung_evidence, "screened_out")
    polyphony: float = 0.0        # share of voiced frames that sound like chords (:func:`polyphony_share`)

    @property
    def polyphonic(self) -> bool:
        """Chords or several voices at once: a :attr:`polyphony` of at least :data:`POLYPHONY_SHARE`."""
        return self.polyphony >= POLYPHONY_SHARE

    @property
    def warnings(self) -> list[str]:
        """What a person should know about this result, one line each (the CLI logs them, the web app shows them)."""
        if not len(self.notes):
            return ["no pitched notes found (silence or noise?)"]
        if self.polyphonic:
            return [f"sounds polyphonic ({100 * self.polyphony:.0f} % of voiced frames like chords); only the most "
                    "prominent line is transcribed, results will be partial"]
        return []


def check_options(min_note_ms, onset_threshold, tuning):
    """Raise a one-line :class:`TunesmithError` for settings no file could use (checked before a folder run)."""
    if not min_note_ms > 0:
        raise TunesmithError(f"min_note_ms must be positive, got {min_note_ms}")
    if not 0 < onset_threshold < 1:
        raise TunesmithError(f"onset_threshold must be between 0 and 1, got {onset_threshold}")
    if tuning is not None and not 380 <= float(tuning) <= 500:
        raise TunesmithError(f"tuning is the frequency of A4 in Hz (380-500), got {tuning}")


def transcribe_track(blocks, *, instrument: str | None = None, fmin=None, fmax=None,
                     min_note_ms: float = DEFAULT_MIN_NOTE_MS, onset_threshold: float = DEFAULT_ONSET_THRESHOLD,
                     voicing_threshold: float = DEFAULT_VOICING_THRESHOLD, tuning: float | None = None,
                     model=None, name: str | None = None, progress=None,
                     segmentation: str = "auto", replay=None) -> Transcription:
    """The full pipeline over an iterable of 16 kHz float blocks; returns notes and the frame track.

    Used by :func:`transcribe` and :func:`analyse_file`; call it directly for
    custom streaming sources. ``segmentation``: ``"attack"`` (the CNN's onsets and
    semitones, :func:`tunesmith.transcribe.segment.segment`; best on instruments),
    ``"contour"`` (the sung path: swift-f0's contour cut by
    :func:`tunesmith.transcribe.contour.contour_notes`), or ``"auto"``: the sung path
    for a voice preset or when :func:`tunesmith.transcribe.voice.is_sung` hears sung
    words or a singer's intonation, the attack path otherwise. ``Transcription.sung`` says which ran.

    The CNN pass runs first; swift-f0 runs in a second pass over the audio only when the
    sung path is forced or the CNN's track does not rule singing out
    (:func:`tunesmith.transcribe.voice.may_be_sung`). ``replay()`` returns the same blocks
    again for that pass (a file is read twice); without it the blocks are kept in memory
    (float16). ``progress(seconds)`` is called after each block of the CNN pass.
    """
    from tunesmith.transcribe import pitch as P
    from tunesmith.transcribe import voice as V
    from tunesmith.transcribe.contour import contour_notes
    from tunesmith.transcribe.quantize import annotate
    from tunesmith.transcribe.segment import segment

    check_options(min_note_ms, onset_threshold, tuning)
    if segmentation not in SEGMENTATIONS:
        raise TunesmithError(f"segmentation must be one of {', '.join(SEGMENTATIONS)}, got {segmentation!r}")
    rng = pitch_range(instrument, fmin, fmax)
    net = P.load_model(model)
    blocks = iter(blocks)
    first = next(blocks, None)
    if first is None:
        raise TunesmithError("no audio")
    a4 = float(tuning) if tuning else P.estimate_tuning(first, P.SR)
    preset = (instrument or "").lower().replace(" ", "_").replace("-", "_") in V.VOICE_PRESETS
    forced = segmentation == "contour" or (segmentation == "auto" and preset)
    bands = V.HighBand() if segmentation != "attack" else None
    kept: list | None = [] if bands is not None and replay is None else None

    def chained():
        for b in itertools.chain([first], blocks):
            if bands is not None:
                bands.push(b)
            if kept is not None:
                kept.append(np.asarray(b, dtype=np.float16))
            yield b

    track = P.track_blocks(chained(), net, a4_hz=a4, midi_range=rng, progress=progress)
    choice: dict = {"screened_out": False}
    sung = False
    if bands is not None:
        hop = track.hop_s
        if not forced and not V.may_be_sung(track.f0, track.voiced, bands.finish(len(track)), hop):
            choice["screened_out"] = True
        else:
            frames, heard, evidence = V.swift_pass(replay() if replay is not None else kept, len(track), hop,
                                                   midi_range=rng, gain=V.swift_gain(bands.peak),
                                                   early_exit=not forced)
            choice.update(evidence)
            sung = forced or heard
    kept = None
    sure = track.confidence                # how sure the pitch tracker is of one pitch, for the polyphony verdict
    if sung:
        conf = frames["confidence"]
        notes = contour_notes(frames["midi"], conf, track.power, track.hop_s, min_note_ms=min_note_ms)
        track.f0 = np.where(conf >= 0.5, frames["midi"], np.nan)
        # a singer through a narrow band loses the harmonics the CNN leans on; swift-f0 stays sure of the line
        sure = np.maximum(track.confidence, conf)
    else:
        notes = segment(track, onset_threshold=onset_threshold, min_note_ms=min_note_ms,
                        voicing_threshold=voicing_threshold)
    seq = annotate(NoteSequence(notes, name=name))
    voiced = track.voiced >= voicing_threshold
    return Transcription(seq, track, sung, choice, polyphony_share(track.harmonicity, sure, voiced))


def polyphony_share(harmonicity: np.ndarray, confidence: np.ndarray, voiced: np.ndarray) -> float:
    """Share of the ``voiced`` frames (a boolean mask) whose harmonicity is below :data:`POLYPHONY_HARMONICITY`
    and whose pitch confidence is below :data:`POLYPHONY_CONFIDENCE`; 0 with at most
    :data:`POLYPHONY_MIN_FRAMES` voiced frames. From :data:`POLYPHONY_SHARE` on, a take sounds polyphonic.

    Arrays are a :class:`~tunesmith.transcribe.pitch.FrameTrack`'s ``harmonicity`` and ``confidence``."""
    voiced = np.asarray(voiced, dtype=bool)
    if voiced.sum() <= POLYPHONY_MIN_FRAMES:
        return 0.0
    h, c = np.asarray(harmonicity)[voiced], np.asarray(confidence)[voiced]
    return float(np.mean((h < POLYPHONY_HARMONICITY) & (c < POLYPHONY_CONFIDENCE)))


def transcribe(audio: Audio | np.ndarray, sr: int | None = None, **options) -> NoteSequence:
    """Transcribe a monophonic recording held in memory.

    Parameters
    ----------
    audio : :class:`~tunesmith.audio.Audio`, or a 1-D float array with ``sr``.
    sr : sample rate in Hz of an array ``audio`` (ignored for ``Audio``).
    instrument : preset range, e.g. ``"voice"``, ``"flute"``, ``"violin"``, ``"cello"``,
        ``"guitar"``, ``"bass"`` (see :data:`INSTRUMENT_RANGES`).
    fmin, fmax : lowest / highest pitch to report, in Hz or as note names (override the preset).
    min_note_ms : shortest note kept, in milliseconds (default 50).
    onset_threshold : onset probability (0-1) that starts a new note (default 0.5; lower
        finds more repeated notes, higher fewer spurious splits).
    tuning : A4 in Hz; ``None`` estimates it from the recording.
    model : path of a transcriber checkpoint (default: the shipped one, :func:`tunesmith.models.path`).
    segmentation : ``"auto"`` (default), ``"attack"`` or ``"contour"`` (see :func:`transcribe_track`).

    Returns a NoteSequence of performed notes (seconds) with tempo, time
    signature and key estimated; an empty one for silence or noise.
    """
    from tunesmith.transcribe.pitch import SR

    if not isinstance(audio, Audio):
        if sr is None:
            raise TunesmithError("transcribe(array) needs sr= (the sample rate in Hz)")
        audio = Audio(np.asarray(audio, dtype=np.float32), sr)
    if len(audio.samples) == 0:
        return NoteSequence([], name=options.get("name"))
    y = audio.resample(SR).samples
    block = int(STREAM_BLOCK_S * SR)
    def blocks():
        return (y[i:i + block] for i in range(0, len(y), block))

    return transcribe_track(blocks(), replay=blocks, **options).notes


def analyse_file(path: str | Path, *, progress: bool = False, on_progress=None, **options) -> Transcription:
    """Transcribe one audio file, streamed from disk; the :class:`Transcription` with its frame track.

    The one entry point of the adapters (CLI, web app) for a file. ``options`` are those of
    :func:`transcribe_track`. ``progress=True`` shows a bar on stderr for files longer than a
    minute; ``on_progress(seconds_done, seconds_total)`` is called after every analysed block of
    audio (seconds of the file, increasing, the last call with ``seconds_done == seconds_total``).
    Raises :class:`~tunesmith.errors.AudioError` for a missing, empty or unreadable file.
    """
    import logging  # the library logs, the adapters show it (tunesmith.cli shows it on stderr)

    from tunesmith.audio import info, stream
    from tunesmith.transcribe.pitch import SR

    path = Path(path)
    meta = info(path)   # raises AudioError for missing / unreadable files
    total = float(meta["duration"])
    bar = None
    if progress and total > 2 * STREAM_BLOCK_S:
        from tqdm.auto import tqdm

        bar = tqdm(total=round(total), unit="s", desc=path.name, file=sys.stderr, leave=False)
    done = [0.0]

    def advance(seconds: float) -> None:
        done[0] = min(total, done[0] + seconds)
        if bar is not None:
            bar.update(round(seconds))
        if on_progress is not None:
            on_progress(done[0], total)

    def blocks():
        return (b.samples for b in stream(path, block_s=STREAM_BLOCK_S, sr=SR))

    try:
        result = transcribe_track(blocks(), name=options.pop("name", None) or path.stem,
                                  progress=advance if (bar is not None or on_progress is not None) else None,
                                  replay=blocks, **options)
    finally:
        if bar is not None:
            bar.close()
    if on_progress is not None and done[0] < total:
        on_progress(total, total)
    for message in result.warnings:
        logging.getLogger(__name__).warning("warning: %s: %s", path, message)
    return result


def transcribe_file(path: str | Path, **options) -> NoteSequence:
    """Transcribe an audio file (streamed in blocks, so any length fits in memory).

    Takes the options of :func:`transcribe` (plus ``progress=True`` for a bar on
    long files). Raises :class:`~tunesmith.errors.AudioError` for a missing,
    empty or unreadable file; silence or noise gives an empty NoteSequence and a
    one-line message on stderr; clearly polyphonic input a one-line warning.
    """
    return analyse_file(path, **options).notes


def write_outputs(result: Transcription, stem: str | Path, *, grid: float = 0.25,
                  formats=("mid", "csv", "musicxml", "png")) -> list[Path]:
    """Write ``<stem>.mid``/``.csv`` (as performed), ``.musicxml`` (quantised) and ``.png``; atomically."""
    from tunesmith.notes import note_sequence_to_csv, note_sequence_to_midi, note_sequence_to_musicxml
    from tunesmith.transcribe.plot import transcription_png
    from tunesmith.transcribe.quantize import score

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)

    def out(ext: str) -> Path:
        return stem.parent / f"{stem.name}{ext}"

    seq = result.notes
    written = []
    if "mid" in formats:
        written.append(note_sequence_to_midi(seq, out(".mid")))
    if "csv" in formats:
        note_sequence_to_csv(seq, out(".csv"))
        written.append(out(".csv"))
    if "musicxml" in formats and len(seq):
        written.append(note_sequence_to_musicxml(score(seq, grid=grid), out(".musicxml"), grid=grid))
    if "png" in formats:
        written.append(transcription_png(result.track, seq, out(".png"), title=stem.name))
    return written


def transcribe_folder(paths, out_dir: str | Path, *, grid: float = 0.25, progress: bool = True, **options):
    """Transcribe every audio file under ``paths`` (files or folders) into ``out_dir``.

    Writes ``<stem>.mid``, ``.csv``, ``.musicxml`` and ``.png`` per file, mirroring
    the input folders. Bad files are reported (one line each) and skipped.
    Returns a :class:`tunesmith.batch.BatchResult` mapping each good file to its NoteSequence.
    """
    from tunesmith.batch import iter_inputs, run_batch
    from tunesmith.io import AUDIO_EXTENSIONS, output_path

    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [str(p) for p in paths]
    files = iter_inputs(paths, AUDIO_EXTENSIONS)

    def one(f: Path) -> NoteSequence:
        result = analyse_file(f, progress=progress, **options)
        target = output_path(f, paths, out_dir, ".mid")
        write_outputs(result, target.parent / target.name[: -len(".mid")], grid=grid)
        return result.notes

    return run_batch(files, one, desc="transcribing", quiet=not progress)

