"""The sung-line path: swift-f0's pitch contour, a consonant test, and contour segmentation.

Why a second f0 tracker. tunesmith's CNN was trained on sampled instruments;
on real singing its frame pitch is right about 88 % of the time (raw pitch
accuracy on vocadito_1) and its onset head fires on consonants and vowel
changes. swift-f0 (MIT licence, an ONNX model made for f0 tracking and shipped
with its weights; https://github.com/lars76/swift-f0) reaches 0.99 on the same
file at a similar speed, so the sung path takes its contour as the pitch
component and segments it with :func:`tunesmith.transcribe.contour.segment_contour`.

Which path a recording takes (:func:`is_sung`). Sung words contain unvoiced
consonants (s, sh, f, t, k, breath): loud, unpitched frames whose energy lies
mostly above :data:`FRICATIVE_HZ` and that stand clear of the background (so
that hiss between notes does not count). Sampled and real instruments have almost
none. The share of such frames decides: at least :data:`SUNG_FRICATIVE_SHARE`
of all frames means "sung". Shares measured while choosing the constants
(development data): vocadito_1 0.033 (0.010 band-limited to 4 kHz, 0.024 with
white noise at 20 dB SNR); at most 0.0007 on the 100 FluidR3 renders (clean and
hard), on 3 real solo-violin recordings and on 10 renders band-limited or with white
noise at 20 dB SNR. A singer vocalising without such consonants ("oo", "la") takes
the instrument path; ``segmentation="contour"`` or a voice preset forces the sung path.
"""
from __future__ import annotations

import numpy as np

FRICATIVE_HZ = 2500.0          # a consonant frame has most of its energy above this
FRICATIVE_HF_SHARE = 0.5       # ... at least this share of it
FRICATIVE_FLOOR_DB = 10.0      # and it stands this far above the recording's floor (5th percentile level)
FRICATIVE_UNVOICED = 0.3       # swift-f0 confidence below this counts as unpitched
FRICATIVE_LOUD_DB = 25.0       # and the frame is within this many dB of the median voiced frame
SUNG_FRICATIVE_SHARE = 0.005   # share of consonant frames from which a recording counts as sung
VOICE_PRESETS = ("voice", "soprano", "alto", "tenor", "bass_voice")
SWIFT_FMIN, SWIFT_FMAX = 46.875, 2093.75
SWIFT_PIECE_S = 5.0            # audio handed to swift-f0 at a time (its stream keeps 21 frames of context)


class SungAnalysis:
    """Streams 16 kHz blocks through swift-f0 and collects per-frame high-band share and level.

    Frame ``i`` of every output covers the hop ``[i * 256, (i + 1) * 256)`` samples,
    the same frame grid as :func:`tunesmith.transcribe.pitch.track_blocks`.
    """

    def __init__(self, midi_range: tuple[float, float] | None = None, threads: int | None = None):
        from swift_f0 import SwiftF0  # noqa: F401  (fails early, with its own message, when swift-f0 is missing)

        from tunesmith.transcribe.pitch import HOP_LENGTH, SR

        fmin, fmax = SWIFT_FMIN, SWIFT_FMAX
        if midi_range is not None:
            fmin = max(SWIFT_FMIN, 440.0 * 2 ** ((midi_range[0] - 0.5 - 69) / 12))
            fmax = min(SWIFT_FMAX, 440.0 * 2 ** ((midi_range[1] + 0.5 - 69) / 12))
            if fmax <= fmin * 1.05:
                fmin, fmax = SWIFT_FMIN, SWIFT_FMAX
        if threads is None:      # as many as torch uses: more would oversubscribe the cores
            import torch

            threads = torch.get_num_threads()
        self._stream = _detector(threads).stream(fmin, fmax)
        self._sr, self._hop = SR, HOP_LENGTH
        self._tail = np.zeros(0, dtype=np.float32)
        self._hz, self._conf, self._hf, self._level = [], [], [], []
        self._hf_bin = int(np.ceil(FRICATIVE_HZ / (SR / HOP_LENGTH)))

    def push(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float32)
        piece = int(SWIFT_PIECE_S * self._sr)
        for i in range(0, len(block), piece):      # short pieces bound swift-f0's working memory
            r = self._stream.push(block[i:i + piece], self._sr)
            self._hz.append(r.pitch_hz)
            self._conf.append(r.confidence)
        y = np.concatenate([self._tail, block])
        n = len(y) // self._hop
        if n:
            frames = y[: n * self._hop].reshape(n, self._hop) * np.hanning(self._hop).astype(np.float32)
            P = np.abs(np.fft.rfft(frames, axis=1)) ** 2
            tot = P.sum(1) + 1e-12
            self._hf.append(P[:, self._hf_bin:].sum(1) / tot)
            self._level.append(10 * np.log10(tot))
        self._tail = y[n * self._hop:]

    def finish(self, n_frames: int) -> dict:
        """``{"midi", "confidence", "hf_share", "level_db"}`` arrays of ``n_frames`` frames."""
        r = self._stream.flush()
        hz = np.concatenate(self._hz + [r.pitch_hz])
        conf = np.concatenate(self._conf + [r.confidence])
        hf = np.concatenate(self._hf) if self._hf else np.zeros(0)
        level = np.concatenate(self._level) if self._level else np.zeros(0)

        def fit(a, fill):
            a = np.asarray(a, dtype=np.float64)[:n_frames]
            return np.pad(a, (0, n_frames - len(a)), constant_values=fill)

        hz, conf = fit(hz, 0.0), fit(conf, 0.0)
        midi = np.where(hz > 0, 69 + 12 * np.log2(np.maximum(hz, 1e-6) / 440.0), np.nan)
        return {"midi": midi, "confidence": conf, "hf_share": fit(hf, 0.0), "level_db": fit(level, -120.0)}


_DETECTORS: dict = {}


def _detector(threads):
    from swift_f0 import SwiftF0

    if threads not in _DETECTORS:
        _DETECTORS[threads] = SwiftF0(threads=threads, spin=False)
    return _DETECTORS[threads]


def fricative_share(confidence: np.ndarray, hf_share: np.ndarray, level_db: np.ndarray) -> float:
    """Share of frames that are loud, unpitched and mostly above :data:`FRICATIVE_HZ` (see the module docstring)."""
    voiced = confidence >= 0.5
    if not voiced.any() or not len(confidence):
        return 0.0
    ref = float(np.median(level_db[voiced]))
    floor = float(np.percentile(level_db, 5))
    cons = ((confidence < FRICATIVE_UNVOICED) & (level_db > ref - FRICATIVE_LOUD_DB)
            & (level_db > floor + FRICATIVE_FLOOR_DB) & (hf_share > FRICATIVE_HF_SHARE))
    return float(cons.mean())


def is_sung(analysis: dict) -> bool:
    """True when the recording has the consonants of sung words (:func:`fricative_share`)."""
    return fricative_share(analysis["confidence"], analysis["hf_share"], analysis["level_db"]) >= SUNG_FRICATIVE_SHARE
