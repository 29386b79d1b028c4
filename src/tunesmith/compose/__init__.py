"""The composer: an LSTM over melodies (pitch, then duration given pitch), trained with Lightning.

Typical use::

    from tunesmith.compose import train_composer, load_composer, generate, write_samples, score_files
    best = train_composer("my_songs/", config="configs/composer.yaml", out_dir="runs/mine")
    composer = load_composer(best)
    write_samples(generate(composer, n=4, length=64, seed=1, key="D minor"), "out/")
    per_file, overall, failed = score_files(composer, ["song.mid"])

Submodules: :mod:`~tunesmith.compose.tokens` (event encoding),
:mod:`~tunesmith.compose.data` (parsing, cache, DataModule),
:mod:`~tunesmith.compose.model` (network, LightningModule, checkpoints),
:mod:`~tunesmith.compose.train`, :mod:`~tunesmith.compose.sample`,
:mod:`~tunesmith.compose.score` and :mod:`~tunesmith.compose.ppm` (the PPM baseline).
"""
from __future__ import annotations

from tunesmith._lazy import lazy_getattr

_LAZY = {
    "train_composer": "tunesmith.compose.train", "load_config": "tunesmith.compose.train",
    "load_composer": "tunesmith.compose.model", "export_checkpoint": "tunesmith.compose.model",
    "MelodyLSTM": "tunesmith.compose.model", "ComposerModule": "tunesmith.compose.model",
    "Composer": "tunesmith.compose.model",
    "ComposerDataModule": "tunesmith.compose.data", "load_melody": "tunesmith.compose.data",
    "load_corpus": "tunesmith.compose.data",
    "generate": "tunesmith.compose.sample", "write_samples": "tunesmith.compose.sample",
    "score_melody": "tunesmith.compose.score", "score_files": "tunesmith.compose.score",
    "melody_bits": "tunesmith.compose.score",
    "PPM": "tunesmith.compose.ppm",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
