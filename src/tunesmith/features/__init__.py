"""Spectral front end (a package; one module per concern): batched, differentiable feature extractors as ``torch.nn.Module``.

Every transform takes audio of shape ``(batch, samples)`` or ``(samples,)`` (float32
or float64, on any device) and returns ``(batch, n_bins, frames)`` (or
``(n_bins, frames)`` for 1-D input). Windows and filterbanks are registered
buffers, so ``module.to(device)`` / ``module.double()`` move them with the module
and they are saved in ``state_dict``. Names and defaults follow librosa 0.11
(``sr, n_fft, hop_length, win_length, window, center, fmin, fmax, n_mels, top_db``),
and the outputs agree with librosa's on the same signal (see ``tests/test_features.py``):

* framing: ``center=True`` pads ``n_fft // 2`` zeros on both sides (librosa 0.11's
  ``pad_mode="constant"``), so a signal of ``n`` samples gives ``1 + n // hop_length``
  frames; frame ``t`` is centred on sample ``t * hop_length``;
* mel: Slaney mel scale (``htk=False``) with Slaney area normalisation
  (:func:`mel_filters`, equal to :func:`librosa.filters.mel`);
* dB: ``10 log10(max(S, amin)) - 10 log10(max(ref, amin))`` floored at ``max - top_db``,
  where the maximum is taken **per example** (over bins and frames), so a batch
  gives exactly the stacked results of its items;
* MFCC: orthonormal DCT-II of the log-mel dB spectrogram;
* PCEN: librosa's formula and defaults (see :class:`PCEN`);
* CQT: librosa's multirate constant-Q transform (one octave of wavelet kernels
  applied per octave, the signal halved in rate between octaves), within 0.1 dB of
  ``librosa.cqt`` on 99 % of the bins in the top 60 dB.

librosa itself is imported only by :class:`CQT` (for its wavelet kernels).

Speed: on the CPU without autograd, STFT-based modules process frames in cache-sized
blocks (window, FFT, power, sparse filterbank and dB fused per block) and spread the
examples of a batch over ``torch.get_num_threads()`` threads with single-threaded ops;
with autograd or on a GPU they run as plain batched torch ops (same results).

Functional helpers: :func:`power_to_db`, :func:`amplitude_to_db`, :func:`stft`, :func:`mel_filters`.
Factory: :func:`frontend` builds a module by name. Long files: :func:`iter_file_features`,
:func:`features_from_file` and :func:`save_file_features` compute features window by
window from :func:`tunesmith.audio.stream`, with memory bounded by the block size.

Modules: :mod:`~tunesmith.features.core` (constants, dB scaling, framed STFT),
:mod:`~tunesmith.features.spectral` (STFT front ends), :mod:`~tunesmith.features.mel`,
:mod:`~tunesmith.features.pcen`, :mod:`~tunesmith.features.mfcc`, :mod:`~tunesmith.features.cqt`,
:mod:`~tunesmith.features.descriptors`, :mod:`~tunesmith.features.bandpass`,
:mod:`~tunesmith.features.normalize`, :mod:`~tunesmith.features.factory` (:func:`frontend`),
:mod:`~tunesmith.features.files` (long files) and :mod:`~tunesmith.features.registry`, the one
torch-free list of representations. Names are exported lazily: ``import tunesmith.features``
loads neither torch nor numpy until a name that needs them is used.
"""
from __future__ import annotations

from tunesmith._lazy import lazy_getattr

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "AMIN_POWER": "tunesmith.features.core",
    "DEFAULT_TOP_DB": "tunesmith.features.core",
    "KINDS": "tunesmith.features.registry",
    "mel_filters": "tunesmith.features.mel",
    "mel_frequencies": "tunesmith.features.mel",
    "hz_to_mel": "tunesmith.features.mel",
    "mel_to_hz": "tunesmith.features.mel",
    "power_to_db": "tunesmith.features.core",
    "amplitude_to_db": "tunesmith.features.core",
    "stft": "tunesmith.features.core",
    "Spectrogram": "tunesmith.features.spectral",
    "LogSpectrogram": "tunesmith.features.spectral",
    "MelSpectrogram": "tunesmith.features.mel",
    "LogMelSpectrogram": "tunesmith.features.mel",
    "PCEN": "tunesmith.features.pcen",
    "MFCC": "tunesmith.features.mfcc",
    "CQT": "tunesmith.features.cqt",
    "RMS": "tunesmith.features.descriptors",
    "ZeroCrossingRate": "tunesmith.features.descriptors",
    "SpectralCentroid": "tunesmith.features.descriptors",
    "SpectralFlux": "tunesmith.features.descriptors",
    "BandEnergyRatio": "tunesmith.features.descriptors",
    "Descriptors": "tunesmith.features.descriptors",
    "BandPass": "tunesmith.features.bandpass",
    "Normalizer": "tunesmith.features.normalize",
    "frontend": "tunesmith.features.factory",
    "iter_file_features": "tunesmith.features.files",
    "features_from_file": "tunesmith.features.files",
    "save_file_features": "tunesmith.features.files",
    "describe": "tunesmith.features.files",
    "features_png": "tunesmith.features.files",
    "AMIN_AMPLITUDE": "tunesmith.features.core",
    "DEFAULT_N_FFT": "tunesmith.features.core",
    "DEFAULT_HOP": "tunesmith.features.core",
    "C1_HZ": "tunesmith.features.core",
    "pcen_smoothing_coef": "tunesmith.features.pcen",
    "first_order_smooth": "tunesmith.features.pcen",
    "dct_matrix": "tunesmith.features.mfcc",
    "sparsify_rows": "tunesmith.features.cqt",
    "REPRESENTATIONS": "tunesmith.features.registry",
    "Representation": "tunesmith.features.registry",
}

__all__ = list(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
