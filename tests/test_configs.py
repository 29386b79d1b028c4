"""Every shipped ``configs/*.yaml`` loads and runs one ``fast_dev_run`` batch of training with its model.

A config file that is added without a runner here fails ``test_every_config_has_a_runner``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.name for p in (ROOT / "configs").glob("*.yaml"))
SR = 16000
COMPOSER = ("composer.yaml", "composer-demo.yaml")
TRANSFORM = ("transform.yaml", "transform-demo.yaml")
CLASSIFIER = ("classifier.yaml", "voices.yaml")
TRANSCRIBER = ("transcriber.yaml",)
QUALITY = ("quality.yaml",)


def _tones(seed: int, seconds: float, sr: int = SR) -> np.ndarray:
    from tunesmith.notes import Note, NoteSequence
    from tunesmith.render import synthesize

    rng = np.random.default_rng(seed)
    notes, t = [], 0.05
    while t < seconds - 0.3:
        d = float(rng.choice([0.25, 0.5]))
        notes.append(Note(float(rng.integers(57, 79)), t, t + 0.9 * d, 90))
        t += d
    y = synthesize(NoteSequence(notes), sr).samples
    n = int(seconds * sr)
    return np.pad(y, (0, max(0, n - len(y))))[:n].astype(np.float32)


def test_every_config_has_a_runner():
    assert set(CONFIGS) <= set(COMPOSER + TRANSFORM + CLASSIFIER + TRANSCRIBER + QUALITY), CONFIGS


@pytest.mark.parametrize("name", COMPOSER)
def test_composer_config_fast_dev_run(name, tmp_path, chorale):
    from tunesmith.compose.train import load_config, train_composer
    from tunesmith.notes import note_sequence_to_midi

    songs = tmp_path / "songs"
    for i in range(3):
        note_sequence_to_midi(chorale.transpose(i), songs / f"c{i}.mid")
    cfg = load_config(ROOT / "configs" / name, ["trainer.fast_dev_run=true", "trainer.accelerator=cpu",
                                                 f"data.cache_dir={tmp_path / 'cache'}", "data.workers=1",
                                                 "trainer.enable_progress_bar=false"])
    train_composer(songs, out_dir=tmp_path / "run", cfg=cfg)
    assert (tmp_path / "run" / "config.yaml").is_file()


@pytest.mark.parametrize("name", TRANSFORM)
def test_transform_config_fast_dev_run(name, tmp_path):
    from tunesmith.transform import train

    for side in ("input", "output"):
        (tmp_path / "pairs" / side).mkdir(parents=True)
    for k in range(3):
        x = _tones(k, 3.0, 22050)
        sf.write(tmp_path / "pairs" / "input" / f"p{k}.wav", x, 22050)
        sf.write(tmp_path / "pairs" / "output" / f"p{k}.wav", np.tanh(3 * x).astype(np.float32), 22050)
    path = train(tmp_path / "pairs", ROOT / "configs" / name, out_dir=tmp_path / "run", quiet=True,
                 fast_dev_run=True, trainer={"accelerator": "cpu"})
    assert Path(path).is_file()


@pytest.mark.parametrize("name", CLASSIFIER)
def test_classifier_config_fast_dev_run(name, tmp_path):
    from tunesmith.classify.train import train_classifier

    for i in range(4):
        y = _tones(i, 2.5)
        for label, audio in (("one", y), ("several", (y + _tones(50 + i, 2.5)) / 2)):
            (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
            sf.write(tmp_path / "data" / label / f"s{i}.wav", audio, SR)
    path = train_classifier(tmp_path / "data", tmp_path / "run", config=ROOT / "configs" / name,
                            fast_dev_run=True, progress=False)
    assert Path(path).is_file()


@pytest.mark.parametrize("name", TRANSCRIBER)
def test_transcriber_config_fast_dev_run(name, tmp_path):
    from tunesmith.notes import Note, NoteSequence, note_sequence_to_csv
    from tunesmith.transcribe.train import clips_from_folder, load_config, train_transcriber

    takes = tmp_path / "takes"
    takes.mkdir()
    for i in range(2):
        sf.write(takes / f"t{i}.wav", _tones(i, 2.0), SR)
        note_sequence_to_csv(NoteSequence([Note(60.0 + i, 0.1, 0.6, 90)]), takes / f"t{i}.csv")
    cfg = load_config(ROOT / "configs" / name, ["trainer.fast_dev_run=true", "optim.batch=2"])
    path = train_transcriber(clips_from_folder(takes, tmp_path / "clips.npz"), tmp_path / "run", cfg)
    assert Path(path).is_file()


@pytest.mark.parametrize("name", QUALITY)
def test_quality_config_fast_dev_run(name, tmp_path):
    from tunesmith.classify.qualitynet import load_quality_net
    from tunesmith.classify.qualitytrain import train_quality_from_folders

    for kind in ("a", "b"):
        (tmp_path / kind).mkdir()
        for i in range(2):
            sf.write(tmp_path / kind / f"t{i}.wav", _tones(i + (10 if kind == "b" else 0), 1.5), SR)
    res = train_quality_from_folders([tmp_path / "a", tmp_path / "b"], tmp_path / "run", config=ROOT / "configs" / name,
                                     overrides=["crop_s=1.0", "batch_size=2", "val_examples=4", "workers=0"],
                                     fast_dev_run=True, accelerator="cpu", devices=1, progress=False)
    assert load_quality_net(res.path) is not None
