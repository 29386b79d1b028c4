"""tunesmith.notes: names, quantisation, skyline, and round trips through every file format."""
from __future__ import annotations

from pathlib import Path

import mido
import pytest

from tunesmith.errors import NotesError, QuantizationError
from tunesmith.notes import (
    Note, NoteSequence, iter_events, load_notes, midi_to_note_sequence, music21_to_note_sequence,
    name_to_midi, note_name, quantize, save_notes,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "songs"


def _same_notes(a: NoteSequence, b: NoteSequence, tol: float = 1e-3, velocity: bool = True):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.pitch == y.pitch
        assert abs(x.onset - y.onset) < tol and abs(x.offset - y.offset) < tol
        if velocity:
            assert x.velocity == y.velocity


@pytest.mark.parametrize("name,midi", [("C4", 60), ("A4", 69), ("C#4", 61), ("Bb3", 58),
                                       ("C-1", 0), ("G9", 127), ("F#5", 78), ("Ebb4", 62)])
def test_name_to_midi(name, midi):
    assert name_to_midi(name) == midi


def test_note_name_spelling_follows_key():
    assert [note_name(p) for p in (60, 61, 70)] == ["C4", "C#4", "A#4"]
    assert note_name(70, "F major") == "Bb4" and note_name(63, "C minor") == "Eb4"
    assert note_name(66, "D major") == "F#4" and note_name(61, "g") == "Db4"
    assert note_name(70, "F# major") == "A#4" and note_name(66, "Gb major") == "Gb4"
    assert note_name(63, "D# minor") == "D#4" and note_name(63, "Eb minor") == "Eb4"
    for p in range(0, 128):
        assert name_to_midi(note_name(p)) == p and name_to_midi(note_name(p, "Bb major")) == p


def test_quantize_returns_copy_and_snaps(melody):
    jittered = melody.copy(notes=[Note(n.pitch, n.onset + 0.02, n.offset - 0.03, n.velocity) for n in melody])
    q = quantize(jittered, tempo=120, grid=0.25)
    assert not jittered.is_quantized and q.is_quantized
    assert [n.onset_beats for n in q] == [n.onset_beats for n in melody]
    assert [n.duration_beats for n in q] == [n.duration_beats for n in melody]
    with pytest.raises(QuantizationError):
        quantize(NoteSequence([Note(60, 0, 1)]))
    with pytest.raises(QuantizationError):
        quantize(melody, grid=0)


def test_melody_skyline_keeps_top_voice():
    seq = NoteSequence([Note(60, 0, 1), Note(64, 0, 1), Note(67, 0.5, 1.5), Note(55, 0.6, 2.0), Note(62, 1.5, 2)])
    top = seq.melody()
    assert [(n.pitch, n.onset, n.offset) for n in top] == [(64, 0, 0.5), (67, 0.5, 1.5), (62, 1.5, 2)]
    assert top.is_monophonic() and not seq.is_monophonic()


def test_transpose_moves_pitch_and_key(melody):
    up = melody.transpose(2)
    assert [n.pitch for n in up] == [n.pitch + 2 for n in melody] and up.key == "D major"


@pytest.mark.parametrize("ext", [".mid", ".musicxml", ".csv", ".json"])
def test_round_trip_every_format(tmp_path, chorale, ext):
    path = save_notes(chorale, tmp_path / f"c{ext}")
    back = load_notes(path)
    _same_notes(chorale, back, velocity=ext != ".musicxml")
    if ext in (".mid", ".musicxml", ".json"):
        assert back.key == chorale.key and back.time_signature == chorale.time_signature
        assert back.tempo == pytest.approx(chorale.tempo)
        assert [n.duration_beats for n in back] == [n.duration_beats for n in chorale]


def test_unquantised_midi_and_csv_keep_performed_times(tmp_path):
    seq = NoteSequence([Note(69.0, 0.013, 0.377, 64), Note(71.0, 0.41, 0.9, 100)], tempo=97.0)
    _same_notes(seq, load_notes(save_notes(seq, tmp_path / "p.mid")), tol=2e-3)
    _same_notes(seq, load_notes(save_notes(seq, tmp_path / "p.csv")))
    text = (tmp_path / "p.csv").read_text().splitlines()
    assert text[0] == "onset_s,offset_s,pitch_midi,note_name,velocity" and text[1].endswith(",69,A4,64")


def test_musicxml_score_is_quantised_and_spelled(tmp_path):
    import music21

    seq = NoteSequence([Note(70.0, 0.0, 0.49), Note(63.0, 0.52, 1.0), Note(65, 1.0, 2.0)], tempo=120,
                       key="Bb major", time_signature=(3, 4))
    score = music21.converter.parse(str(save_notes(seq, tmp_path / "s.musicxml")))
    names = [n.nameWithOctave for n in score.stripTies().flatten().notes]
    assert names == ["B-4", "E-4", "F4"]
    assert [n.quarterLength for n in score.stripTies().flatten().notes] == [1.0, 1.0, 2.0]


def test_midi_tempo_changes_give_correct_seconds(tmp_path):
    mid = mido.MidiFile(ticks_per_beat=100)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr += [mido.MetaMessage("set_tempo", tempo=500000, time=0),
           mido.Message("note_on", note=60, velocity=80, time=0),
           mido.Message("note_off", note=60, time=200),               # 2 beats at 120 BPM = 1 s
           mido.MetaMessage("set_tempo", tempo=1000000, time=0),      # now 60 BPM
           mido.Message("note_on", note=62, velocity=80, time=0),
           mido.Message("note_off", note=62, time=100)]               # 1 beat at 60 BPM = 1 s
    mid.save(tmp_path / "t.mid")
    seq = midi_to_note_sequence(tmp_path / "t.mid")
    assert [(n.onset, n.offset) for n in seq] == [(0.0, 1.0), (1.0, 2.0)]
    assert seq.tempo == 120


def test_read_abc_and_kern():
    import music21

    abc = next(DATA.glob("*.abc"))
    seq = load_notes(abc)
    assert len(seq) > 20 and seq.key and seq.time_signature and seq.is_monophonic()
    krn = [p for p in music21.corpus.getPaths(fileExtensions=("krn",)) if "bwv" in str(p)][0]
    k = load_notes(krn)
    assert len(k) > 20 and k.is_quantized


def test_iter_events_yields_rests():
    seq = NoteSequence([Note(60, 0, 0.5, 80, 0, 1), Note(62, 1.0, 1.5, 80, 2, 1)], tempo=120)
    assert list(iter_events(seq)) == [("note", 60, 1), ("rest", 0.0, 1), ("note", 62, 1)]


@pytest.mark.parametrize("content,suffix,needle", [
    (b"", ".mid", "empty"), (b"garbage", ".mid", "not a readable MIDI"), (b"x,y\n1,2\n", ".csv", "line 2"),
    (b"{", ".json", "not valid JSON"), (b"abc", ".xyz", "unknown note file type"),
])
def test_bad_note_files(tmp_path, content, suffix, needle):
    p = tmp_path / f"bad{suffix}"
    p.write_bytes(content)
    with pytest.raises(NotesError, match=needle) as exc:
        load_notes(p)
    assert str(p) in str(exc.value)


def test_missing_part_is_an_error(chorale):
    import music21

    score = music21.corpus.parse("bach/bwv10.7.mxl")
    assert len(music21_to_note_sequence(score, part="Bass")) > 20
    with pytest.raises(NotesError, match="no part named"):
        music21_to_note_sequence(score, part="Tuba")
