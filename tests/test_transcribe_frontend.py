"""The transcriber's front end is built on the shared STFT (``tunesmith.features.Spectrogram``).

Against the front end's former private ``torch.stft`` path on a real recording: the outputs agree to
< 1e-4, and the shipped transcriber's notes on a demo song are the same.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SONG = ROOT / "data" / "songs" / "kinder0-001-schlaf-kindlein-schlaf-flute.flac"


def _former_forward(fe, y: torch.Tensor):
    """HarmonicFrontEnd.forward as it was before it used tunesmith.features (its own torch.stft calls)."""
    from tunesmith.transcribe import pitch as P

    def power(n_fft):
        X = torch.stft(y, n_fft, P.HOP_LENGTH, window=torch.hann_window(n_fft), center=True, pad_mode="constant",
                       return_complex=True)
        r = torch.view_as_real(X)
        return r[..., 0].square() + r[..., 1].square()

    X, Xs = power(P.N_FFT), power(P.N_FFT_SHORT)
    spec = (torch.log(torch.matmul(fe.spec_fb, X) + P.LOG_EPS) - P.SPEC_SHIFT) / P.SPEC_SCALE
    bands = (torch.log(torch.matmul(fe.bands_fb, Xs) + P.LOG_EPS) - P.SPEC_SHIFT) / P.SPEC_SCALE
    pw = (2 * Xs.sum(1) - Xs[:, 0]) / (P.N_FFT_SHORT * torch.hann_window(P.N_FFT_SHORT).pow(2).sum())
    return spec, bands, pw


def test_front_end_on_the_shared_stft_matches_the_former_one_on_a_real_clip():
    from tunesmith.audio import load
    from tunesmith.features import Spectrogram
    from tunesmith.transcribe.pitch import HarmonicFrontEnd

    y = torch.from_numpy(load(SONG, sr=16000).samples[: 16000 * 20].astype(np.float32))[None]
    fe = HarmonicFrontEnd(a4_hz=443.0)
    assert isinstance(fe.stft_long, Spectrogram) and isinstance(fe.stft_short, Spectrogram)
    with torch.inference_mode():
        new, old = fe(y), _former_forward(fe, y)
    for a, b in zip(new, old):
        assert a.shape == b.shape
        assert float((a - b).abs().max()) < 1e-4


def test_shipped_transcriber_notes_on_a_demo_song_are_unchanged(monkeypatch):
    from tunesmith.transcribe import pitch as P
    from tunesmith.transcribe import transcribe_file

    now = transcribe_file(SONG)
    monkeypatch.setattr(P.HarmonicFrontEnd, "forward", _former_forward)
    before = transcribe_file(SONG)
    assert len(now.notes) > 10
    assert [(n.pitch, n.onset, n.offset, n.velocity) for n in now.notes] == \
        [(n.pitch, n.onset, n.offset, n.velocity) for n in before.notes]


@pytest.mark.parametrize("n", [1, 300, 16000 + 17])
def test_front_end_frame_count_is_unchanged_for_any_length(n):
    from tunesmith.transcribe.pitch import HOP_LENGTH, HarmonicFrontEnd

    spec, bands, power = HarmonicFrontEnd()(torch.zeros(2, n))
    assert spec.shape[-1] == bands.shape[-1] == power.shape[-1] == 1 + n // HOP_LENGTH
