"""Paired recordings for sound transformation: finding, checking, aligning, cropping.

A pair folder holds ``input/`` and ``output/`` with files of the same names
(extension may differ), or a CSV with columns ``input,output`` (paths relative
to the CSV's folder). Every pair is checked before training:

* both files load, are not silent, and have the same sample rate;
* their lengths agree within ``max_length_diff_s`` (the longer one is cut);
* their alignment: the lag maximising the cross-correlation of the two log
  spectrograms (summed over bins, 11.6 ms resolution) must be within
  ``max_lag_ms`` (default 75 ms: a bowed attack already reads 10-60 ms late);
  with ``align=True`` a larger constant offset is removed instead.

Bad pairs are reported in one line each and skipped. Good pairs are resampled
to the model's rate and cached in memory as float32 waveforms; training draws
random aligned crops of ``crop_frames`` STFT frames (the waveform segment that
gives exactly those frames of the whole file's centred STFT), so the
spectrograms are computed on the fly, batched, by the model.
"""
from __future__ import annotations

import logging
import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tunesmith.errors import TunesmithError

log = logging.getLogger(__name__)

__all__ = ["Pair", "PairReport", "find_pairs", "check_pair", "estimate_lag", "load_pairs",
           "PairDataset", "PairDataModule"]

#: Hop, FFT size and top frequency of the spectrograms used to find the lag between input and output.
_ENV_HOP = 256
_LAG_N_FFT = 1024
_LAG_FMAX = 5000.0


@dataclass
class Pair:
    """One checked, aligned pair of waveforms at ``sr`` Hz (same length)."""

    name: str
    x: np.ndarray
    y: np.ndarray
    sr: int
    lag: int = 0  # samples the output was shifted by (positive: output started late)
    measured_lag: int = 0  # lag found by :func:`estimate_lag` (samples, at the files' rate)


@dataclass
class PairReport:
    """What :func:`load_pairs` did: the good pairs and, for each skipped one, why."""

    pairs: list[Pair] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    lags_ms: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        lags = list(self.lags_ms.values())
        worst = f", largest input/output lag {max(lags, key=abs):+.0f} ms" if lags else ""
        return f"{len(self.pairs)} pairs usable, {len(self.skipped)} skipped{worst}"


def find_pairs(source: str | Path) -> list[tuple[str, Path, Path | None]]:
    """``(name, input_path, output_path)`` for a pair folder or a CSV of pairs.

    An input without a matching output gets ``None`` (reported as a bad pair
    by :func:`load_pairs`). Raises :class:`TunesmithError` when ``source`` is
    neither.
    """
    from tunesmith.io import AUDIO_EXTENSIONS

    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        rows = list(csv.DictReader(source.read_text().splitlines()))
        if not rows or not {"input", "output"} <= set(rows[0]):
            raise TunesmithError("a pair CSV needs the columns input,output", source)
        base = source.parent
        return [(Path(r["input"]).stem, base / r["input"], base / r["output"]) for r in rows]
    if not source.is_dir():
        raise TunesmithError("no such pair folder (expected DIR/input and DIR/output, or a CSV)", source)
    ind, outd = source / "input", source / "output"
    if not ind.is_dir() or not outd.is_dir():
        raise TunesmithError("a pair folder must contain input/ and output/ subfolders", source)

    def index(folder: Path) -> dict[str, Path]:
        return {str(f.relative_to(folder).with_suffix("")): f for f in sorted(folder.rglob("*"))
                if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS and not f.name.startswith(".")}

    ins, outs = index(ind), index(outd)
    if not ins:
        raise TunesmithError("no audio files in input/", source)
    return [(k, ins[k], outs.get(k)) for k in sorted(ins)]


def _lag_features(y: np.ndarray, sr: int) -> np.ndarray:
    """Per-bin standardised log spectrogram below 5 kHz (1024-point STFT, 256-sample hop)."""
    from tunesmith.transform.invert import stft

    S = stft(torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)), _LAG_N_FFT, _ENV_HOP).abs()
    S = S[: max(2, int(_LAG_FMAX * _LAG_N_FFT / sr))]
    L = torch.log1p(1000.0 * S / (S.max() + 1e-12)).double().numpy()
    L = L - L.mean(axis=1, keepdims=True)
    return L / (L.std(axis=1, keepdims=True) + 1e-6)


