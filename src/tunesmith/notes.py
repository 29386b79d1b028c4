"""``Note`` and ``NoteSequence``, the one way notes travel through tunesmith, and their file formats.

Transcription produces a :class:`NoteSequence`, the composer reads and writes
them, and every file format converts through it:

=========================  ===========================================================
format                     functions
=========================  ===========================================================
MIDI (.mid, .midi)         :func:`midi_to_note_sequence`, :func:`note_sequence_to_midi`
MusicXML (.musicxml, .mxl) :func:`music21_to_note_sequence`, :func:`note_sequence_to_musicxml`
ABC (.abc), kern (.krn)    :func:`music21_to_note_sequence` (read)
CSV (.csv)                 :func:`csv_to_note_sequence`, :func:`note_sequence_to_csv`
JSON (.json)               :func:`json_to_note_sequence`, :func:`note_sequence_to_json`
=========================  ===========================================================

:func:`load_notes` and :func:`save_notes` dispatch on the extension. MIDI is read
and written with ``mido`` (fast); the notation formats go through ``music21``.

A file may hold several pieces (an ABC book of tunes, a MusicXML opus, a
multi-movement kern file): :func:`load_pieces` returns all of them, each named
``"<file stem>#<index> <title>"`` (index from 1, in file order), with the ones
that could not be read listed and the reason; :func:`load_notes` reads one piece
(the first unless ``piece=`` says which) and logs how many the file holds. ABC
books are split on their ``X:`` lines and the tunes parsed in a process pool,
without music21's notation-only beaming and re-barring (the same notes).

Times are in seconds. A sequence is *quantised* when every note also carries
``onset_beats`` and ``duration_beats`` (quarter notes); :func:`quantize` makes a
quantised copy and never changes its input.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tunesmith.errors import NotesError, QuantizationError
from tunesmith.io import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

__all__ = [
    "Note", "NoteSequence", "note_name", "name_to_midi", "hz_to_midi", "midi_to_hz", "quantize",
    "load_notes", "save_notes", "midi_to_note_sequence", "note_sequence_to_midi",
    "music21_to_note_sequence", "note_sequence_to_music21", "note_sequence_to_musicxml",
    "csv_to_note_sequence", "note_sequence_to_csv", "json_to_note_sequence", "note_sequence_to_json",
    "parse_key", "parse_music21_file", "DEFAULT_TEMPO", "CSV_COLUMNS",
    "Pieces", "load_pieces", "split_abc_book", "quiet_music21", "pickup_beats",
]

DEFAULT_TEMPO = 120.0
CSV_COLUMNS = ("onset_s", "offset_s", "pitch_midi", "note_name", "velocity")
_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
_STEP_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Keys (tonic pitch class, mode) whose signature uses flats.
_FLAT_MAJOR_TONICS = {5, 10, 3, 8, 1, 6}   # F Bb Eb Ab Db Gb
_FLAT_MINOR_TONICS = {2, 7, 0, 5, 10, 3}   # d g c f bb eb


# ----------------------------------------------------------------------------- pitch helpers
def hz_to_midi(hz):
    """Frequency in Hz → fractional MIDI number (A4 = 440 Hz = 69)."""
    return 69.0 + 12.0 * np.log2(np.asarray(hz, dtype=np.float64) / 440.0)


def midi_to_hz(midi):
    """MIDI number (fractional allowed) → frequency in Hz."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def parse_key(key: str | None) -> tuple[int, str] | None:
    """'D minor' / 'Bb major' / 'f#' (lower case = minor) → (tonic pitch class 0-11, 'major'|'minor').

    ``None`` for an empty or unreadable key.
    """
    if not key:
        return None
    parts = key.replace("-", " ").split() if " " in key else [key]
    tonic = parts[0]
    mode = parts[1].lower() if len(parts) > 1 else ("minor" if tonic[:1].islower() else "major")
    tonic = tonic[:1].upper() + tonic[1:]
    if tonic[:1] not in _STEP_PC:
        return None
    pc = _STEP_PC[tonic[0]] + tonic[1:].count("#") - tonic[1:].count("b")
    return pc % 12, ("minor" if mode.startswith("min") else "major")


def _key_uses_flats(key: str | None) -> bool:
    """Whether ``key``'s signature has flats: the tonic's own accidental decides ('Gb major' flats,
    'F# major' sharps); natural tonics follow the circle of fifths (F major, D minor: flats)."""
    parsed = parse_key(key)
    if not parsed or key is None:
        return False
    tonic = key.split()[0] if " " in key else key
    if "#" in tonic[1:]:
        return False
    if "b" in tonic[1:]:
        return True
    pc, mode = parsed
    return pc in (_FLAT_MINOR_TONICS if mode == "minor" else _FLAT_MAJOR_TONICS)


def note_name(pitch: float, key: str | None = None) -> str:
    """Spell a MIDI pitch as a note name with octave ('C#4', 'Bb3'); middle C is C4.

    With ``key`` ('F major', 'D minor', 'g') black keys are spelled with the
    key's accidentals (flats in flat keys), otherwise with sharps.
    """
    m = int(round(float(pitch)))
    names = _FLAT_NAMES if _key_uses_flats(key) else _SHARP_NAMES
    return f"{names[m % 12]}{m // 12 - 1}"


