"""The sung-line path: swift-f0's pitch contour, the choice of path, and contour segmentation.

Why a second f0 tracker. tunesmith's CNN was trained on sampled instruments;
on real singing its frame pitch is right about 88 % of the time (raw pitch
accuracy on vocadito_1) and its onset head fires on consonants and vowel
changes. swift-f0 (MIT licence, an ONNX model made for f0 tracking and shipped
with its weights; https://github.com/lars76/swift-f0) reaches 0.99 on the same
file at a similar speed, so the sung path takes its contour as the pitch
component and segments it with :func:`tunesmith.transcribe.contour.segment_contour`.
The contour path is worse on instruments (onset F1 0.71 against the attack path's
0.94 on the FluidR3 renders, 0.61 against 0.81 on real solo violin), so the choice
must keep instruments, vibrato included, on the attack path.

Which path a recording takes (:func:`is_sung`): either cue says "sung".

1. Consonants (:func:`fricative_share`). Sung words contain unvoiced consonants
   (s, sh, f, t, k, breath): loud, unpitched frames whose energy lies mostly above
   :data:`FRICATIVE_HZ` and that stand clear of the background (so that hiss between
   notes does not count). At least :data:`SUNG_FRICATIVE_SHARE` of all frames means
   "sung". Shares measured while choosing the constants: vocadito_1 0.033 (0.010
   band-limited to 4 kHz, 0.024 with white noise at 20 dB SNR); at most 0.0007 on the
   100 FluidR3 renders (clean and hard), on 3 real solo-violin recordings and on 10
   renders band-limited or with white noise at 20 dB SNR. The cue vanishes in a phone
   band (300-3400 Hz) and for singing on "oo" or "la".
2. Unsteady intonation (:func:`contour_statistics`), which needs no consonants and
   survives a phone band. The contour is cut into notes (:func:`segment_contour`);
   over the notes of at least :data:`MIN_NOTE_FRAMES` voiced frames, two medians in
   cents: the *spread*, ``median |d_k|`` with ``d_k`` note ``k``'s median pitch minus
   the nearest semitone of the recording's own tuning (the circular mean of the
   ``d_k``), and the *scoop*, ``median |p_k - P_k|`` with ``p_k`` the median of the
   note's first :data:`SCOOP_FRAMES` frames (64 ms) and ``P_k`` the note's median.
   A singer's notes land off the grid by a different amount each time and slide
   into their pitch; a sampled instrument is tuned and starts on pitch (vibrato does
   not move the medians). "Sung" when spread >= :data:`UNSTEADY_SPREAD_CENTS` and
   scoop >= :data:`UNSTEADY_SCOOP_CENTS` over at least :data:`MIN_NOTES` notes.
   Measured on development data (``python benchmarks/sung_choice.py``; thresholds set between
   the groups): vocadito_1 and its three 11-s excerpts, also through a phone chain
   (300-3400 Hz, 8 kHz, mu-law, noise at 10-25 dB), at 8 kHz, through a 3-kHz lowpass, with
   noise at 10-20 dB, an MP3-like codec, at -30 dB and with level ramps (31 files): spread
   10.3-22.6, scoop 28.3-59.2; real solo violin (3 recordings): 8.1-8.7 / 5.2-5.6; the
   FluidR3 and TimGM6mb renders that passed the CNN screen (39 of 160, clean, hard and
   phone band): where the spread reached 8.0 the scoop stayed at most 19.0, and where the
   scoop reached 22.6-24.9 (alto sax, trumpet) the spread stayed at most 7.4; so no instrument
   file passes both. Not caught: the recipe's synthetic singer (``transcribe.train.sung_clip``)
   sung on vowels only, whose notes are tuned within ±5 cents (spread 1.9-7.2): its vibrato
   alone is no cue, since sampled violins, bassoons and "voice oohs" carry vibrato too (a
   periodic-vibrato share was tried; it sent 3 of the 50 clean FluidR3 files to the sung path).

Speed (:func:`may_be_sung`): the CNN's own frame track gives the spread (coarser: its
scoops are smoothed away, 7 cents on a phone-band vocadito excerpt where swift-f0 saw 34)
and the consonant share with its voicing in place of swift-f0's; only a recording that
passes this looser screen is run through swift-f0 (a second pass) for the decision.
Screen thresholds :data:`SCREEN_SPREAD_CENTS` and :data:`SCREEN_FRICATIVE_SHARE`: on the
CNN track vocadito_1 and all its copies gave spread >= 7.4 cents; about a quarter of the
FluidR3 renders and the three violin recordings pass the screen too (and are then kept on
the attack path by swift-f0's statistics).
``segmentation="contour"`` or a voice preset forces the sung path.
"""
from __future__ import annotations

