"""One voice (or instrument) or several at once? Per window, per file, and live.

The detector is an ordinary :class:`~tunesmith.classify.model.Classifier` with the
classes ``one`` and ``several``, trained on short windows (2 s by default) of
monophonic renders versus mixtures of 2-3 of them, and on mixtures of real talkers
labelled from their exact overlap (:mod:`tunesmith.classify.mixing`; see
``scripts/make_classify_data.py`` and ``scripts/train_default_voices.py``). Its
decision threshold on ``p(several)`` is calibrated on validation talkers and
validation instruments together (:func:`calibrate_threshold`, the worse of the two) and folded into the network (:func:`fold_threshold`),
so ``p(several) >= 0.5`` is the decision everywhere. A default checkpoint ships as
package data (:func:`tunesmith.models.path`).

:class:`GMMBaseline` is the classic alternative: a Gaussian mixture per class on
MFCCs plus their deltas, deciding by the log-likelihood ratio
``LLR = mean_t log p(x_t | several) - mean_t log p(x_t | one)`` (``several`` when
``LLR > 0``).

:func:`stream_voices` decides every ``decide_every_s`` seconds on the latest
window of audio as it arrives -- from a file that is still being written or from
standard input (raw 16-bit PCM or a WAV stream) -- and measures the latency of
each decision: the time from the moment the last sample of the block could be
read to the moment the decision is made.
"""
from __future__ import annotations

import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.errors import AudioError, TunesmithError

__all__ = ["VOICE_CLASSES", "default_checkpoint", "load_voices_model", "detect_voices", "GMMBaseline",
           "StreamDecision", "stream_voices", "pcm_blocks", "calibrate_threshold", "fold_threshold"]

VOICE_CLASSES = ["one", "several"]
CHECKPOINT_ENV = "TUNESMITH_VOICES_CHECKPOINT"
DEFAULT_CHECKPOINT_NAME = "voices.pt"
MFCC_COEFFS = 20
GMM_COMPONENTS = 16
IDLE_TIMEOUT_S = 2.0
#: Thresholds on p(several) searched by :func:`calibrate_threshold`.
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)
POLL_S = 0.02


def default_checkpoint() -> Path:
    """The shipped detector, or ``$TUNESMITH_MODEL_VOICES`` (see :func:`tunesmith.models.path`)."""
    from tunesmith import models

    return models.path("voices")


def load_voices_model(checkpoint: str | Path | None = None):
    """Load the one-vs-several detector (the shipped one by default)."""
    from tunesmith.classify.train import load_classifier

    return load_classifier(checkpoint or default_checkpoint(), expected_classes=VOICE_CLASSES)


def detect_voices(paths, checkpoint: str | Path | None = None, *, hop_s: float | None = None,
                  csv_path: str | Path | None = None, quiet: bool = False):
    """Per-window and per-file probability that several voices sound at once.

    Returns ``(results, batch)`` as :func:`tunesmith.classify.train.classify_files`.
    """
    from tunesmith.classify.train import classify_files

    model = checkpoint if hasattr(checkpoint, "predict_proba") else load_voices_model(checkpoint)
    return classify_files(paths, model, hop_s=hop_s, csv_path=csv_path, quiet=quiet)


# --------------------------------------------------------------------------- decision threshold
def _balanced_accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(0.5 * (pred[y].mean() + (~pred[~y]).mean()))


def calibrate_threshold(p_several: np.ndarray, y: np.ndarray, grid=THRESHOLD_GRID, *,
                        groups: np.ndarray | None = None) -> tuple[float, float]:
    """The threshold ``t`` on ``p(several)`` with the best balanced accuracy on labelled windows.

    Balanced accuracy ``(TPR + TNR) / 2`` with ``several`` when ``p >= t``. With ``groups``
    (one domain name per window, e.g. instruments and talkers) the objective is the WORST
    domain's balanced accuracy, ``min_g BA_g(t)``, ties broken by the mean over domains, so
    that one domain is not bought with the other. Remaining ties go to the threshold
    nearest 0.5. Returns ``(t, objective at t)``. Meant for validation windows (timbres and
    talkers neither in training nor in the test set); every group needs both classes.
    """
    p, y = np.asarray(p_several, float), np.asarray(y).astype(bool)
    g = np.zeros(len(y), dtype=int) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    masks = [g == k for k in range(int(g.max()) + 1)]
    if any(y[m].all() or not y[m].any() for m in masks):
        raise TunesmithError("calibration needs windows of both classes (in every group)")
    best = (-1.0, -1.0, 0.5)
    for t in sorted(grid, key=lambda t: abs(t - 0.5)):
        pred = p >= t
        baccs = [_balanced_accuracy(pred[m], y[m]) for m in masks]
        key = (min(baccs), float(np.mean(baccs)))
        if key[0] > best[0] + 1e-12 or (abs(key[0] - best[0]) <= 1e-12 and key[1] > best[1] + 1e-12):
            best = (*key, float(t))
    return best[2], best[0]