def name_to_midi(name: str) -> int:
    """'C4' → 60, 'Bb3' → 58, 'F#5' → 78, 'C-1' → 0 (a '-' is a negative octave, not a flat)."""
    s = name.strip()
    if not s or s[0].upper() not in _STEP_PC:
        raise ValueError(f"not a note name: {name!r}")
    i, acc = 1, 0
    while i < len(s) and s[i] in "#b":
        acc += 1 if s[i] == "#" else -1
        i += 1
    try:
        octave = int(s[i:])
    except ValueError:
        raise ValueError(f"not a note name (octave missing): {name!r}") from None
    return (octave + 1) * 12 + _STEP_PC[s[0].upper()] + acc


# ----------------------------------------------------------------------------- types
@dataclass(frozen=True)
class Note:
    """One note: MIDI ``pitch`` (fractional allowed), ``onset``/``offset`` in seconds, ``velocity`` 1–127.

    ``onset_beats`` and ``duration_beats`` (in quarter notes) are set when the
    note sits on a metrical grid (symbolic sources, or after :func:`quantize`).
    """

    pitch: float
    onset: float
    offset: float
    velocity: int = 80
    onset_beats: float | None = None
    duration_beats: float | None = None

    @property
    def duration(self) -> float:
        return self.offset - self.onset

    @property
    def name(self) -> str:
        return note_name(self.pitch)

    @property
    def beats(self) -> tuple[float, float]:
        """``(onset_beats, duration_beats)``; :class:`QuantizationError` when the note is not on a grid."""
        if self.onset_beats is None or self.duration_beats is None:
            raise QuantizationError("note is not quantised (see tunesmith.notes.quantize)")
        return self.onset_beats, self.duration_beats

    @property
    def hz(self) -> float:
        return float(midi_to_hz(self.pitch))


@dataclass
class NoteSequence:
    """An ordered list of :class:`Note` plus what is known of tempo, metre and key.

    ``tempo`` is in quarter-note beats per minute, ``time_signature`` a
    ``(numerator, denominator)`` pair, ``key`` a name such as ``"D minor"``;
    each is ``None`` when unknown. ``program`` is the General MIDI program
    (0–127) used when the sequence is written or rendered.
    """

    notes: list[Note] = field(default_factory=list)
    tempo: float | None = None
    time_signature: tuple[int, int] | None = None
    key: str | None = None
    program: int = 0
    name: str | None = None

    def __post_init__(self):
        self.notes = sorted(self.notes, key=lambda n: (n.onset, -n.pitch))

    def __len__(self) -> int:
        return len(self.notes)

    def __iter__(self) -> Iterator[Note]:
        return iter(self.notes)

    def __getitem__(self, i):
        return self.notes[i]

    @property
    def duration(self) -> float:
        """End of the last note, in seconds."""
        return max((n.offset for n in self.notes), default=0.0)

    @property
    def is_quantized(self) -> bool:
        return bool(self.notes) and all(n.onset_beats is not None and n.duration_beats is not None
                                        for n in self.notes)

    def copy(self, **changes) -> "NoteSequence":
        return replace(self, notes=list(changes.pop("notes", self.notes)), **changes)

    def transpose(self, semitones: int) -> "NoteSequence":
        """A copy with every pitch moved by ``semitones`` (the key name is moved too)."""
        key = self.key
        parsed = parse_key(key)
        if parsed:
            pc, mode = parsed
            tonic = note_name((pc + semitones) % 12 + 60, None)[:-1]
            key = f"{tonic} {mode}"
        return self.copy(notes=[replace(n, pitch=n.pitch + semitones) for n in self.notes], key=key)

    def arrays(self) -> dict[str, np.ndarray]:
        """Column arrays: pitch, onset, offset, velocity (for plotting and evaluation)."""
        return {
            "pitch": np.array([n.pitch for n in self.notes], dtype=np.float64),
            "onset": np.array([n.onset for n in self.notes], dtype=np.float64),
            "offset": np.array([n.offset for n in self.notes], dtype=np.float64),
            "velocity": np.array([n.velocity for n in self.notes], dtype=np.int64),
        }

    def is_monophonic(self, tolerance: float = 0.03) -> bool:
        """True when no note starts more than ``tolerance`` seconds before the previous one ends."""
        return all(b.onset >= a.offset - tolerance for a, b in zip(self.notes, self.notes[1:]))

    def melody(self) -> "NoteSequence":
        """The highest voice as a monophonic line ("skyline").

        At each onset the highest sounding note wins; a note is cut where a new
        melody note starts, and notes hidden under a higher held note are dropped.
        """
        out: list[Note] = []
        for n in sorted(self.notes, key=lambda n: (n.onset, -n.pitch)):
            if out and n.onset < out[-1].offset - 1e-6:
                prev = out[-1]
                if abs(n.onset - prev.onset) < 1e-6 or n.pitch <= prev.pitch:
                    continue  # same onset (lower note of a chord) or hidden under a held note
                out[-1] = _truncate(prev, n.onset, n.onset_beats)
            out.append(n)
        return self.copy(notes=[n for n in out if n.duration > 0])


def _truncate(n: Note, offset: float, offset_beats: float | None) -> Note:
    dur_beats = n.duration_beats
    if dur_beats is not None and offset_beats is not None and n.onset_beats is not None:
        dur_beats = offset_beats - n.onset_beats
    return replace(n, offset=offset, duration_beats=dur_beats)


