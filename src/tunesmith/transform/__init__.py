"""Sound transformation: learn a spectrogram-to-spectrogram mapping from paired recordings.

A sound designer has pairs: the same phrase as the input sound and as the sound
they want (piano -> violin, dry -> amp, clean -> radio). The pieces:

* :mod:`tunesmith.transform.data` -- pair folders / CSVs, checks (sample rate,
  length, alignment by onset cross-correlation), random aligned crops,
  :class:`~tunesmith.transform.data.PairDataModule`.
* :mod:`tunesmith.transform.model` -- U-Net, bidirectional-LSTM-per-frame and
  GAN (U-Net + patch discriminator) variants in a Lightning module.
* :mod:`tunesmith.transform.invert` -- batched fast Griffin-Lim and input-phase inversion.
* :mod:`tunesmith.transform.conversion` -- chunked, seamless, bounded-memory conversion.
* :mod:`tunesmith.transform.training` -- config, training, exported checkpoints.
* :mod:`tunesmith.transform.metrics` -- LSD, multi-resolution STFT and mel-cepstral distances.

Quick use (``train`` and ``convert`` are functions; their modules are
:mod:`~tunesmith.transform.training` and :mod:`~tunesmith.transform.conversion`)::

    import tunesmith
    from tunesmith.transform import train, convert
    ckpt = train("pairs/", "configs/transform.yaml", out_dir="runs/transform")
    out = convert(tunesmith.load("new_piano.wav"), ckpt)
"""
from __future__ import annotations

from tunesmith._lazy import lazy_getattr

_LAZY = {
    "train": ("tunesmith.transform.training", "train"),
    "load_config": ("tunesmith.transform.training", "load_config"),
    "load_checkpoint": ("tunesmith.transform.training", "load_checkpoint"),
    "convert": ("tunesmith.transform.conversion", "convert"),
    "convert_file": ("tunesmith.transform.conversion", "convert_file"),
    "Converter": ("tunesmith.transform.conversion", "Converter"),
    "griffinlim": ("tunesmith.transform.invert", "griffinlim"),
    "invert_with_phase": ("tunesmith.transform.invert", "invert_with_phase"),
    "load_pairs": ("tunesmith.transform.data", "load_pairs"),
    "PairDataModule": ("tunesmith.transform.data", "PairDataModule"),
    "TransformModule": ("tunesmith.transform.model", "TransformModule"),
    "log_spectral_distance": ("tunesmith.transform.metrics", "log_spectral_distance"),
    "mrstft_distance": ("tunesmith.transform.metrics", "mrstft_distance"),
    "mel_cepstral_distance": ("tunesmith.transform.metrics", "mel_cepstral_distance"),
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = list(_LAZY)
