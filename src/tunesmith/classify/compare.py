"""Which representation is best for *my* data? k-fold comparison of front ends.

:func:`compare_features` cuts a labelled folder into windows once, assigns every
source group (by default a file name without extension) to one of ``folds``
folds, and for each representation trains the same small classifier on the
training folds and scores the held-out fold. Representations:

``stft`` ``logstft`` ``mel`` ``logmel`` ``pcen`` ``mfcc`` ``cqt``
    ``tunesmith.features`` front ends, standardised per bin on the training part,
    into the CNN (the 1-D variant by default: bins as channels, convolution over
    time, which is fast enough for k-fold runs on a laptop CPU).
``logmel+stats``
    log-mel in absolute dB (no per-window floor) plus six waveform statistics
    per frame (level, peak, shares of digitally silent samples, of samples at the
    window's ceiling, of flat tops and of samples at the window's maximum) and
    eight mains-hum rows (prominence of the 50 and 60 Hz lines and their first
    harmonics in a 0.5-s analysis window) and the generator-agnostic quality
    descriptors of :class:`~tunesmith.classify.quality.QualityDescriptors`
    (saturation of any curve, reverberant decay, noise floor, bandwidth, stable
    tones at any frequency, dropouts, coding holes)
    (:class:`~tunesmith.classify.model.LogMelStats`), into the same CNN. Meant
    for recording-quality questions (dropouts, clipping, hum, band limits).
``descriptors+lr``
    frame descriptors (RMS, zero-crossing rate, centroid, flux, band ratio, ...)
    and the quality descriptors, summarised per window (mean, std, 10th/90th
    percentile of each, and of their frame-to-frame differences) into two logistic
    regressions whose class probabilities are averaged (``LR_BLEND``): one on the
    standardised summaries, one on how far each summary falls outside the range the
    reference class allows (:func:`range_exceedance`; the reference is the class named
    ``good`` or ``clean`` when there is one, else every training window). A damaged
    take usually shows ONE descriptor far outside the clean range; a sum of linear
    terms over 184 columns weighs that against many small deviations, the
    exceedance terms stay zero inside the clean range and only grow outside it.
``qualitynet+lr``
    the outputs of the shipped fault detector (:mod:`tunesmith.classify.qualitynet`, pretrained on
    clean real recordings spoiled by :mod:`tunesmith.classify.degrade`'s eleven fault families): its
    logits for "bad" and for each family and its 128-wide embedding, standardised, into a logistic
    regression (one per member of the detector file, their probabilities averaged), averaged with
    ``descriptors+lr`` (``QNET_*`` constants). The detector has seen many
    examples of rare faults (dropouts, level jumps, wow) that a user's folder holds a few of.
``qualitynet+ft``
    the same detector fine-tuned, whole, on the training part (:func:`qualitynet_finetune`): it starts
    from its own "bad" decision and learns what the user's folder calls bad. With two classes, one of
    them the reference (``good``/``clean``), a window's probability of the other is raised to that of
    the wow measure (:func:`tunesmith.classify.wobble.wow_probability`: one slow sinusoid in the pitch
    motion of sustained tones), which a few examples per fold cannot teach the network.
``descriptors+gmm``
    a Gaussian mixture per class on the same frame descriptors and their deltas; a
    window's class scores are its mean frame log-likelihoods.
``crbm``
    a convolutional RBM over time (Lee, Largman, Pham & Ng, NIPS 2009):
    log-power spectrogram frames PCA-whitened to ``CRBM_PCA`` dimensions,
    ``CRBM_BASES`` Gaussian-visible/binary-hidden bases of ``CRBM_WIDTH`` frames
    trained unsupervised with one-step contrastive divergence and a sparsity
    target on the training part's own audio, hidden probabilities max-pooled by
    ``CRBM_POOL`` over time, into the CNN. Works on windows of any length.
``autoencoder``
    a 1-D convolutional autoencoder on standardised log-mel frames trained
    (mean squared reconstruction error) on the training part; its bottleneck code
    goes into the CNN.

The classifier and its training are the same for every representation: the CNN's
head also sees each input row's mean, maximum and spread over time
(``stats_head``), and training draws random crops of 50-100 % of each window,
shifts the frequency rows by up to one bin and changes the level by up to
±6 dB (on the rows in dB) -- each representation says which of its rows are
frequency bins and which are in dB (:func:`augment_rows`); learned
representations (``crbm``, ``autoencoder``) and MFCCs get the crops only.

Scores per fold: accuracy, balanced accuracy (mean per-class recall) and ROC-AUC
(one-vs-rest, macro, for more than two classes); the table reports mean ± std
over folds. The out-of-fold probabilities of every window are kept
(``CompareResult.probs``), so recall can be broken down by any tag of the files,
such as the degradation each bad take got (:meth:`CompareResult.recall_by`). Everything is seeded, so a run with the same ``seed`` repeats.
"""
from __future__ import annotations

import csv
import io
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.features import registry

__all__ = ["ALL_REPRESENTATIONS", "compare_features", "CompareResult", "ConvRBM", "ConvAutoencoder",
           "fit_network", "feature_augment", "augment_rows", "window_metrics", "range_exceedance",
           "descriptors_lr", "frontend_features", "qualitynet_features", "qualitynet_lr",
           "qualitynet_finetune"]

#: Representations fed to the CNN, and everything ``--features`` accepts (:mod:`tunesmith.features.registry`).
CNN_KINDS = registry.CNN_KINDS
ALL_REPRESENTATIONS = registry.ALL_REPRESENTATIONS
METRICS = ("accuracy", "balanced_accuracy", "roc_auc")