def quantize(seq: NoteSequence, *, tempo: float | None = None, grid: float = 0.25,
             offset_s: float = 0.0) -> NoteSequence:
    """Snap onsets and durations to a grid of ``grid`` quarter notes at ``tempo`` BPM.

    Returns a quantised copy: ``onset_beats``/``duration_beats`` are set, and the
    times in seconds are moved onto the grid too. Every note keeps at least one
    grid step. ``offset_s`` is the time of beat 0. Raises
    :class:`QuantizationError` when no tempo is given or known, or the grid is
    not positive.
    """
    tempo = tempo or seq.tempo
    if not tempo or tempo <= 0:
        raise QuantizationError("cannot quantise: no tempo given and none known for the sequence")
    if grid <= 0:
        raise QuantizationError(f"grid must be a positive number of quarter notes, got {grid}")
    spb = 60.0 / tempo
    notes = []
    for n in seq.notes:
        on = round((n.onset - offset_s) / spb / grid) * grid
        off = round((n.offset - offset_s) / spb / grid) * grid
        off = max(off, on + grid)
        notes.append(replace(n, onset_beats=on, duration_beats=off - on,
                             onset=offset_s + on * spb, offset=offset_s + off * spb))
    return seq.copy(notes=notes, tempo=float(tempo))


# ----------------------------------------------------------------------------- MIDI (mido)
def _tempo_map(mid) -> list[tuple[int, float, int]]:
    """[(tick, seconds_at_tick, microseconds_per_beat)] from every set_tempo in the file."""
    events = []
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                events.append((tick, msg.tempo))
    events.sort()
    out, sec, last_tick, last_tempo = [(0, 0.0, 500000)], 0.0, 0, 500000
    for tick, t in events:
        sec += (tick - last_tick) * last_tempo / 1e6 / mid.ticks_per_beat
        last_tick, last_tempo = tick, t
        if out[-1][0] == tick:
            out[-1] = (tick, sec, t)
        else:
            out.append((tick, sec, t))
    return out


def midi_to_note_sequence(path: str | Path, track: int | None = None) -> NoteSequence:
    """Read a Standard MIDI File.

    ``track`` picks one track by index (as ``mido`` numbers them); by default all
    non-drum notes are kept. Use :meth:`NoteSequence.melody` for the top line.
    Beat positions come from the file's own tick grid.
    """
    import mido

    path = Path(path)
    try:
        mid = mido.MidiFile(str(path))
    except FileNotFoundError:
        raise NotesError("no such file", path) from None
    except Exception as exc:
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise NotesError(f"not a readable MIDI file ({reason})", path) from None
    tpb = mid.ticks_per_beat
    tmap = _tempo_map(mid)
    ticks = np.array([t for t, _, _ in tmap])

    def seconds(tick: int) -> float:
        i = int(np.searchsorted(ticks, tick, side="right") - 1)
        t0, s0, tempo = tmap[i]
        return s0 + (tick - t0) * tempo / 1e6 / tpb

    if track is not None and not 0 <= track < len(mid.tracks):
        raise NotesError(f"track {track} does not exist (the file has {len(mid.tracks)})", path)
    notes: list[Note] = []
    ts = key = None
    program = None
    for ti, trk in enumerate(mid.tracks):
        tick = 0
        active: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for msg in trk:
            tick += msg.time
            if msg.type == "time_signature" and ts is None:
                ts = (msg.numerator, msg.denominator)
            elif msg.type == "key_signature" and key is None:
                key = _mido_key_to_name(msg.key)
            if track is not None and ti != track:
                continue
            if msg.type == "program_change" and program is None and msg.channel != 9:
                program = msg.program
            if msg.type not in ("note_on", "note_off") or msg.channel == 9:
                continue
            k = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                active.setdefault(k, []).append((tick, msg.velocity))
            elif active.get(k):
                start, vel = active[k].pop(0)
                if tick > start:
                    notes.append(Note(float(msg.note), seconds(start), seconds(tick), int(vel),
                                      start / tpb, (tick - start) / tpb))
    tempo = 60e6 / tmap[0][2] if len(tmap) else DEFAULT_TEMPO
    return NoteSequence(notes, tempo=round(tempo, 3), time_signature=ts, key=key,
                        program=program or 0, name=path.stem)


def _mido_key_to_name(k: str) -> str:
    return f"{k[:-1]} minor" if k.endswith("m") else f"{k} major"


def _name_to_mido_key(key: str | None) -> str | None:
    parsed = parse_key(key)
    if not parsed:
        return None
    pc, mode = parsed
    tonic = (_FLAT_NAMES if _key_uses_flats(key) else _SHARP_NAMES)[pc]
    if mode == "major" and tonic in ("A#", "D#", "G#"):
        tonic = _FLAT_NAMES[pc]
    if mode == "minor" and tonic in ("A#", "Db", "Gb"):
        tonic = {"A#": "Bb", "Db": "C#", "Gb": "F#"}[tonic]
    return tonic + ("m" if mode == "minor" else "")