def estimate_lag(x: np.ndarray, y: np.ndarray, sr: int, max_lag_s: float = 0.5) -> int:
    """Samples by which ``y`` lags ``x`` (positive: ``y`` starts later), within ``±max_lag_s``.

    Different instruments share pitches and note changes, not waveforms, so
    the lag maximises the cross-correlation of the two log spectrograms summed
    over frequency bins (below 5 kHz, each bin standardised over time), at the
    resolution of one 256-sample hop (11.6 ms at 22,050 Hz). A slow attack
    (bowed strings) biases the estimate by a frame or two late.
    """
    a, b = _lag_features(x, sr), _lag_features(y, sr)
    n = min(a.shape[1], b.shape[1])
    if n < 4:
        return 0
    a, b = a[:, :n], b[:, :n]
    max_lag = max(1, int(max_lag_s * sr / _ENV_HOP))
    size = 1 << int(np.ceil(np.log2(2 * n)))
    xc = np.fft.irfft(np.conj(np.fft.rfft(a, size, axis=1)) * np.fft.rfft(b, size, axis=1), size, axis=1).sum(0)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    vals = np.concatenate([xc[: max_lag + 1], xc[size - max_lag:]])
    return int(lags[int(np.argmax(vals))] * _ENV_HOP)


def check_pair(x, y, name: str, *, max_length_diff_s: float = 0.25, max_lag_ms: float = 75.0,
               align: bool = False, max_align_s: float = 0.5) -> Pair:
    """Check two :class:`~tunesmith.audio.Audio` recordings as a pair; return the aligned :class:`Pair`.

    Raises :class:`TunesmithError` (one line) for a sample-rate mismatch, lengths
    that differ by more than ``max_length_diff_s``, or (without ``align``) a lag
    above ``max_lag_ms``.
    """
    if x.sr != y.sr:
        raise TunesmithError(f"sample rates differ (input {x.sr} Hz, output {y.sr} Hz)", name)
    diff = abs(len(x.samples) - len(y.samples)) / x.sr
    if diff > max_length_diff_s:
        raise TunesmithError(f"lengths differ by {diff:.2f} s (input {x.duration:.2f} s, output "
                             f"{y.duration:.2f} s; at most {max_length_diff_s} s allowed)", name)
    xs, ys = x.samples, y.samples
    lag = estimate_lag(xs, ys, x.sr, max_align_s)
    lag_ms = 1000.0 * lag / x.sr
    if abs(lag_ms) > max_lag_ms:
        if not align:
            raise TunesmithError(f"output is offset by {lag_ms:+.0f} ms from input "
                                 f"(use --align to remove a constant offset)", name)
        ys = ys[lag:] if lag > 0 else np.concatenate([np.zeros(-lag, np.float32), ys])
        applied = lag
    else:
        applied = 0
    n = min(len(xs), len(ys))
    return Pair(name, np.ascontiguousarray(xs[:n]), np.ascontiguousarray(ys[:n]), x.sr, applied, lag)


def load_pairs(source, sr: int, *, align: bool = False, max_lag_ms: float = 75.0,
               max_length_diff_s: float = 0.25, min_duration_s: float = 0.5, quiet: bool = False) -> PairReport:
    """Load, check and align every pair under ``source``; bad pairs are listed in the report and skipped."""
    from tunesmith.audio import check_not_silent, load

    report = PairReport()
    found = find_pairs(source)
    for name, ip, op in found:
        try:
            if op is None:
                raise TunesmithError("no output file of the same name in output/", ip)
            x = check_not_silent(load(ip), ip)
            y = check_not_silent(load(op), op)
            pair = check_pair(x, y, name, max_length_diff_s=max_length_diff_s, max_lag_ms=max_lag_ms, align=align)
            if pair.sr != sr:
                from tunesmith.audio import resample

                orig = pair.sr
                pair = Pair(name, resample(pair.x, orig, sr), resample(pair.y, orig, sr), sr,
                            round(pair.lag * sr / orig), round(pair.measured_lag * sr / orig))
            if len(pair.x) < min_duration_s * sr:
                raise TunesmithError(f"shorter than {min_duration_s} s after alignment", name)
            report.pairs.append(pair)
            report.lags_ms[name] = 1000.0 * pair.measured_lag / sr
        except TunesmithError as exc:
            report.skipped[name] = str(exc)
            if not quiet:
                log.warning("skipped pair %s: %s", name, exc.message if exc.path else exc)
    return report


