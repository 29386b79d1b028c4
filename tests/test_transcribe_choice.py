"""The auto path choice without consonants (intonation cue), its cheap CNN screen, and analyse_file's progress."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tunesmith.transcribe import voice as V

HOP = 256 / 16000
SR = 16000
VOCADITO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "melody" / "vocadito"
TRUMPET = Path(__file__).resolve().parents[1] / "data" / "songs" / "kinder0-007-schlaf-du-liebe-kleine-trumpet.wav"


def _contour(pitches, *, offsets_cents, scoop_cents, dur_s=0.5, gap_s=0.1):
    """Frame contour (MIDI, confidence) of held notes: each off the grid by its own amount, each scooped into."""
    m, c = [], []
    for p, off in zip(pitches, offsets_cents):
        n, g = int(dur_s / HOP), int(gap_s / HOP)
        line = np.full(n, p + off / 100)
        line[:6] -= np.linspace(scoop_cents / 100, 0, 6)
        m += [line, np.full(g, np.nan)]
        c += [np.full(n, 0.9), np.zeros(g)]
    return np.concatenate(m), np.concatenate(c)


def test_intonation_statistics_separate_a_singer_from_a_tuned_instrument():
    pitches = [60, 62, 64, 65, 67, 65, 64, 62]
    sung = _contour(pitches, offsets_cents=[25, -15, 30, -20, 10, 35, -25, 15], scoop_cents=60)
    tuned = _contour(pitches, offsets_cents=[12] * 8, scoop_cents=0)    # detuned as a whole, steady
    s, t = V.contour_statistics(*sung, HOP), V.contour_statistics(*tuned, HOP)
    assert s["notes"] == t["notes"] == 8
    assert s["spread_cents"] >= V.UNSTEADY_SPREAD_CENTS and s["scoop_cents"] >= V.UNSTEADY_SCOOP_CENTS
    assert t["spread_cents"] < 3 and t["scoop_cents"] < 3             # a global detune is not "off the grid"
    bands = {"hf_share": np.zeros(len(sung[0])), "level_db": np.zeros(len(sung[0]))}
    assert V.is_sung({"midi": sung[0], "confidence": sung[1], **bands}, HOP)
    assert not V.is_sung({"midi": tuned[0], "confidence": tuned[1], **bands}, HOP)
    assert not V.may_be_sung(tuned[0], tuned[1], bands, HOP)


def _phone(y):
    """A narrow phone band (300-2400 Hz, 8 kHz and back): no consonant energy above 2.5 kHz is left."""
    from scipy.signal import butter, resample_poly, sosfilt

    z = sosfilt(butter(8, [300, 2400], "bandpass", fs=SR, output="sos"), y)
    return resample_poly(resample_poly(z, 1, 2), 2, 1).astype(np.float32)


@pytest.mark.skipif(not (VOCADITO / "vocadito_1.wav").exists(), reason="../shared/data/melody/vocadito not present")
def test_phone_band_singing_takes_the_sung_path_without_consonants():
    from tunesmith.audio import load
    from tunesmith.transcribe import transcribe_track

    y = _phone(load(VOCADITO / "vocadito_1.wav", sr=SR).samples[: 11 * SR])
    res = transcribe_track([y])
    assert res.choice["fricative_share"] < V.SUNG_FRICATIVE_SHARE     # the consonant cue is gone ...
    assert res.sung                                                   # ... the intonation cue still hears a singer
    voiced = res.track.voiced >= 0.5                                  # the band took the low voice's fundamental:
    assert np.median(res.track.harmonicity[voiced]) < 0.65            # harmonicity alone (the old rule) said chords,
    assert not res.polyphonic                                         # but the CNN is sure of one pitch: no warning
    quiet = transcribe_track([y * 0.1])                               # -20 dB: swift-f0 hears it level-normalised
    assert quiet.sung


def test_a_steady_instrument_skips_swift_f0_and_stays_on_the_attack_path():
    from tunesmith.transcribe import analyse_file

    res = analyse_file(TRUMPET)                       # a rendered trumpet song shipped in data/songs
    assert len(res.notes) > 10
    assert not res.sung and res.choice["screened_out"]


def test_analyse_file_reports_progress_in_increasing_seconds(tmp_path):
    import soundfile as sf

    from tunesmith.transcribe import analyse_file

    t = np.arange(int(75 * SR)) / SR                    # 75 s: three 30-s blocks
    y = (0.3 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)).astype(np.float32)
    sf.write(tmp_path / "tone.wav", y, SR)
    calls = []
    analyse_file(tmp_path / "tone.wav", on_progress=lambda done, total: calls.append((done, total)))
    done = [d for d, _ in calls]
    assert len(calls) >= 3 and done == sorted(done) and len(set(done)) == len(done)
    assert all(tot == pytest.approx(75.0, abs=0.01) for _, tot in calls)
    assert done[-1] == pytest.approx(75.0, abs=0.01)


def test_swift_pass_stops_after_the_first_seconds_of_a_steady_line():
    t = np.arange(int(0.5 * SR)) / SR
    notes = [np.sin(2 * np.pi * 440 * 2 ** (k / 12) * t) * 0.3 for k in (0, 2, 4, 5, 7, 5, 4, 2)] * 5   # 20 s, in tune
    y = np.concatenate(notes).astype(np.float32)
    n = len(y) // 256
    frames, sung, ev = V.swift_pass([y], n, HOP)
    assert frames is None and not sung
    assert V.DECIDE_S <= ev["decided_after_s"] < V.DECIDE_S + V.SWIFT_PIECE_S
    frames, sung, ev = V.swift_pass([y], n, HOP, early_exit=False)      # the whole line when asked
    assert frames is not None and len(frames["midi"]) == n and not sung and ev["spread_cents"] < 6


def test_polyphony_share_counts_frames_both_inharmonic_and_uncertain_and_needs_enough_of_them():
    from tunesmith.notes import Note, NoteSequence
    from tunesmith.transcribe import POLYPHONY_MIN_FRAMES, POLYPHONY_SHARE, Transcription, polyphony_share

    n = 4 * POLYPHONY_MIN_FRAMES
    harm = np.r_[np.full(n // 2, 0.4), np.full(n // 2, 0.95)]      # half the frames off the harmonics ...
    conf = np.r_[np.full(n // 4, 0.6), np.full(3 * n // 4, 0.99)]    # ... of which half with an unsure pitch
    voiced = np.ones(n, bool)
    assert polyphony_share(harm, conf, voiced) == pytest.approx(0.25)   # only frames both inharmonic and unsure
    assert polyphony_share(harm, np.full(n, 0.5), voiced) == pytest.approx(0.5)
    few = np.zeros(n, bool)
    few[: POLYPHONY_MIN_FRAMES] = True                                  # too few voiced frames say nothing
    assert polyphony_share(np.zeros(n), np.zeros(n), few) == 0.0
    notes = NoteSequence([Note(60.0, 0.0, 0.5, 80)])
    chords = Transcription(notes, None, polyphony=POLYPHONY_SHARE)
    assert chords.polyphonic and "sounds polyphonic (50 %" in chords.warnings[0]
    assert not Transcription(notes, None, polyphony=POLYPHONY_SHARE - 0.01).polyphonic
    assert Transcription(NoteSequence([]), None).warnings == ["no pitched notes found (silence or noise?)"]