import numpy as np

FRICATIVE_HZ = 2500.0          # a consonant frame has most of its energy above this
FRICATIVE_HF_SHARE = 0.5       # ... at least this share of it
FRICATIVE_FLOOR_DB = 10.0      # and it stands this far above the recording's floor (5th percentile level)
FRICATIVE_UNVOICED = 0.3       # swift-f0 confidence below this counts as unpitched
FRICATIVE_LOUD_DB = 25.0       # and the frame is within this many dB of the median voiced frame
SUNG_FRICATIVE_SHARE = 0.005   # share of consonant frames from which a recording counts as sung
UNSTEADY_SPREAD_CENTS = 9.0    # median |note pitch - tempered grid| from which intonation counts as sung ...
UNSTEADY_SCOOP_CENTS = 22.0    # ... together with this median slide into the notes
MIN_NOTES = 3                  # notes needed before the intonation cue says anything
MIN_NOTE_FRAMES = 10           # voiced frames (160 ms) a note needs to count in the statistics
SCOOP_FRAMES = 4               # a note's first frames (64 ms) compared with its median pitch
SCREEN_SPREAD_CENTS = 6.0      # the CNN-track screen: swift-f0 runs only when the spread >= this, or when
SCREEN_FRICATIVE_SHARE = 0.0025  # the consonant share (CNN voicing as the pitched measure) >= this
SWIFT_PEAK = 0.9               # swift-f0 hears the recording scaled to this peak (its voicing drops with level:
MAX_GAIN = 1000.0              # vocadito_1 at -30 dB kept 31 % voiced frames of 64 %), at most this gain
VOICE_PRESETS = ("voice", "soprano", "alto", "tenor", "bass_voice")
SWIFT_FMIN, SWIFT_FMAX = 46.875, 2093.75
SWIFT_PIECE_S = 5.0            # audio handed to swift-f0 at a time (its stream keeps 21 frames of context)
DECIDE_S = 10.0                # swift-f0 pass: after this much audio a recording that does not sound sung stops it


class HighBand:
    """Per-frame share of power above :data:`FRICATIVE_HZ` and level (dB), pushed block by block.

    Frame ``i`` covers the hop ``[i * 256, (i + 1) * 256)`` samples (Hann-windowed), the
    frame grid of :func:`tunesmith.transcribe.pitch.track_blocks`. Cheap: one 256-point FFT per hop.
    """

    def __init__(self):
        from tunesmith.transcribe.pitch import HOP_LENGTH, SR

        self._hop = HOP_LENGTH
        self._tail = np.zeros(0, dtype=np.float32)
        self._hf, self._level = [], []
        self._hf_bin = int(np.ceil(FRICATIVE_HZ / (SR / HOP_LENGTH)))
        self._win = np.hanning(HOP_LENGTH).astype(np.float32)
        self.peak = 0.0

    def push(self, block: np.ndarray) -> None:
        y = np.concatenate([self._tail, np.asarray(block, dtype=np.float32)])
        if len(block):
            self.peak = max(self.peak, float(np.abs(block).max()))
        n = len(y) // self._hop
        if n:
            P = np.abs(np.fft.rfft(y[: n * self._hop].reshape(n, self._hop) * self._win, axis=1)) ** 2
            tot = P.sum(1) + 1e-12
            self._hf.append(P[:, self._hf_bin:].sum(1) / tot)
            self._level.append(10 * np.log10(tot))
        self._tail = y[n * self._hop:]

    def finish(self, n_frames: int) -> dict:
        """``{"hf_share", "level_db"}`` arrays of ``n_frames`` frames (padded with 0 / -120 dB)."""
        hf = np.concatenate(self._hf) if self._hf else np.zeros(0)
        level = np.concatenate(self._level) if self._level else np.zeros(0)
        return {"hf_share": _fit(hf, n_frames, 0.0), "level_db": _fit(level, n_frames, -120.0)}


def _fit(a, n_frames, fill):
    a = np.asarray(a, dtype=np.float64)[:n_frames]
    return np.pad(a, (0, n_frames - len(a)), constant_values=fill)