def fold_threshold(model, threshold: float) -> None:
    """Move the decision threshold into the network so that ``p'(several) >= 0.5`` iff ``p(several) >= threshold``.

    With two classes ``p(several) = sigmoid(z_1 - z_0)``; subtracting
    ``logit(threshold)`` from the bias of the last layer's ``several`` output gives
    ``p' = sigmoid(z_1 - z_0 - logit(t))``, so argmax decisions everywhere (files,
    streaming, the ONNX export) use the calibrated threshold. ``model.config`` gains
    ``decision_threshold`` (what the unshifted network's threshold was) for the record; a
    second fold on top of a first composes them, ``logit(t_total) = logit(t0) + logit(t)``.
    """
    import math

    import torch

    t = float(threshold)
    if not 0.0 < t < 1.0:
        raise TunesmithError(f"threshold must be in (0, 1), got {t}")
    head = model.net.head
    with torch.no_grad():
        head.bias[VOICE_CLASSES.index("several")] -= math.log(t / (1.0 - t))
    prev = model.config.get("decision_threshold")
    if prev is not None:  # folded twice: the unshifted network decides at logit^-1(logit(t0) + logit(t))
        t = 1.0 / (1.0 + math.exp(-(math.log(prev / (1.0 - prev)) + math.log(t / (1.0 - t)))))
    model.config["decision_threshold"] = t


# --------------------------------------------------------------------------- GMM baseline
class GMMBaseline:
    """Gaussian mixtures on MFCCs + deltas, one per class; decision by log-likelihood ratio.

    Parameters
    ----------
    sr : sample rate of the windows (Hz).
    n_mfcc : cepstral coefficients per frame (deltas double it).
    n_components : mixture components per class (diagonal covariances).
    """

    def __init__(self, sr: int = 16000, n_mfcc: int = MFCC_COEFFS, n_components: int = GMM_COMPONENTS,
                 seed: int = 0, n_fft: int = 1024, hop_length: int = 512):
        self.sr, self.n_mfcc, self.n_components, self.seed = sr, n_mfcc, n_components, seed
        self.n_fft, self.hop_length = n_fft, hop_length

    def frames(self, x: np.ndarray) -> np.ndarray:
        """MFCCs and deltas per frame: (n_windows, frames, 2 * n_mfcc)."""
        import torch

        from tunesmith.features import frontend

        fe = frontend("mfcc", self.sr, n_mfcc=self.n_mfcc, n_fft=self.n_fft, hop_length=self.hop_length,
                      n_mels=64).eval()
        with torch.no_grad():
            m = torch.cat([fe(torch.from_numpy(x[i:i + 64])) for i in range(0, len(x), 64)]).numpy()
        delta = np.gradient(m, axis=2) if m.shape[2] > 1 else np.zeros_like(m)
        return np.concatenate([m, delta], axis=1).transpose(0, 2, 1)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "GMMBaseline":
        """Fit on windows ``x`` (n, samples) with labels ``y`` (0 = one, 1 = several)."""
        from tunesmith.classify.compare import GaussianClassScorer

        self.scorer = GaussianClassScorer(self.n_components, self.seed, max_frames=60000)
        self.scorer.fit(self.frames(x), np.asarray(y), 2)
        return self

    def llr(self, x: np.ndarray) -> np.ndarray:
        s = self.scorer.scores(self.frames(x))
        return s[:, 1] - s[:, 0]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, 2) probabilities; ``p(several) = sigmoid(LLR)``."""
        p = 1.0 / (1.0 + np.exp(-np.clip(self.llr(x), -50, 50)))
        return np.stack([1 - p, p], axis=1)


# --------------------------------------------------------------------------- streaming
@dataclass(frozen=True)
class StreamDecision:
    """One live decision: the window ends at ``time_s`` of the stream; ``latency_s`` is the time
    between the block's last sample becoming readable and this decision."""

    time_s: float
    label: str
    p_several: float
    latency_s: float


def _parse_wav_header(read) -> tuple[int, int, int]:
    """Read a RIFF/WAVE header from ``read(n)``; returns (sr, channels, bits) positioned at the data."""
    riff = read(12)
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        raise AudioError("stream is not a WAV file")
    fmt = None
    while True:
        head = read(8)
        if len(head) < 8:
            raise AudioError("WAV stream ended before its data chunk")
        cid, size = head[:4], struct.unpack("<I", head[4:])[0]
        if cid == b"data":
            break
        body = read(size + (size & 1))
        if cid == b"fmt ":
            tag, ch, sr, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag not in (1, 0xFFFE) or bits != 16:
                raise AudioError(f"live input must be 16-bit PCM WAV (got format {tag}, {bits} bits)")
            fmt = (sr, ch, bits)
    if fmt is None:
        raise AudioError("WAV stream has no fmt chunk")
    return fmt


