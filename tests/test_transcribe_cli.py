"""End-to-end tests: rendered melodies through transcribe/transcribe_file and the two CLI verbs; bad input."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from tunesmith.audio import Audio, save
from tunesmith.cli import main
from tunesmith.errors import AudioError, TunesmithError
from tunesmith.notes import Note, NoteSequence, note_sequence_to_csv
from tunesmith.render import fluidsynth_available, render
from tunesmith.transcribe import pitch_range, transcribe, transcribe_file
from tunesmith.transcribe.evaluate import note_scores

pytestmark = pytest.mark.skipif(not fluidsynth_available(), reason="FluidSynth and a GM soundfont are needed")
SR = 22050


def tune(program: int, shift: int = 0) -> NoteSequence:
    """A known folk-like line with a repeated note, a leap and a rest, performed at 100 qpm."""
    pitches = [67, 67, 69, 71, 74, 72, 71, 69, 67, 62, 64, 66, 67]
    beats = [0.5, 0.5, 1, 1, 1, 0.5, 0.5, 1, 1.5, 0.5, 1, 1, 2]
    spb, t, notes = 0.6, 0.0, []
    for i, (p, b) in enumerate(zip(pitches, beats)):
        if i == 9:
            t += 1.0                                  # a rest
        notes.append(Note(float(p + shift), 0.3 + t * spb, 0.3 + (t + b * 0.85) * spb, 90))
        t += b
    return NoteSequence(notes, program=program)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    d = tmp_path_factory.mktemp("tx")
    out = {}
    for name, program, shift in (("flute", 73, 5), ("cello", 42, -19)):
        ref = tune(program, shift)
        audio = render(ref, SR)
        save(audio, d / f"{name}.wav")
        note_sequence_to_csv(ref, d / f"{name}.csv")
        out[name] = (d / f"{name}.wav", ref, audio)
    return d, out


@pytest.mark.parametrize("name", ["flute", "cello"])
def test_transcribe_file_finds_the_notes(recordings, name):
    _, recs = recordings
    path, ref, _ = recs[name]
    seq = transcribe_file(path)
    (p, r, f), _ = note_scores(ref, seq)
    assert f >= 0.8, [(n.name, round(n.onset, 2)) for n in seq]
    assert seq.tempo and seq.key and seq.time_signature
    assert all(1 <= n.velocity <= 127 for n in seq)


def test_transcribe_array_and_options(recordings):
    _, recs = recordings
    _, ref, audio = recs["flute"]
    seq = transcribe(audio.samples, sr=audio.sr, instrument="flute", min_note_ms=60, tuning=440.0)
    assert note_scores(ref, seq)[0][2] >= 0.8
    # a range that excludes the melody leaves (almost) nothing
    high = transcribe(audio, fmin="C7")
    assert len(high) <= 2
    with pytest.raises(TunesmithError, match="unknown instrument"):
        transcribe(audio, instrument="kazoo-horn")
    with pytest.raises(TunesmithError, match="sr="):
        transcribe(audio.samples)
    with pytest.raises(TunesmithError, match="onset_threshold"):
        transcribe(audio, onset_threshold=1.5)
    assert pitch_range("violin", fmax="E6") == (53.0, 88.0)


def test_detuned_recording_keeps_its_note_names(recordings):
    import soxr

    _, recs = recordings
    _, ref, audio = recs["flute"]
    cents = 35
    y = soxr.resample(audio.samples, SR, SR / 2 ** (cents / 1200))     # sharper by 35 cents, a little faster
    seq = transcribe(Audio(y.astype(np.float32), SR))
    scaled = NoteSequence([Note(n.pitch, n.onset / 2 ** (cents / 1200), n.offset / 2 ** (cents / 1200))
                           for n in ref])
    assert note_scores(scaled, seq)[0][2] >= 0.8


def test_silence_gives_empty_notes_and_a_message(tmp_path, caplog):
    save(Audio(np.zeros(SR * 2, np.float32), SR), tmp_path / "quiet.wav")
    seq = transcribe_file(tmp_path / "quiet.wav")
    assert len(seq) == 0
    assert "no pitched notes" in caplog.text  # logged (tunesmith.transcribe), never printed


def test_noise_gives_no_notes(tmp_path, capsys):
    rng = np.random.default_rng(3)
    save(Audio((rng.normal(size=SR * 3) * 0.1).astype(np.float32), SR), tmp_path / "hiss.wav")
    seq = transcribe_file(tmp_path / "hiss.wav")
    assert len(seq) <= 1


def test_chords_warn_polyphonic(tmp_path, caplog):
    chords = [Note(float(p), t * 0.8, t * 0.8 + 0.75, 90) for t, root in enumerate([60, 65, 67, 60])
              for p in (root, root + 4, root + 7)]
    save(render(NoteSequence(chords, program=0), SR), tmp_path / "chords.wav")
    transcribe_file(tmp_path / "chords.wav")
    assert "polyphonic" in caplog.text and "% of voiced frames like chords" in caplog.text


def test_bad_files_raise_one_line_audio_errors(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio at all")
    for f in ("empty.wav", "text.wav", "missing.wav"):
        with pytest.raises(AudioError) as exc:
            transcribe_file(tmp_path / f)
        assert "\n" not in str(exc.value) and f in str(exc.value)


def test_cli_transcribe_writes_all_outputs_and_skips_bad_files(recordings, tmp_path, capsys):
    d, recs = recordings
    (d / "broken.wav").write_text("garbage")
    try:
        code = main(["transcribe", str(d), "-o", str(tmp_path / "out"), "--grid", "1/8", "--min-note", "40"])
    finally:
        (d / "broken.wav").unlink()
    err = capsys.readouterr().err
    assert code == 1 and "broken.wav" in err and "Traceback" not in err
    for stem in ("flute", "cello"):
        for ext in (".mid", ".csv", ".musicxml", ".png"):
            assert (tmp_path / "out" / f"{stem}{ext}").stat().st_size > 0
    rows = list(csv.DictReader((tmp_path / "out" / "flute.csv").read_text().splitlines()))
    assert len(rows) >= 11 and rows[0]["note_name"]
    import music21

    score = music21.converter.parse(str(tmp_path / "out" / "flute.musicxml"))
    assert len(score.flatten().notes) >= 11
    assert score.flatten().getElementsByClass(music21.key.KeySignature)


def test_cli_bad_arguments_are_one_line_errors(recordings, tmp_path, capsys):
    d, _ = recordings
    assert main(["transcribe", str(d / "flute.wav"), "-o", str(tmp_path), "--instrument", "kazoo"]) == 1
    assert main(["transcribe", str(tmp_path / "nope.wav"), "-o", str(tmp_path)]) == 1
    assert main(["transcribe", str(d / "flute.wav"), "-o", str(tmp_path), "--grid", "x"]) == 1
    err = capsys.readouterr().err
    assert err.count("tunesmith: error:") == 3 and "Traceback" not in err


def test_cli_evaluate_transcription(recordings, capsys, tmp_path):
    d, _ = recordings
    code = main(["evaluate-transcription", "--data", str(d), "--report", str(tmp_path / "r.md")])
    out = capsys.readouterr().out
    assert code == 0
    assert "flute.wav" in out and "cello.wav" in out and "overall" in out
    overall = [line for line in out.splitlines() if "overall" in line][0]
    f1 = float(overall.split("|")[5])
    assert f1 >= 0.8
    assert (tmp_path / "r.md").read_text().startswith("| file")
    assert main(["evaluate-transcription", "--data", str(tmp_path / "none")]) == 1


def test_instrument_any_is_accepted_and_means_no_preset():
    from tunesmith.transcribe import pitch_range

    assert pitch_range("any") is None
    assert pitch_range("Any", fmin="C3") == (48.0, 127.0)


def test_evaluate_finds_references_in_a_sibling_folder(tmp_path):
    """The shipped layout: audio in data/songs, references in data/reference (same stem)."""
    import soundfile as sf

    from tunesmith.transcribe.evaluate import pair_files

    (tmp_path / "songs").mkdir()
    (tmp_path / "reference").mkdir()
    sf.write(tmp_path / "songs" / "tune.wav", np.zeros(1600, np.float32), 16000)
    sf.write(tmp_path / "songs" / "other.wav", np.zeros(1600, np.float32), 16000)   # no reference: skipped
    (tmp_path / "reference" / "tune.csv").write_text("onset_s,offset_s,pitch_midi\n0.1,0.5,60\n")
    (tmp_path / "reference" / "tune.mid").write_bytes(b"")
    assert pair_files(tmp_path) == [(tmp_path / "songs" / "tune.wav", tmp_path / "reference" / "tune.csv")]