def note_sequence_to_midi(seq: NoteSequence, path: str | Path, *, program: int | None = None,
                          ticks_per_beat: int = 480) -> Path:
    """Write ``seq`` as a one-track Standard MIDI File (atomically).

    Quantised sequences are written on their beat grid; others by their times
    in seconds at ``seq.tempo`` (120 BPM when unknown). Pitches are rounded.
    """
    import mido

    tempo = seq.tempo or DEFAULT_TEMPO
    program = seq.program if program is None else program
    if not 0 <= int(program) <= 127:
        raise NotesError(f"GM program must be 0-127, got {program}")
    mid = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    trk = mido.MidiTrack()
    mid.tracks.append(trk)
    meta = [mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0)]
    if seq.time_signature:
        meta.append(mido.MetaMessage("time_signature", numerator=seq.time_signature[0],
                                     denominator=seq.time_signature[1], time=0))
    mk = _name_to_mido_key(seq.key)
    if mk:
        meta.append(mido.MetaMessage("key_signature", key=mk, time=0))
    if seq.name:
        meta.append(mido.MetaMessage("track_name", name=str(seq.name)[:60], time=0))
    trk.extend(meta)
    trk.append(mido.Message("program_change", program=int(program), channel=0, time=0))
    quant = seq.is_quantized
    events = []
    for n in seq.notes:
        if quant:
            b_on, b_dur = n.beats
            on, off = b_on * ticks_per_beat, (b_on + b_dur) * ticks_per_beat
        else:
            on, off = n.onset * tempo / 60 * ticks_per_beat, n.offset * tempo / 60 * ticks_per_beat
        on, off = int(round(on)), int(round(off))
        off = max(off, on + 1)
        p = int(min(127, max(0, round(n.pitch))))
        v = int(min(127, max(1, n.velocity)))
        events.append((off, 0, p, 0))  # note-offs sort before note-ons at the same tick
        events.append((on, 1, p, v))
    events.sort()
    last = 0
    for tick, kind, p, v in events:
        trk.append(mido.Message("note_on" if kind else "note_off", note=p, velocity=v if kind else 0,
                                channel=0, time=tick - last))
        last = tick
    trk.append(mido.MetaMessage("end_of_track", time=0))
    with atomic_path(path) as tmp:
        mid.save(str(tmp))
    return Path(path)


# ----------------------------------------------------------------------------- music21 formats
ABC_POOL_MIN_TUNES = 24        # fewer tunes than this are parsed in this process (a pool costs ~1 s to start)
ABC_HEADER_FIELDS = re.compile(r"^(?:[A-JL-SU-WYZa-z]:|%%)")   # file-header lines every tune inherits (not K:, T:, X:)
_ABC_TUNE_START = re.compile(r"^X:", re.MULTILINE)


@contextlib.contextmanager
def quiet_music21():
    """Keep music21 quiet while it reads or writes a file.

    Its Python warnings, the lines its environment ``warn`` writes to stderr
    and anything it prints (beaming complaints, "MusicXMLWarning: ...") are
    collected and logged at DEBUG on ``tunesmith.notes``, so that a verb's
    standard output holds only its own results.
    """
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                yield
        finally:
            said = [str(w.message) for w in caught] + [t for t in (out.getvalue(), err.getvalue()) if t.strip()]
            for text in said:
                log.debug("music21: %s", " ".join(text.split())[:300])


@contextlib.contextmanager
def _without_beams():
    """music21's ABC reader without its notation-only passes, for reading notes.

    Skips ``makeBeams`` (about 70 % of the parsing time of a tune) and the ABC
    translator's ``reBar`` (re-barring overfull measures; up to half of what is
    left on the Essen books). Measured on music21's ``airdsAirs/book1.abc`` and
    ``essenFolksong/altdeu10.abc`` (513 tunes): the same notes and anacruses
    with and without them.
    """
    from music21 import stream
    from music21.abcFormat import translate

    def no_beams(self, *args, inPlace=False, **kwargs):
        return None if inPlace else self

    def no_rebar(part, *, inPlace=False):
        return None if inPlace else part

    saved = stream.Stream.makeBeams, translate.reBar
    stream.Stream.makeBeams, translate.reBar = no_beams, no_rebar
    try:
        yield
    finally:
        stream.Stream.makeBeams, translate.reBar = saved


def _one_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"


def parse_music21_file(path: Path):
    """Parse a symbolic file (MusicXML, ABC, kern, MIDI...) with music21: its first piece.

    ABC books and other collections hold several pieces; :func:`load_pieces`
    reads them all. Raises :class:`~tunesmith.errors.NotesError` (one line
    naming the file) when music21 cannot read it.
    """
    path = Path(path)
    if path.suffix.lower() == ".abc":  # the first tune only: no need to parse the whole book
        return _abc_score(path, 1)
    return _music21_scores(path)[0]