CRBM_PCA = 80          # whitened input dimensions
CRBM_BASES = 300       # number of convolutional bases (hidden groups)
CRBM_WIDTH = 6         # frames per basis
CRBM_POOL = 3          # max-pooling ratio over time
CRBM_SPARSITY = 0.03   # target mean hidden activation
CRBM_EPOCHS = 3
CRBM_TRAIN_WINDOWS = 96  # unsupervised training uses at most this many windows of the training part
GMM_COMPONENTS = 8
#: ``descriptors+lr`` (chosen on the three good-vs-bad development sets, ``benchmarks/goodbad_dev.py``):
#: inverse L2 strength of both regressions, the reference class's quantiles that bound its range,
#: the weight of the range-exceedance model in the average, and the class names taken as reference.
LR_C = 1.0
RANGE_Q = 0.05
LR_BLEND = 0.5
REFERENCE_CLASSES = ("good", "clean")
#: ``qualitynet+lr`` (chosen on the development sets, ``benchmarks/goodbad_dev.py``): which of the fault
#: detector's outputs the regression sees (``"logits"``: the 12 logits; ``"all"``: logits and embedding),
#: its inverse L2 strength, and the weight of ``descriptors+lr`` in the average.
QNET_LOGITS = 12
QNET_COLUMNS = "all"
QNET_C = 0.1
QNET_DESC_BLEND = 0.5
#: ``qualitynet+ft`` (chosen on the development sets): epochs, peak learning rate, batch size and the
#: shortest random crop (share of a window) of the fine-tuning.
QNET_FT_EPOCHS = 6
QNET_FT_LR = 3e-4
QNET_FT_BATCH = 16
QNET_FT_CROP = 0.4
#: ``qualitynet+ft`` decides on the mean logit of this many evenly spaced crops of this share of each
#: window (whole windows when a crop would be under a second). Chosen on the development sets
#: (``benchmarks/goodbad_ft_scoring.py``, 2026-12-02): the same balanced accuracy as whole windows with the
#: shipped pair of detectors, +0.007 and +0.008 with single detectors, and fewer clean solo-violin takes
#: called bad (recall of clean violin 0.83 to 0.92 over the five sets, at two points of bad recall); the
#: detector pools over time with a maximum, which one passing moment of a long clean window can raise.
QNET_FT_SCORE_CROPS = 3
QNET_FT_SCORE_SHARE = 0.6
#: raise ``qualitynet+ft``'s "bad" to the wow measure's probability (two classes with a reference);
#: ``benchmarks/goodbad_dev.py``: goodbad_dev1-5 mean balanced accuracy 0.927 -> 0.935, wow recall 0.16 -> 0.32
#: (the violin wow windows), clean recall unchanged
QNET_FT_WOW = True
AE_CODE = 32
AE_EPOCHS = 8


# --------------------------------------------------------------------------- training helpers
#: Training recipe of every CNN in the comparison (chosen on development sets, never on a benchmark set):
#: epochs, the head's input statistics, random crops (shortest share of a window), frequency shift (bins)
#: and level change (dB) of the training windows.
EPOCHS = 25
STATS_HEAD = True
CROP = 0.5
FREQ_SHIFT = 1
GAIN_DB = 6.0


def augment_rows(rep: str, n_bins: int) -> tuple[int, int]:
    """``(frequency rows, dB rows)`` of representation ``rep`` with ``n_bins`` feature rows: the first
    that many rows are frequency bins in order (shifted by the frequency augmentation) and in dB
    (the level augmentation adds a constant to them). Linear and level-normalised front ends
    have no dB rows; MFCCs and learned codes neither (the layout is the registry's
    ``frequency_rows`` and ``db_rows``)."""
    from tunesmith.classify.model import MainsHum, WaveformStats
    from tunesmith.classify.quality import QualityDescriptors

    entry = registry.REPRESENTATIONS.get(rep)
    if entry is None or not entry.frequency_rows:
        return 0, 0
    if entry.db_rows == "mel+level":  # mel rows, then level and peak (dB), then shares, hum and quality rows
        n_mels = n_bins - len(WaveformStats.names) - len(MainsHum.names) - len(QualityDescriptors.names)
        return n_mels, n_mels + WaveformStats.names.index("peak_db") + 1
    return n_bins, (n_bins if entry.db_rows == "all" else 0)


def feature_augment(xb, generator, *, crop: float | None = None, freq_shift: int = 0, freq_rows: int = 0,
                    gain_db: float = 0.0, gain_scale=None):
    """A training batch ``(batch, bins, frames)`` of standardised features, augmented.

    ``crop``: one length between ``crop`` and 1 of the frames for the batch, a random start
    per window. ``freq_shift``: the first ``freq_rows`` rows move by a random whole number of
    bins in ``[-freq_shift, freq_shift]`` (edge rows repeated). ``gain_db``: a random level change
    per window in ``[-gain_db, gain_db]`` dB, added as ``g * gain_scale[row]`` (``gain_scale`` is
    ``1 / std`` of the standardised dB rows and 0 elsewhere).
    """
    import torch

    n, _, t = xb.shape
    if crop and crop < 1.0 and t > 1:
        length = max(1, int(t * (crop + (1.0 - crop) * torch.rand(1, generator=generator).item())))
        starts = torch.randint(0, t - length + 1, (n,), generator=generator)
        xb = torch.stack([xb[j, :, int(starts[j]):int(starts[j]) + length] for j in range(n)])
    if freq_shift and freq_rows > 1:
        sh = int(torch.randint(-freq_shift, freq_shift + 1, (1,), generator=generator))
        if sh:
            rows = xb[:, :freq_rows]
            idx = (torch.arange(freq_rows) - sh).clamp(0, freq_rows - 1)
            xb = torch.cat([rows[:, idx], xb[:, freq_rows:]], dim=1)
    if gain_db and gain_scale is not None:
        g = (torch.rand(n, 1, 1, generator=generator) * 2.0 - 1.0) * gain_db
        xb = xb + g * gain_scale[None, :, None]
    return xb


