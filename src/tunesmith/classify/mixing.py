"""Speech mixtures with exact "one talker / several at once" labels, the way speaker-count corpora are made.

LibriCount and CountNet (Stöter et al., 2018) build their material by summing
utterances of distinct talkers at random offsets and gains and labelling each
excerpt by how many talkers are active in it. Here the question is binary, so a
window is labelled from the *exact* activity of the sources that were mixed::

    active_j[t] = energy VAD of the clean source j (frames of FRAME_S every HOP_S)
    share       = mean_t [ sum_j active_j[t] >= 2 ]
    label       = "several" if share >= SEVERAL_SHARE else "one"

so a talker with a pause, or two talkers taking turns with a short overlap, is
"one", and a back-channel that covers a quarter of the window is "several"
(the rule used for meeting windows annotated with overlapping speech).

Talkers, never utterances, are split between training, validation and test
(:func:`split_talkers`), so a model is always measured on voices it never heard.
Each clip then goes through a random acoustic chain (:class:`MixConfig`): room
reverberation from a synthetic impulse response (:func:`synthetic_rir`), far-field
level, noise of several colours (:func:`coloured_noise`), telephone or 8-kHz band
limits (:func:`band_limit`) and slow level changes.

Everything is numpy/scipy, deterministic given a ``numpy.random.Generator``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tunesmith.errors import TunesmithError

__all__ = ["SR", "SEVERAL_SHARE", "Talker", "list_talkers", "split_talkers", "talker_audio", "talker_stream",
           "activity", "overlap_share", "label_from_share", "synthetic_rir", "coloured_noise", "band_limit",
           "MixConfig", "Clip", "SpeechMixer", "balanced_clips", "meeting_scene", "window_labels"]

SR = 16000
#: A window is "several" when at least this share of its frames has two or more active talkers.
SEVERAL_SHARE = 0.25
#: VAD frames: length and hop in seconds.
FRAME_S = 0.025
HOP_S = 0.010
#: A frame is active when its level is within ``VAD_REL_DB`` of the source's loudest frame ...
VAD_REL_DB = 35.0
#: ... and above ``VAD_FLOOR_DB`` dB re the source's RMS (so a near-silent source has no activity).
VAD_FLOOR_DB = -30.0
#: Active stretches are widened by this much on each side (speech onsets and decays).
VAD_HANGOVER_S = 0.05
#: Gaps between the pieces a talker's stream is made of (seconds).
STREAM_GAP_S = (0.05, 0.5)
#: Level of the finished clip, dB RMS re full scale.
LEVEL_DB = (-40.0, -16.0)
PEAK_LIMIT = 0.98
#: Split fractions of the talkers (train, validation, test).
SPLIT_FRACTIONS = (0.7, 0.15, 0.15)
SPLITS = ("train", "val", "test")
#: Clean sources are scaled to this RMS over their samples above VOICED_LEVEL before the relative gains.
SOURCE_RMS = 0.05
VOICED_LEVEL = 1e-3


@dataclass(frozen=True)
class Talker:
    """One person: ``corpus`` (``librispeech`` or ``fsdd``), an id unique in its corpus, sex (``M``/``F``/``?``)
    and the files of their speech."""

    corpus: str
    id: str
    sex: str
    paths: tuple[Path, ...]

    @property
    def name(self) -> str:
        return f"{self.corpus}-{self.id}"


def _librispeech_sexes(folder: Path) -> dict[str, str]:
    sexes = {}
    meta = folder / "SPEAKERS.TXT"
    if meta.is_file():
        for line in meta.read_text(errors="replace").splitlines():
            if line.startswith(";") or "|" not in line:
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) >= 2:
                sexes[parts[0]] = parts[1]
    return sexes


def list_talkers(speech_root: str | Path) -> list[Talker]:
    """Talkers of ``speech_root/librispeech/*.flac`` (reader id = the name's first field) and
    ``speech_root/fsdd/recordings/{digit}_{talker}_{take}.wav``, sorted by name."""
    root = Path(speech_root)
    talkers: list[Talker] = []
    libri = root / "librispeech"
    if libri.is_dir():
        sexes = _librispeech_sexes(libri)
        by_id: dict[str, list[Path]] = {}
        for f in sorted(libri.glob("*.flac")):
            by_id.setdefault(f.name.split("-")[0], []).append(f)
        talkers += [Talker("librispeech", i, sexes.get(i, "?"), tuple(p)) for i, p in by_id.items()]
    fsdd = root / "fsdd" / "recordings"
    if fsdd.is_dir():
        by_id = {}
        for f in sorted(fsdd.glob("*.wav")):
            parts = f.stem.split("_")
            if len(parts) == 3:
                by_id.setdefault(parts[1], []).append(f)
        talkers += [Talker("fsdd", i, "M", tuple(p)) for i, p in by_id.items()]
    if not talkers:
        raise TunesmithError("no talkers found (expected librispeech/*.flac or fsdd/recordings/*.wav)", root)
    return sorted(talkers, key=lambda t: t.name)


def split_talkers(talkers: list[Talker], fractions=SPLIT_FRACTIONS, seed: int = 0) -> dict[str, list[Talker]]:
    """Disjoint ``train``/``val``/``test`` lists of talkers, stratified by corpus and sex.

    Within each (corpus, sex) stratum the talkers are shuffled with ``seed`` and dealt
    by cumulative fraction, each split getting at least one talker of a stratum of three
    or more. Deterministic: the same talkers and seed always give the same split.
    """
    fr = np.asarray(fractions, dtype=float)
    fr = fr / fr.sum()
    out: dict[str, list[Talker]] = {s: [] for s in SPLITS}
    strata: dict[tuple[str, str], list[Talker]] = {}
    for t in sorted(talkers, key=lambda t: t.name):
        strata.setdefault((t.corpus, t.sex), []).append(t)
    for k, (key, group) in enumerate(sorted(strata.items())):
        order = np.random.default_rng([seed, k]).permutation(len(group))
        n = len(group)
        n_val = max(1, int(round(fr[1] * n))) if n >= 3 else 0
        n_test = max(1, int(round(fr[2] * n))) if n >= 3 else 0
        n_train = n - n_val - n_test
        for rank, i in enumerate(order):
            split = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
            out[split].append(group[i])
    return {s: sorted(v, key=lambda t: t.name) for s, v in out.items()}


def _resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    if sr_in == sr_out:
        return y.astype(np.float32)
    g = gcd(sr_in, sr_out)
    return resample_poly(y, sr_out // g, sr_in // g).astype(np.float32)


def talker_audio(talker: Talker, sr: int = SR, *, max_s: float = 60.0, seed: int = 0) -> np.ndarray:
    """All of a talker's speech at ``sr`` as one float32 signal (peak-normalised to 0.5).

    LibriSpeech utterances are joined as they are; FSDD digits (8 kHz) are shuffled with
    ``seed`` and joined with 0.1-0.3 s gaps, up to ``max_s`` seconds.
    """
    import soundfile as sf

    import zlib

    rng = np.random.default_rng([seed, zlib.crc32(talker.name.encode())])
    paths = list(talker.paths)
    if talker.corpus == "fsdd":
        paths = [paths[i] for i in rng.permutation(len(paths))]
    pieces, total = [], 0
    for p in paths:
        y, file_sr = sf.read(str(p), dtype="float32", always_2d=True)
        y = _resample(y.mean(axis=1), file_sr, sr)
        pieces.append(y)
        total += len(y)
        if talker.corpus == "fsdd":
            gap = np.zeros(int(rng.uniform(0.1, 0.3) * sr), np.float32)
            pieces.append(gap)
            total += len(gap)
        if total >= max_s * sr:
            break
    y = np.concatenate(pieces)[:int(max_s * sr)]
    return (y / (np.max(np.abs(y)) + 1e-9) * 0.5).astype(np.float32)


def talker_stream(audio: np.ndarray, n: int, rng: np.random.Generator, *, sr: int = SR,
                  gap_s=STREAM_GAP_S) -> np.ndarray:
    """``n`` samples of one talker: random crops of ``audio`` joined with short silent gaps.

    A signal longer than ``n`` gives one crop at a random start; a shorter one is
    cropped and joined repeatedly (gaps uniform in ``gap_s`` seconds).
    """
    if len(audio) >= n + sr // 4 and rng.random() < 0.8:
        s = int(rng.integers(0, len(audio) - n + 1))
        return audio[s:s + n].copy()
    out = np.zeros(n, np.float32)
    pos = 0
    while pos < n:
        length = int(rng.integers(min(len(audio), sr // 2), len(audio) + 1))
        s = int(rng.integers(0, len(audio) - length + 1))
        piece = audio[s:s + length][:n - pos]
        out[pos:pos + len(piece)] = piece
        pos += len(piece) + int(rng.uniform(*gap_s) * sr)
    return out


# --------------------------------------------------------------------------- labels
def activity(y: np.ndarray, sr: int = SR, *, rel_db: float = VAD_REL_DB, floor_db: float = VAD_FLOOR_DB,
             hangover_s: float = VAD_HANGOVER_S) -> np.ndarray:
    """Energy voice-activity of a clean source per frame (FRAME_S every HOP_S): boolean ``(frames,)``.

    Frame level ``L[t] = 10 log10(mean y^2)``; active where ``L[t] > max_t L - rel_db`` and
    ``L[t] > 20 log10(rms(y)) + floor_db``, widened by ``hangover_s`` on each side.
    Frame ``t`` covers samples ``[t hop, t hop + frame)``.
    """
    frame, hop = int(FRAME_S * sr), int(HOP_S * sr)
    n_frames = max(1, 1 + (len(y) - frame) // hop) if len(y) >= frame else 1
    idx = np.arange(frame)[None, :] + hop * np.arange(n_frames)[:, None]
    padded = np.pad(np.asarray(y, np.float64), (0, max(0, idx.max() + 1 - len(y))))
    level = 10 * np.log10(np.mean(padded[idx] ** 2, axis=1) + 1e-12)
    rms_db = 10 * np.log10(np.mean(np.asarray(y, np.float64) ** 2) + 1e-12)
    act = (level > level.max() - rel_db) & (level > rms_db + floor_db) & (level > -100)
    k = int(round(hangover_s / HOP_S))
    if k and act.any():
        act = np.convolve(act.astype(float), np.ones(2 * k + 1), mode="same") > 0
    return act


def overlap_share(acts: np.ndarray) -> float:
    """Share of frames with two or more active sources; ``acts`` is ``(sources, frames)`` boolean."""
    acts = np.atleast_2d(acts)
    if acts.shape[1] == 0:
        return 0.0
    return float(np.mean(acts.sum(axis=0) >= 2))


def label_from_share(share: float, threshold: float = SEVERAL_SHARE) -> int:
    """1 ("several") when ``share >= threshold``, else 0 ("one")."""
    return int(share >= threshold)


def window_labels(acts: np.ndarray, n_samples: int, *, window_s: float = 2.0, hop_s: float = 1.0,
                  sr: int = SR, threshold: float = SEVERAL_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Per-window ``(labels, shares)`` of a long scene for windows of ``window_s`` every ``hop_s``
    (the grid of :func:`tunesmith.audio.windows`; frames beyond the signal count as inactive)."""
    from tunesmith.audio import Audio, windows

    w = windows(Audio(np.zeros(n_samples, np.float32), sr), window_s, hop_s)
    shares = []
    per_frame = acts.sum(axis=0) >= 2
    for s in w.starts:
        a, b = int(round(s / HOP_S)), int(round((s + window_s) / HOP_S))
        seg = per_frame[a:b]
        shares.append(float(seg.sum()) / max(1, b - a))
    shares = np.asarray(shares)
    return (shares >= threshold).astype(np.int64), shares


# --------------------------------------------------------------------------- acoustics
def synthetic_rir(rng: np.random.Generator, sr: int = SR, *, rt60: float = 0.5, drr_db: float = 6.0,
                  n_early: int = 6) -> np.ndarray:
    """A synthetic room impulse response: direct path, early reflections, exponential noise tail.

    ``h[0] = 1`` (direct path); ``n_early`` reflections at 2-25 ms with gains
    ``±U(0.2, 0.7)``; a Gaussian tail from 5 ms on with envelope
    ``exp(-6.91 t / rt60)`` (60 dB of decay in ``rt60`` seconds), scaled so that the
    direct-to-reverberant energy ratio is ``drr_db``. Length ``rt60`` seconds.
    """
    n = max(int(rt60 * sr), int(0.03 * sr))
    t = np.arange(n) / sr
    h = np.zeros(n)
    start = int(0.005 * sr)
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / max(rt60, 1e-3))
    tail[:start] = 0.0
    for _ in range(n_early):
        d = int(rng.uniform(0.002, 0.025) * sr)
        tail[d] += rng.choice([-1, 1]) * rng.uniform(0.2, 0.7) * np.sqrt(np.sum(tail ** 2) / max(1, n) * sr * 0.01)
    tail *= np.sqrt(10 ** (-drr_db / 10) / (np.sum(tail ** 2) + 1e-12))
    h += tail
    h[0] = 1.0
    return h.astype(np.float32)


def coloured_noise(rng: np.random.Generator, n: int, exponent: float = 0.0) -> np.ndarray:
    """Unit-RMS noise with power spectrum ``~ 1 / f^exponent`` (0 white, 1 pink, 2 brown)."""
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.arange(n // 2 + 1, dtype=float)
    f[0] = 1.0
    y = np.fft.irfft(spec / f ** (exponent / 2), n)
    return (y / (np.sqrt(np.mean(y ** 2)) + 1e-12)).astype(np.float32)


def band_limit(y: np.ndarray, kind: str, sr: int = SR, rng: np.random.Generator | None = None) -> np.ndarray:
    """``phone``: 4th-order Butterworth band-pass about 300-3400 Hz; ``8k``: down to 8 kHz and back."""
    from scipy.signal import butter, sosfiltfilt

    if kind == "phone":
        lo, hi = (300.0, 3400.0) if rng is None else (rng.uniform(250, 400), rng.uniform(3000, 3600))
        sos = butter(4, [lo, hi], btype="bandpass", fs=sr, output="sos")
        return sosfiltfilt(sos, y).astype(np.float32)
    if kind == "8k":
        return _resample(_resample(y, sr, 8000), 8000, sr)[:len(y)]
    raise ValueError(f"unknown band limit {kind!r}")


def _rms(y) -> float:
    return float(np.sqrt(np.mean(np.asarray(y, np.float64) ** 2)) + 1e-12)


def _level(y: np.ndarray) -> np.ndarray:
    """``y`` scaled to RMS ``SOURCE_RMS`` over its samples above ``VOICED_LEVEL`` (pauses do not count)."""
    voiced = np.abs(y) > VOICED_LEVEL
    return (y * (SOURCE_RMS / _rms(y[voiced]))).astype(np.float32) if voiced.any() else y


@dataclass
class MixConfig:
    """Probabilities and ranges of the mixing recipe (one draw per clip).

    Scene types: ``single`` (one talker, possibly with an inserted pause and a breath),
    ``turns`` (two talkers taking turns with at most ``turn_overlap_s`` of overlap),
    ``overlap`` (2-4 talkers: one dominant over the whole window, the others over all of
    it or over a part of ``partial_s`` seconds: interjections and back-channels).
    """

    p_types: dict = field(default_factory=lambda: {"single": 0.40, "turns": 0.15, "overlap": 0.45})
    n_talkers: tuple = (2, 3, 4)
    p_n_talkers: tuple = (0.6, 0.28, 0.12)
    p_partial: float = 0.5
    partial_s: tuple = (0.5, 1.8)
    gain_db: tuple = (-10.0, 0.0)          # added talkers relative to the dominant one
    p_pause: float = 0.35
    pause_s: tuple = (0.2, 0.8)
    p_breath: float = 0.5
    turn_overlap_s: tuple = (0.0, 0.4)
    p_room: float = 0.6
    rt60_s: tuple = (0.15, 0.9)
    drr_db: tuple = (-3.0, 12.0)
    p_far: float = 0.3
    far_drr_db: tuple = (-8.0, 0.0)
    p_noise: float = 0.7
    snr_db: tuple = (3.0, 30.0)
    noise_exponents: tuple = (0.0, 1.0, 2.0)
    p_band: float = 0.25
    p_level_change: float = 0.3
    level_change_db: float = 6.0


@dataclass
class Clip:
    """A mixed clip, its label (0 one / 1 several), overlap share, talker names and conditions."""

    audio: np.ndarray
    label: int
    share: float
    talkers: list[str]
    conditions: list[str]
    scene: str


class SpeechMixer:
    """Draws labelled clips from the speech of a set of talkers.

    Parameters
    ----------
    audio : ``{talker name: float32 signal at sr}`` (see :func:`talker_audio`).
    seconds : clip length in seconds.
    config : the recipe (:class:`MixConfig`).
    """

    def __init__(self, audio: dict[str, np.ndarray], *, seconds: float = 2.0, sr: int = SR,
                 config: MixConfig | None = None):
        if len(audio) < 2:
            raise TunesmithError(f"mixing needs at least two talkers, got {len(audio)}")
        self.audio, self.names = audio, sorted(audio)
        self.n, self.sr = int(round(seconds * sr)), sr
        self.cfg = config or MixConfig()

    def _source(self, name: str, rng, start: int = 0, length: int | None = None) -> np.ndarray:
        """A clean source over ``[start, start + length)`` of the clip, RMS ``SOURCE_RMS`` over its voiced samples."""
        length = self.n - start if length is None else length
        y = np.zeros(self.n, np.float32)
        piece = _level(talker_stream(self.audio[name], length, rng, sr=self.sr))
        y[start:start + len(piece)] = piece[:self.n - start]
        return y

    def _pick(self, rng, k: int) -> list[str]:
        return [self.names[i] for i in rng.choice(len(self.names), size=k, replace=False)]

    def _single(self, rng, conds):
        name = self._pick(rng, 1)[0]
        y = self._source(name, rng)
        if rng.random() < self.cfg.p_pause:
            w = int(rng.uniform(*self.cfg.pause_s) * self.sr)
            s = int(rng.integers(0, max(1, self.n - w)))
            y[s:s + w] = 0.0
            conds.append("pause")
            if rng.random() < self.cfg.p_breath:
                y = y + self._breath(rng, s, w, _rms(y))
                conds.append("breath")
        return [name], [y]

    def _breath(self, rng, start: int, width: int, ref_rms: float) -> np.ndarray:
        """A breath: band-passed noise (300-2000 Hz) with a raised-sine envelope inside a pause, -30 to -18 dB."""
        from scipy.signal import butter, sosfilt

        out = np.zeros(self.n, np.float32)
        w = min(width, int(rng.uniform(0.15, 0.4) * self.sr))
        if w < 16:
            return out
        sos = butter(2, [300, 2000], btype="bandpass", fs=self.sr, output="sos")
        b = sosfilt(sos, rng.standard_normal(w)) * np.sin(np.linspace(0, np.pi, w)) ** 2
        b *= ref_rms * 10 ** (rng.uniform(-30, -18) / 20) / _rms(b)
        s = start + (width - w) // 2
        out[s:s + w] = b[:self.n - s]
        return out

    def _turns(self, rng, conds):
        a, b = self._pick(rng, 2)
        cut = int(rng.uniform(0.25, 0.75) * self.n)
        ov = int(rng.uniform(*self.cfg.turn_overlap_s) * self.sr)
        ya = self._source(a, rng, 0, min(self.n, cut + ov))
        yb = self._source(b, rng, cut)
        conds.append("turns")
        return [a, b], [ya, yb * 10 ** (rng.uniform(-6, 6) / 20)]

    def _overlap(self, rng, conds):
        k = int(rng.choice(self.cfg.n_talkers, p=self.cfg.p_n_talkers))
        names = self._pick(rng, k)
        ys = [self._source(names[0], rng)]
        for name in names[1:]:
            if rng.random() < self.cfg.p_partial:
                length = int(rng.uniform(*self.cfg.partial_s) * self.sr)
                start = int(rng.integers(0, max(1, self.n - length)))
                y = self._source(name, rng, start, length)
                conds.append("partial")
            else:
                y = self._source(name, rng)
            ys.append(y * 10 ** (rng.uniform(*self.cfg.gain_db) / 20))
        return names, ys

    def clip(self, rng: np.random.Generator, scene: str | None = None) -> Clip:
        """One clip; ``scene`` forces ``single``/``turns``/``overlap`` (default: drawn from ``p_types``)."""
        cfg = self.cfg
        if scene is None:
            kinds = list(cfg.p_types)
            scene = kinds[int(rng.choice(len(kinds), p=np.array(list(cfg.p_types.values())) / sum(cfg.p_types.values())))]
        conds: list[str] = []
        names, ys = {"single": self._single, "turns": self._turns, "overlap": self._overlap}[scene](rng, conds)
        acts = np.stack([activity(y, self.sr) for y in ys])
        share = overlap_share(acts) if len(ys) > 1 else 0.0
        return Clip(self.finish(ys, rng, conds), label_from_share(share), share, names, conds, scene)

    def finish(self, ys: list[np.ndarray], rng: np.random.Generator, conds: list[str]) -> np.ndarray:
        """Room, sum, noise, band limit, level change and final level of clean sources ``ys``."""
        from scipy.signal import fftconvolve

        cfg = self.cfg
        n = len(ys[0])
        if rng.random() < cfg.p_room:
            rt60 = rng.uniform(*cfg.rt60_s)
            far = rng.random() < cfg.p_far
            conds.append(f"room{rt60:.1f}" + ("-far" if far else ""))
            ys = [fftconvolve(y, synthetic_rir(rng, self.sr, rt60=rt60,
                                               drr_db=rng.uniform(*(cfg.far_drr_db if far else cfg.drr_db))))[:n]
                  for y in ys]
        mix = np.sum(ys, axis=0).astype(np.float64)
        if rng.random() < cfg.p_noise:
            expo = float(rng.choice(cfg.noise_exponents))
            snr = rng.uniform(*cfg.snr_db)
            mix += coloured_noise(rng, n, expo) * _rms(mix) * 10 ** (-snr / 20)
            conds.append(f"noise{int(expo)}-{snr:.0f}dB")
        if rng.random() < cfg.p_band:
            kind = "phone" if rng.random() < 0.5 else "8k"
            mix = band_limit(mix, kind, self.sr, rng).astype(np.float64)
            conds.append(kind)
        if rng.random() < cfg.p_level_change:
            mix *= 10 ** (np.linspace(0, rng.uniform(-1, 1) * cfg.level_change_db, n) / 20)
            conds.append("level-change")
        mix *= 10 ** (rng.uniform(*LEVEL_DB) / 20) / _rms(mix)
        peak = np.max(np.abs(mix))
        if peak > PEAK_LIMIT:
            mix *= PEAK_LIMIT / peak
        return mix.astype(np.float32)


def balanced_clips(mixer: SpeechMixer, rng: np.random.Generator, n_per_label: int, *,
                   max_turns_share: float = 0.2):
    """Yield clips until there are ``n_per_label`` of each label (surplus clips of a full label are
    dropped; turn-taking "one" clips are capped at ``max_turns_share`` of the "one" clips)."""
    done = {0: 0, 1: 0}
    turns = 0
    while min(done.values()) < n_per_label:
        c = mixer.clip(rng)
        is_turn = c.label == 0 and c.scene == "turns"
        if done[c.label] >= n_per_label or (is_turn and turns >= max_turns_share * n_per_label):
            continue
        turns += is_turn
        done[c.label] += 1
        yield c


def file_scene(audio: dict[str, np.ndarray], rng: np.random.Generator, n_talkers: int, *, seconds: float = 8.0,
               sr: int = SR, config: MixConfig | None = None) -> tuple[np.ndarray, list[str]]:
    """A recording of ``n_talkers`` talking at once for ``seconds`` (1: one talker with the pauses of
    :func:`talker_stream`), added talkers -6 to 0 dB, through ``config``'s acoustic chain
    (default: milder than training: room 0.4, noise 0.5 at 10-30 dB, no band limits)."""
    cfg = config or MixConfig(p_room=0.4, p_far=0.0, p_noise=0.5, snr_db=(10.0, 30.0), p_band=0.0,
                              p_level_change=0.0)
    mixer = SpeechMixer(audio, seconds=seconds, sr=sr, config=cfg)
    names = mixer._pick(rng, n_talkers)
    ys = [mixer._source(nm, rng) * (10 ** (rng.uniform(-6, 0) / 20) if j else 1.0) for j, nm in enumerate(names)]
    return mixer.finish(ys, rng, []), names


def meeting_scene(audio: dict[str, np.ndarray], rng: np.random.Generator, *, seconds: float = 20.0,
                  sr: int = SR, n_talkers: int | None = None, config: MixConfig | None = None
                  ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A meeting-like scene: turn-taking among 2-4 talkers with short overlaps, back-channels and the
    odd stretch of two talking at once, in a reverberant far-field room with noise.

    Turns last 1-4 s; a new turn starts 0.2-1.0 s before the previous one ends with
    probability 0.35 (else after a 0-0.6 s gap); during a turn another talker says a
    0.3-0.9 s back-channel with probability 0.3 (-15 to -3 dB), and with probability
    0.12 talks over the turn for 1.2-3 s. Returns ``(audio, activity (talkers, frames),
    talker names)``; per-window labels follow from :func:`window_labels`.
    """
    from scipy.signal import fftconvolve

    cfg = config or MixConfig(p_room=1.0, p_far=0.7, rt60_s=(0.3, 0.9), p_noise=1.0, snr_db=(8.0, 25.0),
                              p_band=0.1, p_level_change=0.0)
    names_all = sorted(audio)
    k = n_talkers or int(rng.integers(2, 5))
    names = [names_all[i] for i in rng.choice(len(names_all), size=min(k, len(names_all)), replace=False)]
    n = int(seconds * sr)
    srcs = np.zeros((len(names), n), np.float32)
    gains = 10 ** (rng.uniform(-4, 4, size=len(names)) / 20)

    def put(j: int, start: int, length: int, gain_db: float = 0.0):
        start, length = max(0, start), min(length, n - max(0, start))
        if length <= 0:
            return
        piece = _level(talker_stream(audio[names[j]], length, rng, sr=sr))
        srcs[j, start:start + length] += piece * gains[j] * 10 ** (gain_db / 20)

    pos, cur = int(rng.uniform(0, 0.5) * sr), 0
    while pos < n:
        length = int(rng.uniform(1.0, 4.0) * sr)
        put(cur, pos, length)
        others = [j for j in range(len(names)) if j != cur]
        if rng.random() < 0.3:
            w = int(rng.uniform(0.3, 0.9) * sr)
            put(int(rng.choice(others)), pos + int(rng.integers(0, max(1, length - w))), w, rng.uniform(-15, -3))
        if rng.random() < 0.12:
            w = int(rng.uniform(1.2, 3.0) * sr)
            put(int(rng.choice(others)), pos + int(rng.integers(0, max(1, length - w // 2))), w, rng.uniform(-6, 0))
        nxt = int(rng.choice(others))
        if rng.random() < 0.35:
            pos += length - int(rng.uniform(0.2, 1.0) * sr)
        else:
            pos += length + int(rng.uniform(0.0, 0.6) * sr)
        cur = nxt
    acts = np.stack([activity(s, sr) if np.any(s) else np.zeros(1 + (n - int(FRAME_S * sr)) // int(HOP_S * sr), bool)
                     for s in srcs])
    # activity relative to each talker's own loudest frame misses nothing; frames are aligned across talkers
    mixer = SpeechMixer({nm: audio[nm] for nm in names} if len(names) > 1 else audio, seconds=seconds, sr=sr,
                        config=cfg)
    rt60 = rng.uniform(*cfg.rt60_s)
    ys = [fftconvolve(s, synthetic_rir(rng, sr, rt60=rt60, drr_db=rng.uniform(*cfg.far_drr_db)))[:n]
          if np.any(s) else s for s in srcs]
    no_room = MixConfig(**{**cfg.__dict__, "p_room": 0.0})
    mixer.cfg = no_room
    mix = mixer.finish(ys, rng, [])
    return mix, acts, names