def _read_abc(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return path.read_text(encoding="latin-1")  # older ABC books are Latin-1


def _abc_score(path: Path, index: int):
    """The ``index``-th tune (from 1) of an ABC file as a music21 score."""
    import music21

    tunes = split_abc_book(_read_abc(path))
    if not 1 <= index <= len(tunes):
        raise NotesError(f"piece {index} does not exist ({len(tunes)} tunes)", path)
    try:
        with quiet_music21(), _without_beams():
            score = music21.converter.parse(tunes[index - 1][1], format="abc")
    except Exception as exc:  # noqa: BLE001 - music21 raises anything on malformed files
        raise NotesError(f"cannot parse tune {index} ({_one_line(exc)})", path) from None
    return score.scores[0] if isinstance(score, music21.stream.Opus) else score


_MUSICXML_PITCH = re.compile(rb"<pitch>(.*?)</pitch>", re.DOTALL)
_MUSICXML_STEP = re.compile(rb"<step>\s*[A-Ga-g]\s*</step>")


def _check_musicxml_steps(path: Path) -> None:
    """NotesError when a ``<pitch>`` of an (uncompressed) MusicXML file has no valid ``<step>`` (A-G).

    music21 reads a missing or empty step as C without a word, which would
    silently change the music.
    """
    if path.suffix.lower() not in (".musicxml", ".xml"):
        return
    for i, m in enumerate(_MUSICXML_PITCH.finditer(path.read_bytes()), start=1):
        if not _MUSICXML_STEP.search(m.group(1)):
            raise NotesError(f"pitch {i} has no valid step (A-G): malformed MusicXML", path)


def _music21_scores(path: Path) -> list:
    """Every score music21 finds in ``path`` (an Opus gives its scores); NotesError when none."""
    import music21

    _check_musicxml_steps(path)
    fmt = {".abc": "abc", ".krn": "humdrum"}.get(path.suffix.lower())
    try:
        with quiet_music21():
            obj = music21.converter.parse(str(path), format=fmt) if fmt else music21.converter.parse(str(path))
    except Exception as exc:  # noqa: BLE001 - music21 raises anything on malformed files
        raise NotesError(f"cannot parse ({_one_line(exc)})", path) from None
    scores = list(obj.scores) if isinstance(obj, music21.stream.Opus) else [obj]
    if not scores:
        raise NotesError("contains no pieces", path)
    return scores


def split_abc_book(text: str) -> list[tuple[str, str]]:
    """Split ABC text into tunes on its ``X:`` lines: ``[(title, tune_text), ...]`` in file order.

    The file header (the lines before the first ``X:``) is repeated in front of
    each tune's text, apart from its ``K:``/``T:`` lines, so that defaults such
    as ``L:`` or ``M:`` still apply. The title is the tune's first ``T:`` field
    (empty when it has none). Text without an ``X:`` line is one tune.
    """
    starts = [m.start() for m in _ABC_TUNE_START.finditer(text)]
    if not starts:
        return [(_abc_title(text), text)]
    header = "".join(line + "\n" for line in text[:starts[0]].splitlines() if ABC_HEADER_FIELDS.match(line))
    bounds = zip(starts, starts[1:] + [len(text)])
    return [(_abc_title(text[a:b]), header + text[a:b]) for a, b in bounds]


def _abc_title(tune: str) -> str:
    m = re.search(r"^T:(.*)$", tune, re.MULTILINE)
    return m.group(1).strip() if m else ""


def _piece_name(stem: str, index: int, title: str, n_pieces: int) -> str:
    """``stem`` for a file with one piece, else ``stem#index title`` (index from 1)."""
    if n_pieces == 1:
        return stem
    return f"{stem}#{index} {title}".rstrip()


def _abc_tune_to_sequence(job: tuple[str, str, int | str | None]) -> tuple[NoteSequence | None, float, str | None]:
    """Worker: (tune text, piece name, part) -> (sequence, pickup beats, None) or (None, 0, reason)."""
    import music21

    text, name, part = job
    try:
        with quiet_music21(), _without_beams():
            score = music21.converter.parse(text, format="abc")
            if isinstance(score, music21.stream.Opus):
                score = score.scores[0]
            seq = music21_to_note_sequence(score, part=part, name=name)
            pickup = pickup_beats(score)
    except NotesError as exc:
        return None, 0.0, exc.message
    except Exception as exc:  # noqa: BLE001 - one bad tune must not lose the book
        return None, 0.0, f"cannot parse ({_one_line(exc)})"
    if not len(seq):
        return None, 0.0, "no notes"
    return seq, pickup, None


@dataclass
class Pieces:
    """All the pieces one file holds, in file order, and the ones that could not be read.

    ``sequences[i]`` is a piece (its ``name`` is ``"stem#index title"`` when the
    file holds several), ``pickups[i]`` its anacrusis in quarter notes (0 when
    none or unknown), and ``skipped`` maps the name of each unreadable piece to
    the reason.
    """

    path: Path
    sequences: list[NoteSequence] = field(default_factory=list)
    pickups: list[float] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sequences)

    def report(self) -> str:
        """One line: ``FILE: N pieces`` plus the skipped ones and why."""
        line = f"{self.path}: {len(self.sequences)} piece{'s' if len(self.sequences) != 1 else ''}"
        if self.skipped:
            line += f", {len(self.skipped)} skipped (" + "; ".join(f"{k}: {v}" for k, v in self.skipped.items()) + ")"
        return line