def fit_network(net, x, y, *, epochs: int = 10, lr: float = 3e-3, batch_size: int = 16,
                class_w=None, seed: int = 0, augment: dict | None = None, feature_aug: dict | None = None,
                batch_transform=None, freeze_batchnorm: bool = False, seed_torch: bool = True):
    """Train ``net`` on standardised features ``x`` (n, bins, frames) and labels ``y`` with AdamW,
    one-cycle decay and class-weighted cross-entropy; deterministic for a given ``seed``.

    ``augment``: SpecAugment masking (:func:`~tunesmith.classify.model.spec_augment` settings);
    ``feature_aug``: :func:`feature_augment` settings; ``batch_transform(xb, generator)``: any other
    change to each batch (drawn from the run's generator, after ``feature_aug``), e.g. the raw-audio crops
    of :func:`finetune_detector_net`. ``freeze_batchnorm`` keeps batch-normalisation layers in eval mode
    (their running statistics stay those of pretraining). The global torch generator (dropout) is seeded
    with ``seed`` unless ``seed_torch`` is false (the caller seeded it). Returns ``net`` in eval mode."""
    import torch
    import torch.nn.functional as F

    from tunesmith.classify.model import spec_augment

    g = torch.Generator().manual_seed(seed)
    if seed_torch:
        torch.manual_seed(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-3)
    steps = epochs * math.ceil(len(x) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, steps), pct_start=0.2)
    y = torch.as_tensor(y)
    net.train()
    if freeze_batchnorm:
        for module in net.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.eval()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            if len(idx) < 2:
                continue
            xb = x[idx]
            if feature_aug:
                xb = feature_augment(xb, g, **feature_aug)
            if batch_transform is not None:
                xb = batch_transform(xb, g)
            if augment:
                xb = spec_augment(xb, generator=g, **augment)
            loss = F.cross_entropy(net(xb), y[idx], weight=class_w)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    return net