#: A path with one of these endings must hold a RIFF/WAVE stream; any other name may be raw PCM.
WAV_SUFFIXES = (".wav", ".wave")


def pcm_blocks(source, block_s: float = 1.0, *, sr: int = 16000, channels: int = 1,
               follow: bool = True, idle_timeout_s: float = IDLE_TIMEOUT_S) -> Iterator[tuple[np.ndarray, int, float]]:
    """Yield ``(mono float32 block, sr, t_ready)`` of ``block_s`` seconds as the input grows.

    ``source`` is a path (a WAV file, possibly still being written, or raw PCM) or
    ``"-"`` for standard input (a path named ``.wav`` must be a WAV file). WAV headers give the format; raw input is 16-bit
    little-endian PCM at ``sr`` Hz with ``channels`` channels. With ``follow`` a
    file is polled for new data until nothing arrives for ``idle_timeout_s``.
    ``t_ready`` is ``time.perf_counter()`` when the block's last byte was read.
    """
    if source in ("-", None):
        fh = sys.stdin.buffer
        path = Path("<stdin>")
        is_file = False
    else:
        path = Path(source)
        if not path.exists():
            raise AudioError("no such file", path)
        fh = open(path, "rb")
        is_file = True

    def read_exact(n: int) -> bytes:
        buf = b""
        idle_since = time.perf_counter()
        while len(buf) < n:
            chunk = fh.read(n - len(buf)) if is_file else fh.read1(n - len(buf))
            if chunk:
                buf += chunk
                idle_since = time.perf_counter()
                continue
            if not is_file or not follow or time.perf_counter() - idle_since > idle_timeout_s:
                break
            time.sleep(POLL_S)
        return buf

    try:
        head = read_exact(4)
        if head == b"RIFF":
            pending = [head]

            def read(n):
                if pending:
                    first = pending.pop()
                    return first + read_exact(n - len(first))
                return read_exact(n)

            sr, channels, _ = _parse_wav_header(read)
            carry = b""
        elif is_file and path.suffix.lower() in WAV_SUFFIXES and head:
            raise AudioError("not a WAV file (no RIFF header; raw PCM needs another name, e.g. .raw or .pcm)", path)
        else:
            carry = head
        frame_bytes = 2 * channels
        block_bytes = int(round(block_s * sr)) * frame_bytes
        while True:
            data = carry + read_exact(block_bytes - len(carry))
            carry = b""
            t_ready = time.perf_counter()
            usable = len(data) - len(data) % frame_bytes
            if usable == 0:
                break
            y = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
            if channels > 1:
                y = y.reshape(-1, channels).mean(axis=1)
            yield y, sr, t_ready
            if len(data) < block_bytes:
                break
    finally:
        if is_file:
            fh.close()


def stream_voices(source, checkpoint=None, *, decide_every_s: float = 1.0, sr: int = 16000,
                  channels: int = 1, follow: bool = True, idle_timeout_s: float = IDLE_TIMEOUT_S
                  ) -> Iterator[StreamDecision]:
    """Decide every ``decide_every_s`` seconds whether one or several voices sound in the latest window.

    The model sees the most recent ``window_s`` seconds (zero-padded at the very
    start of the stream). ``sr``/``channels`` describe raw PCM input (WAV input
    carries its own). Input at another rate than the model's is resampled with a
    streaming resampler.
    """
    import soxr
    import torch

    model = checkpoint if hasattr(checkpoint, "predict_proba") else load_voices_model(checkpoint)
    win = int(round(model.window_s * model.sr))
    ring = np.zeros(win, dtype=np.float32)
    resampler = None
    total = 0
    with torch.no_grad():
        for block, block_sr, t_ready in pcm_blocks(source, decide_every_s, sr=sr, channels=channels,
                                                    follow=follow, idle_timeout_s=idle_timeout_s):
            if block_sr != model.sr:
                if resampler is None:
                    resampler = soxr.ResampleStream(block_sr, model.sr, 1, dtype="float32")
                block = resampler.resample_chunk(block)
            if len(block) == 0:
                continue
            block = block[-win:]
            ring = np.concatenate([ring[len(block):], block])
            total += len(block)
            p = model.predict_proba(torch.from_numpy(ring[None]))[0].numpy()
            latency = time.perf_counter() - t_ready
            k = int(np.argmax(p))
            yield StreamDecision(total / model.sr, model.classes[k], float(p[1]), latency)
