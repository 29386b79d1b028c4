"""Stage-level tests of tunesmith.transcribe: front end, tuning, onsets, segmentation, quantisation, scores."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tunesmith.notes import Note, NoteSequence
from tunesmith.transcribe import pitch as P
from tunesmith.transcribe.onsets import pick_onsets, spectral_flux
from tunesmith.transcribe.segment import segment, velocity_from_power


def harmonic_tone(f0: float, seconds: float = 1.0, sr: int = P.SR, n_harm: int = 5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    y = sum(0.5 ** h * np.sin(2 * np.pi * f0 * (h + 1) * t) for h in range(n_harm)) * 0.3
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02)          # 20 ms fade in and out (no clicks)
    return (y * fade).astype(np.float32)


# ----------------------------------------------------------------------------- front end and tuning
@pytest.mark.parametrize("midi", [45, 69, 84])
def test_log_spectrum_peaks_at_the_tone_and_stack_aligns_harmonics(midi):
    fe = P.HarmonicFrontEnd()
    spec, bands, power = fe(torch.from_numpy(harmonic_tone(440 * 2 ** ((midi - 69) / 12))))
    assert spec.shape[0] == 1 and bands.shape == (1, P.N_BANDS, spec.shape[2])
    frame = spec[0, :, spec.shape[2] // 2]
    row = int(frame.argmax())
    assert abs((P.SPEC_MIDI_LOW + row / P.BINS_PER_SEMITONE) - midi) <= 1 / P.BINS_PER_SEMITONE
    stack = P.harmonic_stack(spec)[0, :, :, spec.shape[2] // 2]       # (H, F)
    r = (midi - P.MIDI_LOW) * P.BINS_PER_SEMITONE
    h1, h2 = P.HARMONICS.index(1.0), P.HARMONICS.index(2.0)
    # at the row of the played pitch the fundamental and the 2nd-harmonic channels both light up
    assert stack[h1, r] > stack[h1].median() + 1.0 and stack[h2, r] > stack[h2].median() + 1.0
    # mean-square power of the frame matches the signal's
    y = harmonic_tone(440 * 2 ** ((midi - 69) / 12))
    assert float(power[0, power.shape[1] // 2]) == pytest.approx(float(np.mean(y ** 2)), rel=0.1)


@pytest.mark.parametrize("a4", [432.0, 440.0, 446.0])
def test_estimate_tuning_recovers_a4(a4):
    y = np.concatenate([harmonic_tone(a4 * 2 ** ((m - 69) / 12), 0.5) for m in (60, 64, 67, 72)])
    assert P.estimate_tuning(y, P.SR) == pytest.approx(a4, abs=1.5)


def test_fused_model_matches_batchnorm_model():
    net = P.TranscriberNet()
    net.train()
    fe = P.HarmonicFrontEnd()
    spec, bands, _ = fe(torch.randn(2, P.SR) * 0.1)
    net(spec, bands)                      # update the running statistics
    net.eval()
    with torch.no_grad():
        ref = net(spec, bands)
        fused = net.fuse()(spec, bands)
    for a, b in zip(ref, fused):
        assert torch.allclose(a, b, atol=1e-4)


def test_streaming_blocks_equal_one_pass(shipped_model):
    rng = np.random.default_rng(0)
    y = np.concatenate([harmonic_tone(330, 0.7), harmonic_tone(392, 0.9)]) + rng.normal(0, 1e-3, int(1.6 * P.SR))
    y = y.astype(np.float32)
    one = P.track_blocks([y], shipped_model)
    cuts = [0, 3001, 9000, 9001, 17777, len(y)]
    many = P.track_blocks([y[a:b] for a, b in zip(cuts[:-1], cuts[1:])], shipped_model)
    assert len(one) == len(many) == len(y) // P.HOP_LENGTH + 1
    np.testing.assert_allclose(one.voiced, many.voiced, atol=1e-4)
    np.testing.assert_allclose(one.onset, many.onset, atol=1e-4)
    np.testing.assert_array_equal(one.pitch, many.pitch)


def test_model_finds_the_pitch_of_a_tone(shipped_model):
    y = harmonic_tone(440 * 2 ** ((62 - 69) / 12), 1.0)
    track = P.track_blocks([np.pad(y, (4000, 4000))], shipped_model)
    mid = slice(len(track) // 2 - 10, len(track) // 2 + 10)
    assert (track.voiced[mid] > 0.5).all()
    assert (track.pitch[mid] == 62).all()
    assert np.nanmean(track.f0[mid]) == pytest.approx(62, abs=0.2)
    assert track.voiced[:5].max() < 0.5            # leading silence is unvoiced


def test_pitch_range_limits_the_answer(shipped_model):
    y = harmonic_tone(440 * 2 ** ((50 - 69) / 12), 1.0)
    track = P.track_blocks([y], shipped_model, midi_range=(55, 90))
    assert (track.pitch >= 55).all()


# ----------------------------------------------------------------------------- onsets
def test_pick_onsets_threshold_gap_and_subframe_position():
    s = np.zeros(50)
    s[10], s[11] = 0.9, 0.9          # plateau: the peak lies half-way
    s[30], s[32], s[31] = 0.4, 0.6, 0.8
    s[40] = 0.3                       # below threshold
    frames, pos = pick_onsets(s, threshold=0.5, min_gap=3)
    assert list(frames) == [10, 31]
    assert pos[0] == pytest.approx(10.5)
    assert 31.0 < pos[1] < 31.5       # leaning towards the stronger neighbour


def test_spectral_flux_peaks_at_note_starts():
    sr, hop = 16000, 256
    y = np.concatenate([np.zeros(4000), harmonic_tone(300, 0.5), np.zeros(2000), harmonic_tone(450, 0.5)])
    flux = spectral_flux(y.astype(np.float32), sr, hop)
    frames, pos = pick_onsets(flux, 0.4, 5)
    found = pos * hop / sr
    assert len(found) == 2
    np.testing.assert_allclose(found, [4000 / sr, (4000 + 8000 + 2000) / sr], atol=0.03)


# ----------------------------------------------------------------------------- segmentation
def make_track(pitches, onsets_at=(), voiced=None, hop_s=0.016, conf=None):
    n = len(pitches)
    pitches = np.asarray(pitches)
    v = (pitches > 0).astype(np.float32) if voiced is None else np.asarray(voiced, np.float32)
    onset = np.zeros(n, np.float32)
    for f in onsets_at:
        onset[f] = 0.95
    return P.FrameTrack(hop_s=hop_s, pitch=pitches.astype(np.int64), f0=np.where(v > 0.5, pitches, np.nan),
                        voiced=v, confidence=np.ones(n, np.float32) if conf is None else conf, onset=onset,
                        offset=np.zeros(n, np.float32), power=np.full(n, 1e-2, np.float32))


def test_segment_splits_repeated_notes_at_onsets_only():
    pitches = [0] * 5 + [60] * 30 + [0] * 5
    notes = segment(make_track(pitches, onsets_at=[5, 20]))
    assert [n.pitch for n in notes] == [60, 60]
    assert notes[0].onset == pytest.approx(5 * 0.016) and notes[1].onset == pytest.approx(20 * 0.016)
    assert notes[0].offset == pytest.approx(notes[1].onset)
    assert notes[1].offset == pytest.approx(34.5 * 0.016)
    assert len(segment(make_track(pitches, onsets_at=[5]))) == 1


def test_segment_removes_blips_and_keeps_vibrato_one_note():
    vib = [67 if (i // 2) % 3 else 68 for i in range(40)]         # wobbling around G4
    pitches = [0] * 3 + vib + [0] * 4 + [72] * 2 + [0] * 5          # 32 ms blip at the end
    notes = segment(make_track(pitches, onsets_at=[3, 47]), min_note_ms=50)
    assert len(notes) == 1 and notes[0].pitch == 67


def test_segment_splits_slurs_without_onsets_and_starts_soft_attacks():
    pitches = [0] * 3 + [64] * 20 + [65] * 20 + [0] * 3 + [67] * 15
    notes = segment(make_track(pitches, onsets_at=[]))
    assert [n.pitch for n in notes] == [64, 65, 67]
    assert notes[1].onset == pytest.approx(23 * 0.016 - 0.008, abs=0.02)


def test_velocity_follows_loudness():
    assert velocity_from_power(np.array([1.0])) == 127
    assert velocity_from_power(np.array([1e-3])) == 67          # -30 dBFS
    assert velocity_from_power(np.array([1e-3])) > velocity_from_power(np.array([1e-5]))
    assert velocity_from_power(np.array([0.0])) == 1


# ----------------------------------------------------------------------------- quantisation
def performed(pitches, beats, qpm, start=0.37, legato=0.9):
    spb, t, notes = 60 / qpm, 0.0, []
    for p, b in zip(pitches, beats):
        notes.append(Note(float(p), start + t * spb, start + (t + b * legato) * spb, 80))
        t += b
    return NoteSequence(notes)


def test_tempo_beat_and_grid_are_recovered():
    from tunesmith.transcribe.quantize import estimate_tempo, score

    beats = [1, 0.5, 0.5, 1, 1, 2, 1, 0.5, 0.5, 1, 1, 2] * 2
    seq = performed([60, 62, 64, 65, 67, 65, 64, 62, 60, 62, 64, 60] * 2, beats, 96)
    assert estimate_tempo(seq) == pytest.approx(96, rel=0.04)
    q = score(seq, grid=0.25)
    starts = np.cumsum([0] + beats[:-1])
    got = np.array([n.onset_beats for n in q.notes])
    np.testing.assert_allclose(got - got[0], starts)
    assert q.is_quantized and q.tempo == pytest.approx(96, rel=0.04)


def test_key_and_metre_estimates():
    from tunesmith.transcribe.quantize import annotate, estimate_key

    c_major = performed([60, 64, 67, 72, 67, 64, 65, 62, 59, 60, 67, 60], [1] * 12, 100)
    assert estimate_key(c_major) == "C major"
    d_minor = performed([62, 65, 69, 74, 73, 74, 69, 65, 64, 62, 61, 62], [1] * 12, 100)
    assert estimate_key(d_minor) == "D minor"
    waltz = performed([60, 64, 67] * 8, [2, 0.5, 0.5] * 8, 120)       # long-short-short: 3 beats
    assert annotate(waltz).time_signature == (3, 4)


# ----------------------------------------------------------------------------- evaluation
def test_note_scores_and_raw_pitch_accuracy():
    from tunesmith.transcribe.evaluate import note_scores, raw_pitch_accuracy

    ref = NoteSequence([Note(60, 0.0, 0.5), Note(62, 0.5, 1.0), Note(64, 1.0, 2.0)])
    (p, r, f), (po, ro, fo) = note_scores(ref, ref)
    assert f == 1.0 and fo == 1.0
    late = NoteSequence([Note(n.pitch, n.onset + 0.07, n.offset) for n in ref])
    assert note_scores(ref, late)[0][2] == 0.0
    early_end = NoteSequence([Note(64, 1.0, 1.3), Note(60, 0.02, 0.5), Note(62, 0.5, 1.0)])
    (p, r, f), (_, _, fo) = note_scores(ref, early_end)
    assert f == 1.0 and fo == pytest.approx(2 / 3)
    assert note_scores(ref, NoteSequence([]))[0][2] == 0.0
    times = np.arange(0, 2, 0.016)
    from tunesmith.transcribe.evaluate import notes_to_f0

    f0 = notes_to_f0(ref, times) * np.where(times < 1.0, 1, 2)     # second half an octave too high
    assert raw_pitch_accuracy(ref, times, f0) == pytest.approx(0.5, abs=0.03)


@pytest.fixture(scope="module")
def shipped_model():
    return P.load_model()