def _abc_pieces(path: Path, part, workers: int | None, limit: int | None) -> Pieces:
    tunes = split_abc_book(_read_abc(path))
    jobs = [(tune, _piece_name(path.stem, i, title, len(tunes)), part)
            for i, (title, tune) in enumerate(tunes[:limit] if limit else tunes, start=1)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1 or len(jobs) < ABC_POOL_MIN_TUNES:
        results = [_abc_tune_to_sequence(j) for j in jobs]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_abc_tune_to_sequence, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
    out = Pieces(path)
    for (_, name, _), (seq, pickup, why) in zip(jobs, results):
        if seq is None:
            out.skipped[name] = why or "not read"
        else:
            out.sequences.append(seq)
            out.pickups.append(pickup)
    return out


def load_pieces(path: str | Path, *, track: int | None = None, part: int | str | None = None,
                workers: int | None = None, limit: int | None = None) -> Pieces:
    """Every piece in a note file, in file order (see :class:`Pieces`).

    Parameters
    ----------
    path : any file :func:`load_notes` reads. ABC books give one piece per
        ``X:`` tune, music21 opus files one per score; MIDI, CSV and JSON files
        hold one piece.
    track, part : MIDI track, or notation part (index or name), as for :func:`load_notes`.
    workers : processes for parsing the tunes of a large ABC book (default: all cores).
    limit : read only the first ``limit`` pieces.

    Raises :class:`~tunesmith.errors.NotesError` when the file itself cannot be
    read; a piece that cannot be read is listed in ``Pieces.skipped``. A file
    none of whose pieces can be read raises too.
    """
    path = Path(path)
    _check_readable(path)
    ext = path.suffix.lower()
    if ext == ".abc":
        out = _abc_pieces(path, part, workers, limit)
    elif ext in _MUSIC21_EXT:
        scores = _music21_scores(path)[:limit] if limit else _music21_scores(path)
        out = Pieces(path)
        for i, score in enumerate(scores, start=1):
            title = (score.metadata.title if getattr(score, "metadata", None) else None) or ""
            name = _piece_name(path.stem, i, title, len(scores))
            try:
                seq = music21_to_note_sequence(score, part=part, name=name)
            except NotesError as exc:
                out.skipped[name] = exc.message
                continue
            out.sequences.append(seq)
            out.pickups.append(pickup_beats(score))
    else:
        out = Pieces(path, [load_notes(path, track=track)], [0.0])
    if not out.sequences:
        first = next(iter(out.skipped.items()), ("", "no pieces"))
        raise NotesError(f"none of its {len(out.skipped)} pieces could be read (first: {first[0]}: {first[1]})"
                         if len(out.skipped) > 1 else first[1], path)
    return out


def pickup_beats(score) -> float:
    """Length (quarter notes) of the part of the first bar that an anacrusis leaves out (0 when none)."""
    try:
        parts = list(score.parts) or [score]
        measures = list(parts[0].getElementsByClass("Measure"))
        return float(measures[0].paddingLeft) if measures else 0.0
    except Exception:  # noqa: BLE001 - metadata only; a score without bars simply has none
        return 0.0


def music21_to_note_sequence(source, part: int | str | None = None, *, name: str | None = None) -> NoteSequence:
    """Convert a music21 score (or a path to MusicXML, ABC, kern, ...) to a NoteSequence.

    ``part`` selects a part by index or name (e.g. ``"Soprano"``); by default the
    part named Soprano if there is one, else the first part. Chords give their
    top note, ties are joined, grace notes are skipped. Seconds come from the
    first metronome mark (120 BPM when none). A score music21 builds but that
    cannot be read as notes raises :class:`~tunesmith.errors.NotesError`.
    """
    path = None
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise NotesError("no such file", path)
        source = parse_music21_file(path)
        name = name or path.stem
    try:
        return _score_to_sequence(source, part, name, path)
    except NotesError:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed scores break music21 in many ways; one line names the file
        raise NotesError(f"cannot read its notes ({_one_line(exc)})", path or name) from None


def _part_name(p) -> str:
    return (getattr(p, "partName", None) or "").lower()


def _score_to_sequence(score, part, name, path) -> NoteSequence:
    import music21

    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    if part is None:
        chosen = next((p for p in parts if _part_name(p).startswith("soprano")), parts[0])
    elif isinstance(part, int):
        if not -len(parts) <= part < len(parts):
            raise NotesError(f"part {part} does not exist ({len(parts)} parts)", path)
        chosen = parts[part]
    else:
        matches = [p for p in parts if _part_name(p) == part.lower()]
        if not matches:
            raise NotesError(f"no part named {part!r}", path)
        chosen = matches[0]
    flat = chosen.flatten()
    marks = list(score.flatten().getElementsByClass(music21.tempo.MetronomeMark))
    tempo = float(marks[0].getQuarterBPM()) if marks and marks[0].number else DEFAULT_TEMPO
    ts_objs = list(flat.getElementsByClass(music21.meter.TimeSignature))
    ts = (ts_objs[0].numerator, ts_objs[0].denominator) if ts_objs else None
    keys = list(flat.getElementsByClass(music21.key.KeySignature))
    key = None
    if keys:
        k = keys[0]
        k = k if isinstance(k, music21.key.Key) else k.asKey("major")
        key = f"{k.tonic.name.replace('-', 'b')} {k.mode}"
    seq = NoteSequence(_join_ties(flat.notes, 60.0 / tempo), tempo=tempo, time_signature=ts, key=key, name=name)
    return seq.melody() if not seq.is_monophonic(tolerance=1e-6) else seq


def _join_ties(elements, spb: float) -> list[Note]:
    """Notes of music21 notes/chords (top note of a chord) in order, tied notes joined into one.

    A note whose tie continues or stops an open one that ends where it starts
    lengthens that note (what music21's ``stripTies`` does, without its deep
    copy of the score): the open note of the same pitch, else the note just
    before it (an ABC tie across a barline whose accidental music21 dropped
    still means the same pitch). Grace notes and empty durations are skipped.
    ``spb``: seconds per quarter note.
    """
    notes: list[Note] = []
    open_ties: dict[int, int] = {}  # MIDI pitch -> index in notes of a note whose tie goes on
    for el in elements:
        if el.duration.isGrace or el.quarterLength <= 0:
            continue
        midi = max(p.midi for p in el.pitches) if el.isChord else el.pitch.midi
        on, dur = float(el.offset), float(el.quarterLength)
        tie = el.tie.type if el.tie is not None else None
        k = open_ties.pop(midi, None)
        if k is None and tie in ("continue", "stop") and len(notes) - 1 in open_ties.values():
            k = len(notes) - 1
            open_ties = {p: i for p, i in open_ties.items() if i != k}
            midi = int(notes[k].pitch)
        if k is not None and tie in ("continue", "stop") and abs(sum(notes[k].beats) - on) < 1e-6:
            prev = notes[k]
            notes[k] = replace(prev, offset=(on + dur) * spb, duration_beats=prev.beats[1] + dur)
        else:
            vel = el.volume.velocity if el.volume.velocity is not None else 80
            notes.append(Note(float(midi), on * spb, (on + dur) * spb, int(vel), on, dur))
            k = len(notes) - 1
        if tie in ("start", "continue"):
            open_ties[midi] = k
    return notes


def note_sequence_to_music21(seq: NoteSequence, *, grid: float = 0.25, title: str | None = None):
    """Build a music21 Score (one part) from ``seq``; unquantised input is quantised to ``grid`` beats.

    Notes with the same onset become a chord; a note is cut where the next one
    starts, so the part is one voice. Pitches are spelled for ``seq.key``.
    """
    import music21

    tempo = seq.tempo or DEFAULT_TEMPO
    if not seq.is_quantized:
        seq = quantize(seq, tempo=tempo, grid=grid)
    part = music21.stream.Part()
    part.insert(0, music21.instrument.instrumentFromMidiProgram(int(seq.program)))
    part.insert(0, music21.tempo.MetronomeMark(number=round(tempo, 1)))
    num, den = seq.time_signature or (4, 4)
    part.insert(0, music21.meter.TimeSignature(f"{num}/{den}"))
    parsed = parse_key(seq.key)
    if parsed:
        tonic = note_name(parsed[0] + 60, seq.key)[:-1].replace("b", "-")
        part.insert(0, music21.key.Key(tonic, parsed[1]))
    groups: dict[float, list[Note]] = {}
    for n in seq.notes:
        groups.setdefault(round(n.beats[0], 6), []).append(n)
    onsets = sorted(groups)
    for i, on in enumerate(onsets):
        ns = groups[on]
        dur = max(n.beats[1] for n in ns)
        if i + 1 < len(onsets):
            dur = min(dur, onsets[i + 1] - on)
        names = [note_name(n.pitch, seq.key).replace("b", "-") for n in ns]  # music21 writes flats as '-'
        el = music21.chord.Chord(names) if len(ns) > 1 else music21.note.Note(names[0])
        el.quarterLength = dur
        el.volume.velocity = int(max(n.velocity for n in ns))
        part.insert(on, el)
    score = music21.stream.Score()
    score.insert(0, music21.metadata.Metadata(title=title or seq.name or "tunesmith"))
    score.insert(0, part)
    return score.makeNotation()


def note_sequence_to_musicxml(seq: NoteSequence, path: str | Path, *, grid: float = 0.25) -> Path:
    """Write ``seq`` as MusicXML to exactly ``path`` (atomically), quantising to ``grid`` quarter notes if needed.

    Returns ``path``: the file written, whatever its suffix (``.musicxml``, ``.xml``).
    """
    score = note_sequence_to_music21(seq, grid=grid, title=seq.name or Path(path).stem)
    with atomic_path(path) as tmp, quiet_music21():
        written = score.write("musicxml", fp=str(tmp))
        if Path(written) != tmp:  # music21 may pick its own name; the caller's path is what counts
            Path(written).replace(tmp)
    return Path(path)


# ----------------------------------------------------------------------------- CSV and JSON
def note_sequence_to_csv(seq: NoteSequence, path: str | Path | None = None) -> str:
    """CSV with columns ``onset_s, offset_s, pitch_midi, note_name, velocity``; written if ``path``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for n in seq.notes:
        pitch = int(n.pitch) if float(n.pitch).is_integer() else round(float(n.pitch), 3)
        w.writerow([f"{n.onset:.4f}", f"{n.offset:.4f}", pitch, note_name(n.pitch, seq.key), n.velocity])
    text = buf.getvalue()
    if path is not None:
        atomic_write_text(path, text)
    return text


def csv_to_note_sequence(path: str | Path) -> NoteSequence:
    """Read a note CSV: ours, or basic-pitch's ``start_time_s,end_time_s,pitch_midi,velocity``."""
    path = Path(path)
    if not path.exists():
        raise NotesError("no such file", path)
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise NotesError(f"not a CSV text file ({exc})", path) from None
    notes = []
    for i, r in enumerate(rows, start=2):
        try:
            on = float(r.get("onset_s") or r["start_time_s"])
            off = float(r.get("offset_s") or r["end_time_s"])
            pitch = r.get("pitch_midi") or name_to_midi(r["note_name"])
            notes.append(Note(float(pitch), on, off, int(float(r.get("velocity") or 80))))
        except (KeyError, TypeError, ValueError):
            raise NotesError(f"line {i}: expected columns {', '.join(CSV_COLUMNS)}", path) from None
    return NoteSequence(notes, name=path.stem)


def note_sequence_to_json(seq: NoteSequence, path: str | Path | None = None) -> str:
    """JSON object with ``tempo``, ``time_signature``, ``key``, ``program`` and a ``notes`` list."""
    notes = []
    for n in seq.notes:
        d = {"onset_s": round(n.onset, 4), "offset_s": round(n.offset, 4), "pitch_midi": n.pitch,
             "note_name": note_name(n.pitch, seq.key), "velocity": n.velocity}
        if n.onset_beats is not None:
            d["onset_beats"], d["duration_beats"] = n.onset_beats, n.duration_beats
        notes.append(d)
    obj = {"name": seq.name, "tempo": seq.tempo,
           "time_signature": list(seq.time_signature) if seq.time_signature else None,
           "key": seq.key, "program": seq.program, "notes": notes}
    text = json.dumps(obj, indent=1)
    if path is not None:
        atomic_write_text(path, text)
    return text


def json_to_note_sequence(path: str | Path) -> NoteSequence:
    """Read the JSON written by :func:`note_sequence_to_json` (or a bare list of note objects)."""
    path = Path(path)
    if not path.exists():
        raise NotesError("no such file", path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotesError(f"not valid JSON ({exc})", path) from None
    items = obj if isinstance(obj, list) else obj.get("notes", [])
    try:
        notes = [Note(float(d["pitch_midi"]), float(d["onset_s"]), float(d["offset_s"]),
                      int(d.get("velocity", 80)), d.get("onset_beats"), d.get("duration_beats"))
                 for d in items]
    except (KeyError, TypeError, ValueError):
        raise NotesError("each note needs onset_s, offset_s and pitch_midi", path) from None
    meta = obj if isinstance(obj, dict) else {}
    ts = meta.get("time_signature")
    return NoteSequence(notes, tempo=meta.get("tempo"), time_signature=tuple(ts) if ts else None,
                        key=meta.get("key"), program=int(meta.get("program") or 0),
                        name=meta.get("name") or path.stem)


# ----------------------------------------------------------------------------- dispatch
_READERS = {
    ".mid": midi_to_note_sequence, ".midi": midi_to_note_sequence,
    ".csv": csv_to_note_sequence, ".json": json_to_note_sequence,
}
_MUSIC21_EXT = (".musicxml", ".xml", ".mxl", ".abc", ".krn")


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise NotesError("no such file", path)
    if path.stat().st_size == 0:
        raise NotesError("empty file (0 bytes)", path)


def load_notes(path: str | Path, *, track: int | None = None, part: int | str | None = None,
               piece: int | None = None) -> NoteSequence:
    """Read one piece of any symbolic file tunesmith knows, by extension (see the module table).

    ``piece`` (from 1) picks a piece of a collection (an ABC book, an opus);
    by default the first, and a file that holds more says so in the log
    (:func:`load_pieces` reads them all).
    """
    path = Path(path)
    ext = path.suffix.lower()
    _check_readable(path)
    if ext in (".mid", ".midi"):
        return midi_to_note_sequence(path, track=track)
    if ext in _READERS:
        return _READERS[ext](path)
    if ext == ".abc":
        tunes = split_abc_book(_read_abc(path))
        if len(tunes) > 1 and piece is None:
            log.info("%s holds %d tunes; reading the first (tunesmith.notes.load_pieces reads all)", path, len(tunes))
        index = piece or 1
        score = _abc_score(path, index)
        return music21_to_note_sequence(score, part=part, name=_piece_name(path.stem, index, tunes[index - 1][0],
                                                                            len(tunes)))
    if ext in _MUSIC21_EXT:
        scores = _music21_scores(path)
        if len(scores) > 1 and piece is None:
            log.info("%s holds %d pieces; reading the first (tunesmith.notes.load_pieces reads all)", path, len(scores))
        index = piece or 1
        if not 1 <= index <= len(scores):
            raise NotesError(f"piece {index} does not exist ({len(scores)} pieces)", path)
        return music21_to_note_sequence(scores[index - 1], part=part,
                                        name=path.stem if len(scores) == 1 else f"{path.stem}#{index}")
    raise NotesError(f"unknown note file type {ext!r} (expected .mid, .musicxml, .mxl, .abc, .krn, .csv or .json)", path)


def save_notes(seq: NoteSequence, path: str | Path, *, grid: float = 0.25) -> Path:
    """Write ``seq`` by extension: .mid/.midi, .musicxml/.xml, .csv or .json."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext in (".mid", ".midi"):
        return note_sequence_to_midi(seq, path)
    if ext in (".musicxml", ".xml"):
        return note_sequence_to_musicxml(seq, path, grid=grid)
    if ext == ".csv":
        note_sequence_to_csv(seq, path)
        return path
    if ext == ".json":
        note_sequence_to_json(seq, path)
        return path
    raise NotesError(f"cannot write note files of type {ext!r} (use .mid, .musicxml, .csv or .json)", path)


def iter_events(seq: NoteSequence) -> Iterable[tuple[str, float, float]]:
    """Yield ('note', pitch, beats) and ('rest', 0, beats) events of a quantised monophonic sequence."""
    if not seq.is_quantized:
        raise QuantizationError("iter_events needs a quantised sequence (see tunesmith.notes.quantize)")
    t = None
    for n in seq.melody().notes:
        on, dur = n.beats
        if t is not None and on > t + 1e-6:
            yield ("rest", 0.0, on - t)
        yield ("note", n.pitch, dur)
        t = on + dur