class SungAnalysis:
    """Streams 16 kHz blocks through swift-f0 (scaled by ``gain``) and the :class:`HighBand` analysis.

    Frame ``i`` of every output covers the hop ``[i * 256, (i + 1) * 256)`` samples,
    the same frame grid as :func:`tunesmith.transcribe.pitch.track_blocks`.
    """

    def __init__(self, midi_range: tuple[float, float] | None = None, threads: int | None = None,
                 gain: float = 1.0):
        from swift_f0 import SwiftF0  # noqa: F401  (fails early, with its own message, when swift-f0 is missing)

        from tunesmith.transcribe.pitch import SR

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
        self._sr, self._gain = SR, float(gain)
        self._hz, self._conf = [], []
        self._bands = HighBand()
        self.seconds = 0.0       # audio pushed so far

    def push(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float32)
        if self._gain != 1.0:
            block = np.clip(block * self._gain, -1.0, 1.0)
        piece = int(SWIFT_PIECE_S * self._sr)
        for i in range(0, len(block), piece):      # short pieces bound swift-f0's working memory
            r = self._stream.push(block[i:i + piece], self._sr)
            self._hz.append(r.pitch_hz)
            self._conf.append(r.confidence)
        self._bands.push(block)
        self.seconds += len(block) / self._sr

    def snapshot(self) -> dict:
        """The frames analysed so far (as :meth:`finish`, without flushing swift-f0's stream)."""
        n = int(sum(len(h) for h in self._hz))
        return self._frames(self._hz, self._conf, n)

    def finish(self, n_frames: int) -> dict:
        """``{"midi", "confidence", "hf_share", "level_db"}`` arrays of ``n_frames`` frames."""
        r = self._stream.flush()
        return self._frames(self._hz + [r.pitch_hz], self._conf + [r.confidence], n_frames)

    def _frames(self, hz_parts, conf_parts, n_frames) -> dict:
        hz = _fit(np.concatenate(hz_parts) if hz_parts else np.zeros(0), n_frames, 0.0)
        conf = _fit(np.concatenate(conf_parts) if conf_parts else np.zeros(0), n_frames, 0.0)
        midi = np.where(hz > 0, 69 + 12 * np.log2(np.maximum(hz, 1e-6) / 440.0), np.nan)
        return {"midi": midi, "confidence": conf, **self._bands.finish(n_frames)}


def swift_gain(peak: float) -> float:
    """Gain that brings a recording of sample peak ``peak`` to :data:`SWIFT_PEAK` (at most :data:`MAX_GAIN`)."""
    return float(min(MAX_GAIN, SWIFT_PEAK / peak)) if peak > 0 else 1.0


_DETECTORS: dict = {}


def _detector(threads):
    from swift_f0 import SwiftF0

    if threads not in _DETECTORS:
        _DETECTORS[threads] = SwiftF0(threads=threads, spin=False)
    return _DETECTORS[threads]


def fricative_share(confidence: np.ndarray, hf_share: np.ndarray, level_db: np.ndarray) -> float:
    """Share of frames that are loud, unpitched and mostly above :data:`FRICATIVE_HZ` (see the module docstring).

    ``confidence`` is a per-frame pitch confidence in [0, 1] (swift-f0's, or the CNN's voicing probability).
    """
    voiced = confidence >= 0.5
    if not voiced.any() or not len(confidence):
        return 0.0
    ref = float(np.median(level_db[voiced]))
    floor = float(np.percentile(level_db, 5))
    cons = ((confidence < FRICATIVE_UNVOICED) & (level_db > ref - FRICATIVE_LOUD_DB)
            & (level_db > floor + FRICATIVE_FLOOR_DB) & (hf_share > FRICATIVE_HF_SHARE))
    return float(cons.mean())


def contour_statistics(midi: np.ndarray, confidence: np.ndarray, hop_s: float) -> dict:
    """Intonation statistics of a frame contour: ``{"notes", "spread_cents", "scoop_cents"}``.

    ``midi`` is the frame pitch in fractional MIDI (NaN where none), ``confidence`` in [0, 1]
    (voiced where >= 0.5), ``hop_s`` the hop in seconds. The contour is cut into notes by
    :func:`~tunesmith.transcribe.contour.segment_contour`; notes with at least
    :data:`MIN_NOTE_FRAMES` voiced frames count. ``spread_cents``: the median over notes of
    ``|d_k|``, ``d_k`` the note's median pitch minus the nearest semitone after removing the
    recording's tuning (the circular mean of the fractional parts), in cents; ``scoop_cents``:
    the median over notes of ``|median(first SCOOP_FRAMES frames) - note median|`` (capped at
    200 cents). Both NaN with fewer than :data:`MIN_NOTES` notes.
    """
    from tunesmith.transcribe.contour import segment_contour

    m = np.asarray(midi, dtype=np.float64)
    voiced = np.isfinite(m) & (np.asarray(confidence) >= 0.5)
    meds, scoops = [], []
    for a, b, _ in segment_contour(np.where(voiced, m, np.nan), np.where(voiced, 0.95, 0.05), None, hop_s):
        x = m[a:b][voiced[a:b]]
        if len(x) < MIN_NOTE_FRAMES:
            continue
        med = float(np.median(x))
        meds.append(med)
        scoops.append(min(200.0, 100 * abs(float(np.median(x[:SCOOP_FRAMES])) - med)))
    if len(meds) < MIN_NOTES:
        return {"notes": len(meds), "spread_cents": float("nan"), "scoop_cents": float("nan")}
    meds = np.array(meds)
    tuning = np.angle(np.mean(np.exp(2j * np.pi * meds))) / (2 * np.pi)
    d = (meds - tuning) - np.round(meds - tuning)
    return {"notes": len(meds), "spread_cents": float(100 * np.median(np.abs(d))),
            "scoop_cents": float(np.median(scoops))}


