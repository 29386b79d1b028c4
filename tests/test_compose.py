"""Composer: tokens, folder parsing + cache, training/resume, sampling constraints, scoring, CLI."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tunesmith.compose import tokens as T  # noqa: E402
from tunesmith.notes import Note, NoteSequence, note_sequence_to_midi, save_notes  # noqa: E402

TINY = ["model.hidden=32", "model.layers=1", "model.pitch_dim=16", "model.dur_dim=8", "model.pos_dim=4", "model.bar_dim=2",
        "model.dropout=0.0", "optim.lr=0.01", "optim.lr_schedule=none", "data.batch_size=4",
        "trainer.enable_progress_bar=false", "trainer.accelerator=cpu", "early_stopping.patience=0"]


def make_seq(pitches, beats, *, key="C major", name="tune", rest_after=None, ts=(4, 4)):
    """A quantised melody at 120 BPM; ``rest_after`` inserts a one-beat rest after that note index."""
    notes, t = [], 0.0
    for i, (p, b) in enumerate(zip(pitches, beats)):
        notes.append(Note(float(p), t * 0.5, (t + b) * 0.5, 90, t, float(b)))
        t += b + (1 if rest_after == i else 0)
    return NoteSequence(notes, tempo=120.0, time_signature=ts, key=key, name=name)


SONGS = [
    ([60, 62, 64, 65, 67, 67, 69, 67, 65, 64, 62, 60], [1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 2, 2]),
    ([67, 65, 64, 62, 60, 62, 64, 60, 67, 65, 64, 62, 60], [1, 1, 1, 1, 2, 1, 1, 2, 1, 1, 1, 1, 4]),
    ([60, 64, 67, 72, 67, 64, 60, 62, 64, 65, 67, 60], [1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 4]),
    ([64, 64, 65, 67, 67, 65, 64, 62, 60, 60, 62, 64, 64, 62, 62], [1] * 12 + [1.5, 0.5, 2]),
    ([72, 71, 69, 67, 65, 64, 62, 60, 62, 64, 60], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4]),
    ([60, 60, 67, 67, 69, 69, 67, 65, 65, 64, 64, 62, 62, 60], [1] * 6 + [2] + [1] * 6 + [2]),
]


@pytest.fixture(scope="module")
def song_dir(tmp_path_factory):
    """A folder of six short C-major songs as MIDI and MusicXML, a corrupt file and a subfolder."""
    d = tmp_path_factory.mktemp("songs")
    (d / "more").mkdir()
    for i, (p, b) in enumerate(SONGS):
        seq = make_seq(p, b, name=f"song{i}", rest_after=3 if i == 0 else None)
        if i % 2:
            save_notes(seq, d / f"song{i}.musicxml")
        else:
            note_sequence_to_midi(seq, (d / "more" if i == 4 else d) / f"song{i}.mid")
    (d / "broken.mid").write_bytes(b"MThd this is not midi")
    return d


@pytest.fixture(scope="module")
def trained(song_dir, tmp_path_factory):
    """A tiny composer trained for 4 epochs on the song folder (shared by several tests)."""
    from tunesmith.compose.train import load_config, train_composer

    out = tmp_path_factory.mktemp("run")
    cache = tmp_path_factory.mktemp("cache")
    cfg = load_config(None, TINY + ["trainer.max_epochs=4", f"data.cache_dir={cache}", "data.workers=1",
                                    "data.valid_fraction=0.3"])
    best = train_composer(song_dir, out_dir=out, cfg=cfg)
    return out, best, cfg


# ----------------------------------------------------------------------------- tokens
def test_encode_decode_roundtrip_with_rest_and_positions():
    seq = make_seq([60, 62, 64, 65], [1, 0.5, 0.5, 2], rest_after=1)
    mel = T.encode(seq, key_normalize=False)
    assert mel.pitch.tolist() == [60, 62, T.REST, 64, 65]
    assert [T.token_duration(d) for d in mel.dur] == [1, 0.5, 1, 0.5, 2]
    # positions in twelfths of a quarter within a 4/4 bar: onsets 0, 1, 1.5, 2.5, 3
    assert mel.pos.tolist() == [0, 12, 18, 30, 36]
    back = T.decode(mel.pitch, mel.dur, tempo=120.0)
    assert [n.pitch for n in back] == [60, 62, 64, 65]
    assert [n.onset_beats for n in back] == [0, 1, 2.5, 3]


def test_pickup_shifts_bar_positions():
    seq = make_seq([67, 72, 71], [1, 2, 2])
    mel = T.encode(seq, key_normalize=False, pickup_beats=3.0)  # anacrusis on beat 4
    assert mel.pos.tolist() == [36, T.N_POSITIONS + 0, T.N_POSITIONS + 24]  # bar 0 (pickup), then bar 1


def test_key_normalisation_is_a_transposition_to_no_accidentals():
    assert T.key_shift("C major") == 0 and T.key_shift("A minor") == 0
    assert T.key_shift("G major") == 5                    # one sharp: G + 5 = C
    assert (T.key_shift("D minor") + 5) % 12 == 0        # one flat → F major → C
    assert T.key_shift("E major") == -4                   # four sharps, nearest shift
    seq = make_seq([62, 64, 65, 67], [1, 1, 1, 1], key="D minor")
    mel = T.encode(seq, key_normalize=True)
    assert mel.pitch.tolist() == [57, 59, 60, 62]         # D minor → A minor
    assert T.estimate_key([62, 64, 65, 67, 69, 70, 72, 74, 69, 62, 65], None).startswith("D minor")


# ----------------------------------------------------------------------------- data
def test_folder_parsing_lists_bad_files_and_caches(song_dir, tmp_path, monkeypatch):
    from tunesmith.compose import data

    files = data.melody_files(song_dir)
    assert len(files) == 7  # 6 songs (one in a subfolder) + the broken file
    mels, failed = data.load_corpus(files, cache_dir=tmp_path, workers=1, progress=False)
    assert len(mels) == 6 and list(failed) == [str(song_dir / "broken.mid")]
    assert "MIDI" in failed[str(song_dir / "broken.mid")]
    # the MusicXML and MIDI routes give the same tokens as encoding the sequence directly
    by_name = {m.name: m for m in mels}
    ref = T.encode(make_seq(*SONGS[1], name="song1"))
    assert by_name["song1"].pitch.tolist() == ref.pitch.tolist()
    assert by_name["song1"].dur.tolist() == ref.dur.tolist()
    assert T.REST in by_name["song0"].pitch.tolist()

    def boom(*a, **k):
        raise AssertionError("re-parsed a cached file")

    monkeypatch.setattr(data, "load_melody", boom)
    again, failed2 = data.load_corpus(files, cache_dir=tmp_path, workers=1, progress=False)
    assert [m.pitch.tolist() for m in again] == [m.pitch.tolist() for m in mels]
    assert failed2 == failed  # the failure is cached too


def test_split_is_by_song_and_deterministic(tmp_path):
    from tunesmith.compose.data import split_by_song

    files = [tmp_path / f"s{i:03d}.mid" for i in range(50)]
    tr, va = split_by_song(files, 0.2)
    assert set(tr).isdisjoint(va) and len(tr) + len(va) == 50 and 3 <= len(va) <= 20
    assert split_by_song(list(reversed(files)), 0.2) == (tr, va)
    assert all(len(x) == 1 for x in split_by_song(files[:2], 0.1))


def test_midi_melody_is_the_highest_monophonic_track(tmp_path):
    import mido

    from tunesmith.compose.data import load_melody

    mid = mido.MidiFile(ticks_per_beat=480)
    for base in (48, 72):  # bass track, then melody track
        trk = mido.MidiTrack()
        for k in range(8):
            trk.append(mido.Message("note_on", note=base + (k % 3) * 2, velocity=80, time=0))
            trk.append(mido.Message("note_off", note=base + (k % 3) * 2, velocity=0, time=480))
        mid.tracks.append(trk)
    mid.save(str(tmp_path / "two.mid"))
    seq, _ = load_melody(tmp_path / "two.mid")
    assert min(n.pitch for n in seq) == 72
    seq0, _ = load_melody(tmp_path / "two.mid", track=0)
    assert max(n.pitch for n in seq0) == 52


def test_audio_song_is_transcribed(tmp_path):
    from tunesmith.compose.data import load_melody
    from tunesmith.render import render_to_file

    seq = make_seq([60, 64, 67, 72, 67, 64], [1, 1, 1, 1, 1, 2])
    render_to_file(seq, tmp_path / "tune.wav", 22050)
    got, _ = load_melody(tmp_path / "tune.wav")   # the shipped transcriber is package data: no skip
    assert len(got) >= 4 and 55 <= np.median([n.pitch for n in got]) <= 75


# ----------------------------------------------------------------------------- training
def test_training_writes_run_folder_and_resume_continues(trained, song_dir):
    from tunesmith.compose.train import train_composer

    out, best, cfg = trained
    for name in ("best.ckpt", "last.ckpt", "config.yaml", "metrics.csv", "training_curves.png"):
        assert (out / name).exists(), name
    rows = [r for r in (out / "metrics.csv").read_text().splitlines()[1:]]
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    vals = [float(r.split(",")[header.index("val_bits_per_note")]) for r in rows
            if r.split(",")[header.index("val_bits_per_note")]]
    assert len(vals) == 4 and min(vals[1:]) < vals[0]  # it learns
    with pytest.raises(Exception, match="--resume"):
        train_composer(song_dir, out_dir=out, cfg=cfg)
    cfg2 = {**cfg, "trainer": {**cfg["trainer"], "max_epochs": 6}}
    train_composer(song_dir, out_dir=out, cfg=cfg2, resume=True)
    ck = torch.load(out / "last.ckpt", weights_only=True)
    assert ck["epoch"] == 5  # continued from epoch 4 instead of starting over
    # the resumed run appends to the history instead of replacing it (Lightning's CSV logger would wipe it)
    import csv

    with (out / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    val_epochs = [int(r["epoch"]) for r in rows if r.get("val_bits_per_note")]
    assert val_epochs == list(range(6)), val_epochs
    steps = [int(r["step"]) for r in rows if r.get("train_loss")]
    assert steps == sorted(steps) and len(steps) == len(set(steps))
    assert not (out / "metrics.before-resume.csv").exists()


def test_checkpoint_loads_weights_only_and_rejects_other_versions(trained, tmp_path):
    from tunesmith.compose.model import export_checkpoint, load_composer
    from tunesmith.errors import CheckpointError

    _, best, _ = trained
    comp = load_composer(best)
    assert comp.meta["key_normalize"] and comp.meta["time_signature"] == [4, 4]
    slim = export_checkpoint(best, tmp_path / "slim.pt")
    assert slim.stat().st_size < best.stat().st_size
    ck = torch.load(slim, weights_only=True)
    assert ck["kind"] == "composer" and ck["format_version"] == 2     # the one model-file format
    ck["format_version"] = 0
    torch.save(ck, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="not supported"):
        load_composer(tmp_path / "old.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable checkpoint"):
        load_composer(tmp_path / "junk.pt")


# ----------------------------------------------------------------------------- sampling and scoring
def test_sampling_is_seeded_and_obeys_key_and_range(trained):
    from tunesmith.compose.model import load_composer
    from tunesmith.compose.sample import generate

    comp = load_composer(trained[1])
    a = generate(comp, n=3, length=20, seed=7, key="D minor", pitch_range=(62, 74))
    b = generate(comp, n=3, length=20, seed=7, key="D minor", pitch_range=(62, 74))
    c = generate(comp, n=3, length=20, seed=8, key="D minor", pitch_range=(62, 74))
    assert [[n.pitch for n in s] for s in a] == [[n.pitch for n in s] for s in b]
    assert [[n.pitch for n in s] for s in a] != [[n.pitch for n in s] for s in c]
    scale = T.scale_pitch_classes("D minor")
    for s in a:
        assert len(s) == 20 and s.key == "D minor" and s.is_quantized
        assert all(int(n.pitch) % 12 in scale and 62 <= n.pitch <= 74 for n in s)
    hot = generate(comp, n=2, length=30, seed=1, temperature=0.05, top_k=1)
    assert [n.pitch for n in hot[0]] == [n.pitch for n in hot[1]]  # greedy: samples coincide


def test_primer_is_continued(trained):
    from tunesmith.compose.model import load_composer
    from tunesmith.compose.sample import generate

    comp = load_composer(trained[1])
    primer = make_seq([67, 69, 71, 72], [1, 1, 1, 1], key="G major")
    out = generate(comp, n=2, length=10, seed=0, primer=primer)
    for s in out:
        assert [n.pitch for n in s][:4] == [67, 69, 71, 72] and len(s) == 14


def test_bits_per_note_matches_model_probabilities(trained):
    """Bits per note = mean −log2 P(pitch) over notes (first included, rests not scored)."""
    from tunesmith.compose.model import load_composer
    from tunesmith.compose.score import melody_bits, score_melody

    comp = load_composer(trained[1])
    seq = make_seq([60, 62, 64, 65, 67], [1, 1, 1, 1, 2], rest_after=2)
    mel = T.encode(seq)
    pb, db, dists = melody_bits(comp, mel, return_dists=True)
    assert np.allclose(dists.sum(1), 1, atol=1e-5)
    manual = -np.log2(dists[np.arange(len(mel)), mel.pitch])
    assert np.allclose(pb, manual, atol=1e-5)
    s = score_melody(comp, seq)
    notes = mel.pitch != T.REST
    assert s["notes"] == 5 and s["events"] == 6
    assert s["bits_per_note"] == pytest.approx(manual[notes].mean(), abs=1e-5)
    assert s["bits_per_event"] == pytest.approx((pb + db).mean(), abs=1e-5)
    # the training songs are less surprising than a random walk
    rng = np.random.default_rng(0)
    noise = make_seq(rng.integers(48, 84, 12).tolist(), [1] * 12)
    assert score_melody(comp, make_seq(*SONGS[5]))["bits_per_note"] < score_melody(comp, noise)["bits_per_note"]
    # dynamic evaluation only looks at the past: the first event's probability is unchanged
    pa, _ = melody_bits(comp, mel, adapt_lr=0.05)
    assert pa[0] == pytest.approx(pb[0], abs=1e-5) and not np.allclose(pa, pb)


# ----------------------------------------------------------------------------- CLI
def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tunesmith.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_cli_generate_and_score(trained, song_dir, tmp_path):
    _, best, _ = trained
    r = run_cli("generate", "--checkpoint", best, "-o", tmp_path / "gen", "-n", 2, "--length", 12,
                "--seed", 3, "--key", "G major", "--range", "G3-G5", "--tempo", 90, "--program", 40)
    assert r.returncode == 0, r.stderr
    for i in (1, 2):
        for ext in (".mid", ".musicxml", ".wav", ".png"):
            assert (tmp_path / "gen" / f"sample_{i:02d}{ext}").stat().st_size > 0
    from tunesmith.notes import load_notes

    mid = load_notes(tmp_path / "gen" / "sample_01.mid")
    assert len(mid) == 12 and mid.tempo == pytest.approx(90, abs=0.5) and mid.program == 40
    r = run_cli("score", "--checkpoint", best, song_dir, "--json")
    assert r.returncode == 1  # the broken file is reported, the others are scored
    rep = json.loads(r.stdout)
    assert len(rep["files"]) == 6 and len(rep["failed"]) == 1
    assert rep["overall"]["notes"] == sum(len(p) for p, _ in SONGS)
    assert 0 < rep["overall"]["bits_per_note"] < math.log2(129)


def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "bad.ckpt").write_text("nope")
    r = run_cli("generate", "--checkpoint", tmp_path / "bad.ckpt", "-o", tmp_path / "o")
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "bad.ckpt" in r.stderr
    r = run_cli("train", "composer", "--data", tmp_path / "missing", "-o", tmp_path / "run")
    assert r.returncode == 1 and "missing" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("train", "composer", "--data", tmp_path, "--set", "model.colour=red", "-o", tmp_path / "r")
    assert r.returncode == 1 and "model.colour" in r.stderr


# ----------------------------------------------------------------------------- PPM baseline
def test_ppm_is_a_distribution_and_learns_repeats():
    from tunesmith.compose.ppm import PPM, combine, ltm_stm_bits, sequence_bits

    rng = np.random.default_rng(0)
    motif = [0, 2, 4, 5, 4, 2]
    train = [motif * 4 + rng.integers(0, 8, 6).tolist() for _ in range(10)]
    m = PPM(8, order=8).fit(train)
    for hist in ([], [0], [0, 2, 4], [7, 7, 7, 7, 7, 7, 7, 7, 7]):
        p = m.distribution(hist)
        assert p.shape == (8,) and abs(p.sum() - 1) < 1e-9 and (p > 0).all()
    assert m.distribution([0, 2, 4])[5] > 0.8  # the motif continues
    assert sequence_bits(m, motif * 2).mean() < sequence_bits(PPM(8, 0).fit(train), motif * 2).mean()
    # a short-term model picks up a new melody's repetition that the long-term model never saw
    new = [7, 1, 3, 6] * 6
    assert ltm_stm_bits(m, new, alphabet_size=8)[-8:].mean() < sequence_bits(m, new)[-8:].mean()
    # the entropy-weighted mean leans towards the more certain model
    sharp, flat = np.array([0.9, 0.05, 0.05]), np.ones(3) / 3
    assert combine([sharp, flat])[0] > 0.8