def _predict(net, x, batch_size: int = 64) -> np.ndarray:
    import torch

    with torch.no_grad():
        out = [torch.softmax(net(x[i:i + batch_size]), 1) for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy()


def window_metrics(y_true: np.ndarray, probs: np.ndarray, n_classes: int) -> dict:
    """Accuracy, balanced accuracy and ROC-AUC of class probabilities (NaN AUC if a class is absent)."""
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    pred = probs.argmax(1)
    out = {"accuracy": float((pred == y_true).mean()),
           "balanced_accuracy": float(balanced_accuracy_score(y_true, pred))}
    try:
        if n_classes == 2:
            out["roc_auc"] = float(roc_auc_score(y_true, probs[:, 1]))
        else:
            out["roc_auc"] = float(roc_auc_score(y_true, probs, multi_class="ovr", average="macro",
                                                 labels=list(range(n_classes))))
    except ValueError:
        out["roc_auc"] = float("nan")
    return out


# --------------------------------------------------------------------------- learned representations
def _torch_modules():
    import torch
    from torch import nn

    class ConvRBM(nn.Module):
        """Convolutional RBM over time with Gaussian visible units (unit variance) and binary hidden
        units: ``n_bases`` filters of ``width`` frames over ``n_in`` whitened dimensions.

        Energy ``E(v,h) = ½||v||² - Σ_k h_k·(W_k * v) - Σ_k b_k Σ_t h_k[t] - c·Σ v``; trained by
        CD-1 with a sparsity penalty pulling the mean hidden activation towards ``sparsity``.
        """

        def __init__(self, n_in: int, n_bases: int = CRBM_BASES, width: int = CRBM_WIDTH,
                     sparsity: float = CRBM_SPARSITY):
            super().__init__()
            self.width, self.sparsity = width, sparsity
            self.W = nn.Parameter(torch.randn(n_bases, n_in, width) * 0.01)
            self.b = nn.Parameter(torch.full((n_bases,), -2.0))
            self.c = nn.Parameter(torch.zeros(n_in))

        def hidden(self, v):
            """P(h=1 | v): (batch, n_bases, frames - width + 1)."""
            return torch.sigmoid(torch.nn.functional.conv1d(v, self.W, self.b))

        def visible(self, h):
            """E[v | h]: (batch, n_in, frames)."""
            return torch.nn.functional.conv_transpose1d(h, self.W) + self.c[:, None]

        @torch.no_grad()
        def fit(self, v_all, epochs: int = CRBM_EPOCHS, lr: float = 0.05, batch_size: int = 8,
                sparsity_cost: float = 5.0, seed: int = 0):
            g = torch.Generator().manual_seed(seed)
            for _ in range(epochs):
                order = torch.randperm(len(v_all), generator=g)
                for i in range(0, len(v_all), batch_size):
                    v0 = v_all[order[i:i + batch_size]]
                    h0 = self.hidden(v0)
                    hs = torch.bernoulli(h0, generator=g)
                    v1 = self.visible(hs)
                    h1 = self.hidden(v1)
                    n = v0.shape[0] * h0.shape[2]
                    # <v h>_data - <v h>_model as a correlation: conv of v with h over time
                    pos = torch.nn.functional.conv1d(v0.transpose(0, 1), h0.transpose(0, 1)).transpose(0, 1)
                    neg = torch.nn.functional.conv1d(v1.transpose(0, 1), h1.transpose(0, 1)).transpose(0, 1)
                    self.W += lr * (pos - neg) / n
                    mean_h = h0.mean(dim=(0, 2))
                    self.b += lr * ((h0 - h1).mean(dim=(0, 2)) + sparsity_cost * (self.sparsity - mean_h))
                    self.c += lr * 0.1 * (v0 - v1).mean(dim=(0, 2))
            return self

        @torch.no_grad()
        def transform(self, v, pool: int = CRBM_POOL):
            h = self.hidden(v)
            return torch.nn.functional.max_pool1d(h, pool, ceil_mode=True)

    class ConvAutoencoder(nn.Module):
        """1-D convolutional autoencoder over time (bins as channels): two strided conv layers down to
        ``code`` channels at a quarter of the frame rate, two transposed convs back."""

        def __init__(self, n_in: int, code: int = AE_CODE, hidden: int = 64):
            super().__init__()
            self.enc = nn.Sequential(nn.Conv1d(n_in, hidden, 5, stride=2, padding=2), nn.ReLU(),
                                     nn.Conv1d(hidden, code, 5, stride=2, padding=2))
            self.dec = nn.Sequential(nn.ConvTranspose1d(code, hidden, 4, stride=2, padding=1), nn.ReLU(),
                                     nn.ConvTranspose1d(hidden, n_in, 4, stride=2, padding=1))

        def forward(self, x):
            z = self.enc(x)
            return self.dec(z)[..., :x.shape[-1]]

        def fit(self, x, epochs: int = AE_EPOCHS, lr: float = 3e-3, batch_size: int = 16, seed: int = 0):
            g = torch.Generator().manual_seed(seed)
            torch.manual_seed(seed)
            opt = torch.optim.Adam(self.parameters(), lr=lr)
            for _ in range(epochs):
                order = torch.randperm(len(x), generator=g)
                for i in range(0, len(x), batch_size):
                    xb = x[order[i:i + batch_size]]
                    loss = torch.nn.functional.mse_loss(self(xb), xb)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            self.eval()
            return self

        @torch.no_grad()
        def transform(self, x, batch_size: int = 64):
            return torch.cat([self.enc(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    return ConvRBM, ConvAutoencoder


def __getattr__(name):
    if name in ("ConvRBM", "ConvAutoencoder"):
        return dict(zip(("ConvRBM", "ConvAutoencoder"), _torch_modules()))[name]
    raise AttributeError(name)


# --------------------------------------------------------------------------- features
def frontend_features(kind: str, x: np.ndarray, sr: int, batch_size: int = 32):
    """Waveforms ``x`` (n, samples) at ``sr`` Hz through the classifier's ``kind`` front end, in batches:
    a tensor (n, rows, frames) as ``compare_features`` feeds its representations."""
    import torch

    from tunesmith.classify.model import DEFAULT_FEATURE_SETTINGS, make_frontend

    if kind == "qualitynet":
        return qualitynet_features(x, sr)
    if kind == "quality":
        from tunesmith.classify.quality import QualityDescriptors

        s = DEFAULT_FEATURE_SETTINGS["descriptors"]
        fe = QualityDescriptors(sr, s["n_fft"], s["hop_length"]).eval()
    else:
        fe = make_frontend(kind, sr).eval()
    with torch.no_grad():
        out = [fe(torch.from_numpy(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
    return torch.cat(out).float()


def qualitynet_features(x: np.ndarray, sr: int):
    """The shipped fault detector's outputs per window, as a tensor ``(n, members * qualitynet.OUTPUT_WIDTH)``: for each
    member of the model file in turn (``load_quality_nets``) its 12 logits, then its 128-wide embedding.

    Windows at another rate than 16 kHz are resampled first (``soxr``)."""
    import torch

    from tunesmith.classify.qualitynet import load_quality_nets, quality_outputs

    x16 = _at_detector_rate(x, sr)
    return torch.from_numpy(np.concatenate([quality_outputs(net, x16) for net in load_quality_nets()], axis=1))


def _at_detector_rate(x: np.ndarray, sr: int) -> np.ndarray:
    """Windows ``(n, samples)`` at ``sr`` resampled (``soxr``) to the fault detector's 16 kHz."""
    from tunesmith.classify.qualitynet import SR

    if sr == SR:
        return x
    import soxr

    return np.stack([soxr.resample(w, sr, SR) for w in x]).astype(np.float32)


def qualitynet_lr(qtr, ytr, qte, seed, *, dtr=None, dte=None, reference: int | None = None):
    """Class probabilities of a logistic regression on the fault detector's outputs (``QNET_COLUMNS`` of
    them, standardised, inverse L2 strength ``QNET_C``), one per member of the detector (``qtr`` holds
    blocks of ``qualitynet.OUTPUT_WIDTH`` columns, :func:`qualitynet_features`) and their probabilities averaged, then
    averaged with ``descriptors+lr`` on the descriptor summaries ``dtr``/``dte`` with weight
    ``QNET_DESC_BLEND`` when those are given."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tunesmith.classify.qualitynet import OUTPUT_WIDTH

    width = QNET_LOGITS if QNET_COLUMNS == "logits" else OUTPUT_WIDTH
    if qtr.shape[1] % OUTPUT_WIDTH:
        raise ValueError(f"qualitynet_lr: {qtr.shape[1]} columns is not a whole number of detectors of {OUTPUT_WIDTH}")
    probs = 0.0
    members = qtr.shape[1] // OUTPUT_WIDTH
    for m in range(members):
        cols = slice(m * OUTPUT_WIDTH, m * OUTPUT_WIDTH + width)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=QNET_C, max_iter=5000, class_weight="balanced",
                                                                   random_state=seed))
        probs = probs + model.fit(qtr[:, cols], ytr).predict_proba(qte[:, cols]) / members
    if dtr is not None and QNET_DESC_BLEND > 0:
        probs = (1 - QNET_DESC_BLEND) * probs + QNET_DESC_BLEND * descriptors_lr(dtr, ytr, dte, seed,
                                                                                   reference=reference)
    return probs


def qualitynet_finetune(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, n_classes: int, seed: int, *,
                        reference: int | None = None, sr: int = 16000) -> np.ndarray:
    """Class probabilities of the shipped fault detector fine-tuned on the training windows (``qualitynet+ft``).

    Each detector of the model file (one, or the members of an ensemble: ``load_quality_nets``) is
    fine-tuned on its own (:func:`finetune_detector_net`) and their class probabilities (:func:`detector_probabilities`:
    the mean logit over three crops of 60 % of each window) are averaged.
    """
    from tunesmith.classify.qualitynet import load_quality_nets

    xtr, xte = _at_detector_rate(xtr, sr), _at_detector_rate(xte, sr)
    nets = load_quality_nets()
    probs = sum(detector_probabilities(finetune_detector_net(net, xtr, ytr, n_classes, seed, reference=reference),
                                       xte) for net in nets) / len(nets)
    if QNET_FT_WOW and n_classes == 2 and reference is not None:
        probs = with_wow(probs, xte, reference)
    return probs


def with_wow(probs: np.ndarray, x: np.ndarray, reference: int) -> np.ndarray:
    """Two-class ``probs`` with the non-reference ("bad") class raised to at least the wow measure's
    probability on the 16-kHz windows ``x`` (:func:`tunesmith.classify.wobble.wow_probability`)."""
    from tunesmith.classify.wobble import wow_probability

    out = np.array(probs, dtype=np.float64, copy=True)
    bad = 1 - reference
    out[:, bad] = np.maximum(out[:, bad], wow_probability(x))
    out[:, reference] = 1.0 - out[:, bad]
    return out


def finetune_detector_net(net, xtr: np.ndarray, ytr: np.ndarray, n_classes: int, seed: int, *,
                          reference: int | None = None):
    """The detector ``net`` fine-tuned on 16-kHz windows ``xtr`` with labels ``ytr`` (returned, in eval mode).

    The detector's head gives way to one of ``n_classes`` outputs; with two classes and a reference class
    (``good``/``clean``) it starts as the detector's own "bad" logit (the reference class's logit 0, the
    other's the "bad" one), so training begins from the pretrained decision. The whole network is then
    trained ``QNET_FT_EPOCHS`` epochs (AdamW, ``QNET_FT_LR``, one-cycle, class-weighted cross-entropy,
    batch normalisation statistics frozen) on random crops of ``QNET_FT_CROP``-100 % of each window.
    """
    import torch

    from tunesmith.classify.model import class_weights

    torch.manual_seed(seed)
    old = net.head
    net.head = torch.nn.Linear(old.in_features, n_classes)
    if n_classes == 2 and reference is not None:
        with torch.no_grad():
            net.head.weight.zero_()
            net.head.bias.zero_()
            net.head.weight[1 - reference] = old.weight[0]
            net.head.bias[1 - reference] = old.bias[0]
    x = torch.as_tensor(xtr)
    cw = class_weights(np.bincount(ytr, minlength=n_classes), n_classes)
    n = x.shape[1]

    def crop(xb, g):  # one random crop of QNET_FT_CROP-100 % of the window per batch
        length = int(torch.randint(max(1, int(QNET_FT_CROP * n)), n + 1, (1,), generator=g))
        start = int(torch.randint(0, n - length + 1, (1,), generator=g))
        return xb[:, start:start + length]

    # the user's few windows must not move the pretrained batch statistics
    return fit_network(net, x, ytr, epochs=QNET_FT_EPOCHS, lr=QNET_FT_LR, batch_size=QNET_FT_BATCH, class_w=cw,
                       seed=seed, batch_transform=crop, freeze_batchnorm=True, seed_torch=False)


def detector_probabilities(net, x: np.ndarray, crops: int | None = None, share: float | None = None) -> np.ndarray:
    """Class probabilities ``(n, classes)`` of a (fine-tuned) detector on 16-kHz windows ``x``: the softmax of
    its mean logits over ``crops`` evenly spaced crops of ``share`` of each window (defaults
    :data:`QNET_FT_SCORE_CROPS`, :data:`QNET_FT_SCORE_SHARE`; ``crops=1, share=1.0`` scores whole windows,
    as does any crop that would be shorter than a second)."""
    import torch

    from tunesmith.classify.qualitynet import SR

    crops = QNET_FT_SCORE_CROPS if crops is None else int(crops)
    share = QNET_FT_SCORE_SHARE if share is None else float(share)
    if crops < 1 or not 0.0 < share <= 1.0:
        raise ValueError(f"crops must be at least 1 and share in (0, 1], not {crops} and {share}")
    n = x.shape[1]
    length = int(share * n)
    if length < SR:                                   # crops under a second: score whole windows
        length, crops = n, 1
    starts = np.linspace(0, n - length, crops).round().astype(int).tolist()
    net.eval()
    with torch.no_grad():
        xt = torch.as_tensor(x)
        logits = torch.stack([torch.cat([net(xt[i:i + QNET_FT_BATCH, a:a + length])
                                         for i in range(0, len(xt), QNET_FT_BATCH)]) for a in starts]).mean(0)
    return torch.softmax(logits, dim=1).numpy()


def fit_standardiser(train):
    """Per-bin mean and sample standard deviation ``(1, bins, 1)`` of training features ``(n, bins, frames)``
    (the one normaliser, :class:`tunesmith.features.Normalizer`, with ``ddof=1`` and a 1e-5 floor)."""
    from tunesmith.features.normalize import Normalizer

    norm = Normalizer(train.shape[1], std_floor=1e-5, ddof=1).fit(train[i:i + 256] for i in range(0, len(train), 256))
    return norm.mean[None, :, None].to(train.dtype), norm.std[None, :, None].to(train.dtype)


def _standardise(train, *others, stats=None):
    mean, std = stats if stats is not None else fit_standardiser(train)
    return [(t - mean) / std for t in (train, *others)]


def _log_levels(d: np.ndarray) -> np.ndarray:
    """Descriptors with the first row (RMS, linear amplitude) turned into dB-like log values."""
    d = d.astype(np.float64, copy=True)
    d[:, 0] = np.log10(np.maximum(d[:, 0], 1e-6))
    return d


def _summary(d: np.ndarray) -> np.ndarray:
    """Per-window summary of frame descriptors (n, k, frames) -> (n, 8k)."""
    d = _log_levels(d)
    dd = np.diff(d, axis=2)
    parts = []
    for a in (d, dd):
        parts += [a.mean(2), a.std(2), np.percentile(a, 10, axis=2), np.percentile(a, 90, axis=2)]
    return np.concatenate(parts, axis=1)


def _frames_with_deltas(d: np.ndarray) -> np.ndarray:
    """(n, k, frames) -> (n, frames, 2k): each frame's descriptors and their first difference."""
    d = _log_levels(d)
    delta = np.diff(d, axis=2, prepend=d[:, :, :1])
    return np.concatenate([d, delta], axis=1).transpose(0, 2, 1)


class GaussianClassScorer:
    """A diagonal Gaussian mixture per class on frame vectors; a window scores the mean frame
    log-likelihood under each class (``predict_proba`` is the softmax of those scores)."""

    def __init__(self, n_components: int = GMM_COMPONENTS, seed: int = 0, max_frames: int = 40000):
        self.n_components, self.seed, self.max_frames = n_components, seed, max_frames

    def fit(self, frames: np.ndarray, y: np.ndarray, n_classes: int) -> "GaussianClassScorer":
        """``frames`` (n, t, d) per window, ``y`` (n,) labels."""
        from sklearn.mixture import GaussianMixture
        from sklearn.preprocessing import StandardScaler

        rng = np.random.default_rng(self.seed)
        flat = frames.reshape(-1, frames.shape[2])
        self.scaler = StandardScaler().fit(flat)
        self.models = []
        for c in range(n_classes):
            fc = frames[y == c].reshape(-1, frames.shape[2])
            if len(fc) > self.max_frames:
                fc = fc[rng.choice(len(fc), self.max_frames, replace=False)]
            k = max(1, min(self.n_components, len(fc) // 10))
            self.models.append(GaussianMixture(k, covariance_type="diag", reg_covar=1e-3,
                                               random_state=self.seed).fit(self.scaler.transform(fc)))
        return self

    def scores(self, frames: np.ndarray) -> np.ndarray:
        n, t, d = frames.shape
        flat = self.scaler.transform(frames.reshape(-1, d))
        return np.stack([m.score_samples(flat).reshape(n, t).mean(1) for m in self.models], axis=1)

    def predict_proba(self, frames: np.ndarray) -> np.ndarray:
        s = self.scores(frames)
        s = s - s.max(1, keepdims=True)
        p = np.exp(s)
        return p / p.sum(1, keepdims=True)


# --------------------------------------------------------------------------- the comparison
@dataclass
class CompareResult:
    """Per-representation fold scores and timings; ``table()`` gives mean ± std rows."""

    classes: list[str]
    n_windows: int
    n_groups: int
    folds: int
    scores: dict[str, list[dict]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    #: out-of-fold class probabilities per representation, ``(n_windows, classes)``
    probs: dict[str, np.ndarray] = field(default_factory=dict)
    #: true label and source file of every window
    y: np.ndarray | None = None
    paths: list[Path] = field(default_factory=list)

    def recall_by(self, rep: str, tags: dict) -> dict[str, tuple[float, int]]:
        """Out-of-fold recall of ``rep`` per tag: ``{tag: (share of windows whose predicted class is
        their true class, windows)}``. ``tags`` maps a window's file (a :class:`~pathlib.Path`, its
        name or ``label/name``) to a tag such as the degradation it got; untagged files are left out."""
        pred = self.probs[rep].argmax(1)
        hits: dict[str, list[bool]] = {}
        for p, t, yhat in zip(self.paths, self.y, pred):
            tag = next((tags[k] for k in (p, str(p), f"{p.parent.name}/{p.name}", p.name) if k in tags), None)
            if tag is not None:
                hits.setdefault(tag, []).append(bool(yhat == t))
        return {k: (float(np.mean(v)), len(v)) for k, v in sorted(hits.items())}

    def summary(self, rep: str) -> dict:
        rows = self.scores[rep]
        out = {}
        for m in METRICS:
            v = np.array([r[m] for r in rows], dtype=float)
            out[m] = (float(np.nanmean(v)) if np.isfinite(v).any() else float("nan"),
                      float(np.nanstd(v)) if np.isfinite(v).any() else float("nan"))
        return out

    def ranked(self) -> list[str]:
        return sorted(self.scores, key=lambda r: -self.summary(r)["balanced_accuracy"][0])

    def best(self) -> str:
        return self.ranked()[0]

    def markdown(self) -> str:
        lines = ["| representation | accuracy | balanced accuracy | ROC-AUC | seconds |",
                 "|---|---|---|---|---|"]
        for rep in self.ranked():
            s = self.summary(rep)
            cells = [f"{s[m][0]:.3f} ± {s[m][1]:.3f}" for m in METRICS]
            lines.append(f"| {rep} | {' | '.join(cells)} | {self.seconds.get(rep, 0):.0f} |")
        return "\n".join(lines) + "\n"

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["representation", *[f"{m}_{s}" for m in METRICS for s in ("mean", "std")], "seconds",
                    *[f"balanced_accuracy_fold{k}" for k in range(self.folds)]])
        for rep in self.ranked():
            s = self.summary(rep)
            w.writerow([rep, *[f"{s[m][i]:.4f}" for m in METRICS for i in (0, 1)], f"{self.seconds[rep]:.1f}",
                        *[f"{r['balanced_accuracy']:.4f}" for r in self.scores[rep]]])
        return buf.getvalue()

    def bar_chart(self, path: str | Path) -> Path:
        from tunesmith.plots import figure, save_figure

        reps = self.ranked()
        fig, axes = figure(max(6.0, 0.8 * len(reps) + 2), 4.0)
        ax = axes[0, 0]
        xs = np.arange(len(reps))
        width = 0.27
        for j, (m, label) in enumerate(zip(METRICS, ("accuracy", "balanced accuracy", "ROC-AUC"))):
            means = [self.summary(r)[m][0] for r in reps]
            stds = [self.summary(r)[m][1] for r in reps]
            ax.bar(xs + (j - 1) * width, means, width, yerr=stds, capsize=2, label=label)
        ax.set_xticks(xs, reps, rotation=30, ha="right")
        lo = min([self.summary(r)["balanced_accuracy"][0] for r in reps] + [0.5])
        ax.set_ylim(max(0.0, lo - 0.1), 1.0)
        ax.set_ylabel("score (mean ± std over folds)")
        ax.set_title(f"{self.folds}-fold comparison, {self.n_windows} windows, {self.n_groups} sources")
        ax.legend(loc="lower left", fontsize=8)
        fig.tight_layout()
        return save_figure(fig, path)


def _parse_representations(features) -> list[str]:
    if features is None or features == "all" or features == ["all"]:
        return list(ALL_REPRESENTATIONS)
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    bad = [f for f in features if f not in ALL_REPRESENTATIONS]
    if bad:
        raise TunesmithError(f"unknown representation(s) {', '.join(bad)}; choose from "
                             f"{', '.join(ALL_REPRESENTATIONS)} or all")
    return list(dict.fromkeys(features))


def compare_features(data_dir, *, features="all", folds: int = 5, seed: int = 0,
                     arch: str = "cnn1d", epochs: int = EPOCHS, sr: int = 16000, window_s: float = 10.0,
                     group_by: str = "stem", out_dir: str | Path | None = None,
                     progress: bool = True, augment: bool = True) -> CompareResult:
    """k-fold comparison of representations on a labelled folder (see the module docstring).

    ``data_dir`` is one folder of label sub-folders or a list of them (their union).

    With ``out_dir`` writes ``compare.md``, ``compare.csv`` and ``compare.png`` there.
    ``augment=False`` trains without the crops, shifts and level changes (and without the
    head's input statistics): the plain recipe, for comparison.
    """
    import torch
    from tqdm.auto import tqdm

    from tunesmith.classify.data import file_folds, load_windows, scan_labelled_folder
    from tunesmith.classify.model import build_network, class_weights

    reps = _parse_representations(features)
    files, classes = scan_labelled_folder(data_dir, group_by)
    ws = load_windows(files, classes, sr=sr, window_s=window_s, progress=progress)
    groups = ws.groups
    fold = file_folds(groups, ws.y, folds, seed)
    n_classes = len(classes)
    result = CompareResult(classes, len(ws), len(set(groups.tolist())), folds, y=ws.y,
                           paths=[ws.files[i].path for i in ws.file_index])
    y = ws.y
    reference = next((i for i, c in enumerate(classes) if c.lower() in REFERENCE_CLASSES), None)
    bar = tqdm(total=len(reps) * folds, desc="comparing", unit="fit", disable=not progress, file=sys.stderr)
    cache: dict[str, object] = {}

    def features_of(kind):
        if kind not in cache:
            cache[kind] = frontend_features(kind, ws.x, sr)
        return cache[kind]

    for rep in reps:
        t0 = time.perf_counter()
        rows = []
        oof = np.zeros((len(y), n_classes))
        try:
            for k in range(folds):
                bar.set_postfix_str(f"{rep} fold {k + 1}")
                tr, te = fold != k, fold == k
                cw = class_weights(np.bincount(y[tr], minlength=n_classes), n_classes)
                fit_seed = seed * 1000 + k
                if rep == "qualitynet+ft":
                    if "detector_rate" not in cache:  # resampled once for all folds
                        cache["detector_rate"] = _at_detector_rate(ws.x, sr)
                    x16 = cache["detector_rate"]
                    probs = qualitynet_finetune(x16[tr], y[tr], x16[te], n_classes, fit_seed, reference=reference)
                elif rep == "qualitynet+lr":
                    qf = features_of("qualitynet").numpy()
                    d = with_quality(features_of("descriptors"), features_of("quality")).numpy() \
                        if QNET_DESC_BLEND > 0 else None
                    probs = qualitynet_lr(qf[tr], y[tr], qf[te], fit_seed, dtr=None if d is None else d[tr],
                                          dte=None if d is None else d[te], reference=reference)
                elif rep in ("descriptors+lr", "descriptors+gmm"):
                    d = with_quality(features_of("descriptors"), features_of("quality")).numpy()
                    if rep == "descriptors+lr":
                        probs = descriptors_lr(d[tr], y[tr], d[te], fit_seed, reference=reference)
                    else:
                        fr = _frames_with_deltas(d)
                        probs = GaussianClassScorer(seed=fit_seed).fit(fr[tr], y[tr], n_classes) \
                            .predict_proba(fr[te])
                else:
                    aug = None
                    if rep in CNN_KINDS:
                        ftr = features_of(rep)[tr]
                        stats = fit_standardiser(ftr)
                        xtr, xte = _standardise(ftr, features_of(rep)[te], stats=stats)
                        if augment:  # a level change of g dB moves a standardised dB row by g / std
                            freq_rows, db_rows = augment_rows(rep, ftr.shape[1])
                            scale = torch.zeros(ftr.shape[1])
                            scale[:db_rows] = stats[1][0, :db_rows, 0].reciprocal()
                            aug = dict(crop=CROP, freq_shift=FREQ_SHIFT, freq_rows=freq_rows,
                                       gain_db=GAIN_DB if db_rows else 0.0, gain_scale=scale)
                    elif rep == "crbm":
                        xtr, xte = _crbm_features(features_of("logstft")[tr], features_of("logstft")[te],
                                                  fit_seed)
                    else:  # autoencoder
                        xtr, xte = _autoencoder_features(features_of("logmel")[tr], features_of("logmel")[te],
                                                         fit_seed)
                    if augment and aug is None:
                        aug = dict(crop=CROP)
                    torch.manual_seed(fit_seed)
                    net = build_network(arch, xtr.shape[1], n_classes, stats_head=STATS_HEAD and augment)
                    fit_network(net, xtr, y[tr], epochs=epochs, class_w=cw, seed=fit_seed, feature_aug=aug)
                    probs = _predict(net, xte)
                rows.append(window_metrics(y[te], probs, n_classes))
                oof[te] = probs
                bar.update(1)
        except TunesmithError:
            raise
        except Exception as exc:  # noqa: BLE001 - one broken representation must not sink the table
            result.failed[rep] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            bar.write(f"tunesmith: {rep} failed ({result.failed[rep]})", file=sys.stderr)
            bar.update(folds - len(rows))
            continue
        result.scores[rep] = rows
        result.probs[rep] = oof
        result.seconds[rep] = time.perf_counter() - t0
    bar.close()
    if not result.scores:
        raise TunesmithError("every representation failed: " + "; ".join(f"{k}: {v}" for k, v in result.failed.items()))
    if out_dir is not None:
        from tunesmith.io import atomic_write_text

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "compare.md", result.markdown())
        atomic_write_text(out / "compare.csv", result.csv_text())
        result.bar_chart(out / "compare.png")
    return result


def with_quality(desc, quality):
    """Frame descriptors ``(n, 5, t)`` followed by the quality descriptors ``(n, 20, t)`` on the same frames."""
    import torch

    t = min(desc.shape[-1], quality.shape[-1])
    return torch.cat([desc[..., :t], quality[..., :t]], dim=1)


def range_exceedance(reference: np.ndarray, *, q: float = RANGE_Q):
    """A map of summary rows ``(n, k)`` to how far each column lies outside the reference's range.

    With ``lo``, ``hi`` the ``q`` and ``1 - q`` quantiles of each column over ``reference`` (``(m, k)``,
    the clean training windows) and ``s`` its interquartile range, a value ``v`` becomes the two
    columns ``log(1 + max(0, v - hi) / s)`` and ``log(1 + max(0, lo - v) / s)``: zero anywhere inside
    the clean range, growing (logarithmically, in units of the clean spread) outside it. Returns the
    function ``(n, k) -> (n, 2k)``.
    """
    lo, hi = np.quantile(reference, q, axis=0), np.quantile(reference, 1.0 - q, axis=0)
    spread = np.quantile(reference, 0.75, axis=0) - np.quantile(reference, 0.25, axis=0) + 1e-6

    def exceed(v: np.ndarray) -> np.ndarray:
        return np.log1p(np.concatenate([np.maximum(0.0, v - hi), np.maximum(0.0, lo - v)], axis=1) / np.r_[spread, spread])

    return exceed


def descriptors_lr(dtr, ytr, dte, seed, *, reference: int | None = None):
    """``LR_BLEND`` x (range-exceedance LR) + (1 - ``LR_BLEND``) x (standardised LR), class probabilities."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    str_, ste = _summary(dtr), _summary(dte)

    def lr():
        return LogisticRegression(C=LR_C, max_iter=5000, class_weight="balanced", random_state=seed)

    plain = make_pipeline(StandardScaler(), lr()).fit(str_, ytr)
    ref = str_[ytr == reference] if reference is not None and (ytr == reference).sum() >= 2 else str_
    exceed = range_exceedance(ref)
    ranged = lr().fit(exceed(str_), ytr)
    return LR_BLEND * ranged.predict_proba(exceed(ste)) + (1.0 - LR_BLEND) * plain.predict_proba(ste)


def _pca_whitener(frames: np.ndarray, n: int):
    """Mean and whitening matrix (n, d) of frames (m, d): rows are principal axes / sqrt(eigenvalue)."""
    mean = frames.mean(0)
    cov = np.cov(frames - mean, rowvar=False)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:n]
    return mean, (vecs[:, order] / np.sqrt(vals[order] + 1e-2)).T


def _crbm_features(spec_tr, spec_te, seed):
    """PCA-whiten log spectrogram frames (fitted on training frames), train a ConvRBM, pool."""
    import torch

    ConvRBM, _ = _torch_modules()
    frames = spec_tr.transpose(1, 2).reshape(-1, spec_tr.shape[1]).numpy().astype(np.float64)
    rng = np.random.default_rng(seed)
    if len(frames) > 20000:
        frames = frames[rng.choice(len(frames), 20000, replace=False)]
    n_pca = min(CRBM_PCA, spec_tr.shape[1])
    mean, white = _pca_whitener(frames, n_pca)
    m = torch.tensor(mean, dtype=torch.float32)[None, :, None]
    wt = torch.tensor(white, dtype=torch.float32)

    def whiten(s):
        return torch.einsum("pd,bdt->bpt", wt, s - m)

    vtr, vte = whiten(spec_tr), whiten(spec_te)
    torch.manual_seed(seed)
    fit_on = vtr if len(vtr) <= CRBM_TRAIN_WINDOWS else \
        vtr[torch.from_numpy(rng.choice(len(vtr), CRBM_TRAIN_WINDOWS, replace=False))]
    rbm = ConvRBM(n_pca).fit(fit_on, seed=seed)
    htr = torch.cat([rbm.transform(vtr[i:i + 64]) for i in range(0, len(vtr), 64)])
    hte = torch.cat([rbm.transform(vte[i:i + 64]) for i in range(0, len(vte), 64)])
    return _standardise(htr, hte)


def _autoencoder_features(mel_tr, mel_te, seed):
    import torch

    _, ConvAutoencoder = _torch_modules()
    xtr, xte = _standardise(mel_tr, mel_te)
    torch.manual_seed(seed)
    ae = ConvAutoencoder(xtr.shape[1]).fit(xtr, seed=seed)
    return _standardise(ae.transform(xtr), ae.transform(xte))