class PairDataset(torch.utils.data.Dataset):
    """Random (or, with ``fixed=True``, evenly spaced) aligned crops of ``crop_frames`` STFT frames.

    Item: ``(x_wave, y_wave, floor_db)`` where the waves are the
    ``(crop_frames - 1) * hop_length + n_fft`` samples that give exactly
    ``crop_frames`` frames of the whole file's centred STFT when analysed with
    ``center=False``, and ``floor_db`` is the output file's peak power in dB minus
    ``top_db`` (the floor of the log-spectral distance).
    """

    def __init__(self, pairs: list[Pair], *, n_fft: int, hop_length: int, crop_frames: int,
                 length: int, fixed: bool = False, top_db: float = 80.0, seed: int = 0):
        from tunesmith.transform.metrics import power_db

        self.n_fft, self.hop, self.crop = n_fft, hop_length, crop_frames
        self.length, self.fixed, self.seed = length, fixed, seed
        pad = n_fft // 2
        self.x = [np.pad(p.x, (pad, pad)) for p in pairs]
        self.y = [np.pad(p.y, (pad, pad)) for p in pairs]
        self.frames = [1 + len(p.x) // hop_length for p in pairs]
        self.floors = [float(power_db(torch.from_numpy(p.y), n_fft, hop_length).max()) - top_db for p in pairs]
        weights = np.array(self.frames, dtype=np.float64)
        self.p = weights / weights.sum()
        self._epoch = 0

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self._epoch = epoch

    def __getitem__(self, i: int):
        if self.fixed:
            k = i % len(self.x)
            start = ((i // len(self.x)) * self.crop) % max(1, self.frames[k] - self.crop + 1)
        else:
            rng = np.random.default_rng((self.seed, self._epoch, i))
            k = int(rng.choice(len(self.x), p=self.p))
            start = int(rng.integers(0, max(1, self.frames[k] - self.crop + 1)))
        n = (self.crop - 1) * self.hop + self.n_fft
        a = start * self.hop

        def cut(w):
            seg = w[a:a + n]
            return np.pad(seg, (0, n - len(seg))) if len(seg) < n else seg

        return (torch.from_numpy(cut(self.x[k]).copy()), torch.from_numpy(cut(self.y[k]).copy()),
                torch.tensor(self.floors[k], dtype=torch.float32))


class PairDataModule:
    """Placeholder replaced below by the Lightning subclass (kept importable without Lightning)."""


try:  # Lightning is a runtime dependency; the guard keeps this module importable for data checks alone.
    import lightning as L

    class PairDataModule(L.LightningDataModule):  # type: ignore[no-redef]
        """Loads a pair folder (or CSV), checks and aligns the pairs, splits them into train/valid.

        The split is by file (``valid_fraction`` of the pairs, at least one when
        there are two or more; chosen with ``seed``), so crops of one recording
        never sit on both sides.
        """

        def __init__(self, source, *, sr: int = 22050, n_fft: int = 2048, hop_length: int = 512,
                     crop_frames: int = 64, batch_size: int = 8, crops_per_epoch: int = 256,
                     valid_fraction: float = 0.1, align: bool = False, max_lag_ms: float = 75.0,
                     max_length_diff_s: float = 0.25, top_db: float = 80.0, num_workers: int = 0,
                     seed: int = 0, quiet: bool = False):
            super().__init__()
            self.source = source
            self.sr, self.n_fft, self.hop_length, self.crop_frames = sr, n_fft, hop_length, crop_frames
            self.batch_size, self.crops_per_epoch = batch_size, crops_per_epoch
            self.valid_fraction, self.align, self.max_lag_ms = valid_fraction, align, max_lag_ms
            self.max_length_diff_s, self.top_db = max_length_diff_s, top_db
            self.num_workers, self.seed, self.quiet = num_workers, seed, quiet
            self.report: PairReport | None = None
            self.train_pairs: list[Pair] = []
            self.valid_pairs: list[Pair] = []

        def setup(self, stage: str | None = None) -> None:
            if self.report is not None:
                return
            self.report = load_pairs(self.source, self.sr, align=self.align, max_lag_ms=self.max_lag_ms,
                                     max_length_diff_s=self.max_length_diff_s, quiet=self.quiet)
            pairs = self.report.pairs
            if not pairs:
                raise TunesmithError(f"no usable pairs ({len(self.report.skipped)} skipped)", self.source)
            if not self.quiet:
                log.info("%s", self.report.summary())
            order = np.random.default_rng(self.seed).permutation(len(pairs))
            n_valid = int(round(self.valid_fraction * len(pairs)))
            n_valid = min(max(n_valid, 1 if len(pairs) >= 2 and self.valid_fraction > 0 else 0), len(pairs) - 1)
            self.valid_pairs = [pairs[i] for i in order[:n_valid]]
            self.train_pairs = [pairs[i] for i in order[n_valid:]]

        def _ds(self, pairs, length, fixed):
            return PairDataset(pairs, n_fft=self.n_fft, hop_length=self.hop_length, crop_frames=self.crop_frames,
                               length=length, fixed=fixed, top_db=self.top_db, seed=self.seed)

        def train_dataloader(self):
            ds = self._ds(self.train_pairs, self.crops_per_epoch, False)
            epoch = self.trainer.current_epoch if self.trainer is not None else 0
            ds.set_epoch(epoch)
            return torch.utils.data.DataLoader(ds, batch_size=self.batch_size, shuffle=False,
                                               num_workers=self.num_workers, drop_last=False)

        def val_dataloader(self):
            if not self.valid_pairs:
                return []
            n = max(self.batch_size, 2 * len(self.valid_pairs))
            ds = self._ds(self.valid_pairs, n, True)
            return torch.utils.data.DataLoader(ds, batch_size=self.batch_size, shuffle=False,
                                               num_workers=self.num_workers)
except ImportError:  # pragma: no cover
    pass