def _unsteady(stats: dict, spread: float, scoop: float) -> bool:
    return bool(stats["notes"] >= MIN_NOTES and stats["spread_cents"] >= spread and stats["scoop_cents"] >= scoop)


def may_be_sung(f0_midi: np.ndarray, voiced: np.ndarray, bands: dict, hop_s: float) -> bool:
    """The cheap screen on the CNN's track: False means "an instrument", with no swift-f0 pass needed.

    ``f0_midi`` and ``voiced`` are the CNN track's f0 (NaN unvoiced) and voicing probability,
    ``bands`` the :class:`HighBand` output. True when the consonant share (the CNN's voicing as
    the pitch confidence) reaches :data:`SCREEN_FRICATIVE_SHARE` or the spread of
    :func:`contour_statistics` reaches :data:`SCREEN_SPREAD_CENTS` (both looser than :func:`is_sung`'s).
    """
    if fricative_share(np.asarray(voiced, dtype=np.float64), bands["hf_share"], bands["level_db"]) \
            >= SCREEN_FRICATIVE_SHARE:
        return True
    return _unsteady(contour_statistics(f0_midi, voiced, hop_s), SCREEN_SPREAD_CENTS, 0.0)


def sung_evidence(analysis: dict, hop_s: float) -> dict:
    """The two cues of :func:`is_sung` on swift-f0's analysis: ``{"fricative_share", "notes", "spread_cents", ...}``."""
    stats = contour_statistics(analysis["midi"], analysis["confidence"], hop_s)
    return {"fricative_share": fricative_share(analysis["confidence"], analysis["hf_share"], analysis["level_db"]),
            **stats}


def is_sung(analysis: dict, hop_s: float | None = None) -> bool:
    """True when swift-f0's analysis has the consonants of sung words or a singer's unsteady intonation."""
    if hop_s is None:
        from tunesmith.transcribe.pitch import HOP_LENGTH, SR

        hop_s = HOP_LENGTH / SR
    return _sung(sung_evidence(analysis, hop_s))


def _sung(ev: dict) -> bool:
    return ev["fricative_share"] >= SUNG_FRICATIVE_SHARE or _unsteady(ev, UNSTEADY_SPREAD_CENTS, UNSTEADY_SCOOP_CENTS)


def swift_pass(blocks, n_frames: int, hop_s: float, *, midi_range=None, gain: float = 1.0,
               early_exit: bool = True) -> tuple[dict | None, bool, dict]:
    """swift-f0 over ``blocks`` (16 kHz) for the choice and the sung path: ``(frames, sung, evidence)``.

    ``n_frames`` is the CNN track's length. With ``early_exit`` and a recording longer than
    ``1.5 * DECIDE_S``, the first :data:`DECIDE_S` seconds are judged on their own
    (:func:`is_sung`); when they do not sound sung the pass stops there and ``frames`` is
    ``None`` (``evidence["decided_after_s"]`` says when). Otherwise the whole recording is
    analysed and judged. Every vocadito copy of ``python benchmarks/sung_choice.py`` was
    judged sung from its first 10 s.
    """
    a = SungAnalysis(midi_range, gain=gain)
    piece = int(SWIFT_PIECE_S * a._sr)
    check = early_exit and n_frames * hop_s >= 1.5 * DECIDE_S
    for b in blocks:
        b = np.asarray(b, dtype=np.float32)
        for i in range(0, len(b), piece):
            a.push(b[i:i + piece])
            if check and a.seconds >= DECIDE_S:
                check = False
                ev = sung_evidence(a.snapshot(), hop_s)
                if not _sung(ev):
                    return None, False, {**ev, "decided_after_s": round(a.seconds, 2)}
    frames = a.finish(n_frames)
    ev = sung_evidence(frames, hop_s)
    return frames, _sung(ev), ev
