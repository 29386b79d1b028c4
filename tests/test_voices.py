"""One voice or several: the mixing code's labels and talker split, threshold calibration, and the
shipped detector's DECISIONS on real speech (../shared/data) and real instrument lines (data/songs)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tunesmith.classify import mixing

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT.parent / "shared" / "data" / "speech"
SONGS = ROOT / "data" / "songs"
SHIPPED = ROOT / "src" / "tunesmith" / "models" / "voices.pt"
SR = mixing.SR


def _burst(n: int, start_s: float, stop_s: float, seed: int) -> np.ndarray:
    """Noise with a syllable-rate envelope on [start_s, stop_s), silence elsewhere."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n, np.float32)
    a, b = int(start_s * SR), min(n, int(stop_s * SR))
    y[a:b] = rng.standard_normal(b - a) * 0.1
    return y


# --------------------------------------------------------------------------- labels from overlap
def test_activity_finds_the_talk_and_the_silence():
    y = _burst(2 * SR, 0.5, 1.5, 0)
    act = mixing.activity(y)
    t = np.arange(len(act)) * mixing.HOP_S
    assert act[(t > 0.6) & (t < 1.4)].all()
    assert not act[t < 0.4].any() and not act[t > 1.6].any()


@pytest.mark.parametrize("second_s, several", [(0.2, False), (0.3, False), (0.8, True), (2.0, True)])
def test_label_follows_the_share_of_overlapped_frames(second_s, several):
    n = 2 * SR
    a = _burst(n, 0.0, 2.0, 1)
    b = _burst(n, 1.0, 1.0 + second_s, 2)
    share = mixing.overlap_share(np.stack([mixing.activity(a), mixing.activity(b)]))
    expected = min(second_s, 1.0) / 2.0  # b overlaps a for second_s (b ends at 2 s at most)
    assert abs(share - expected) < 0.08
    assert mixing.label_from_share(share) == int(several)


def test_window_labels_of_a_scene():
    n = 6 * SR
    a = _burst(n, 0.0, 6.0, 3)
    b = _burst(n, 4.0, 6.0, 4)  # b joins in the last 2 s
    labels, shares = mixing.window_labels(np.stack([mixing.activity(a), mixing.activity(b)]), n,
                                          window_s=2.0, hop_s=1.0)
    assert labels.tolist() == [0, 0, 0, 1, 1]  # windows 0-2, 1-3, 2-4 (b's 50-ms hangover only), 3-5, 4-6 s
    assert shares[0] == 0.0 and shares[-1] > 0.9


def test_mixer_labels_match_the_sources():
    audio = {f"t{i}": np.concatenate([_burst(SR, 0.0, 0.7, 10 * i + k) for k in range(6)]) for i in range(5)}
    mixer = mixing.SpeechMixer(audio, seconds=2.0)
    rng = np.random.default_rng(0)
    for scene in ("single", "turns", "overlap"):
        for _ in range(10):
            c = mixer.clip(rng, scene)
            assert c.label == mixing.label_from_share(c.share)
            assert c.audio.shape == (2 * SR,) and np.isfinite(c.audio).all() and np.abs(c.audio).max() <= 1.0
            if scene == "single":
                assert c.label == 0 and len(c.talkers) == 1
            assert len(set(c.talkers)) == len(c.talkers)
    clips = list(mixing.balanced_clips(mixer, rng, 15))
    assert sum(c.label for c in clips) == 15 and len(clips) == 30


# --------------------------------------------------------------------------- talker split
def test_talker_split_is_disjoint_stratified_and_deterministic():
    talkers = [mixing.Talker("librispeech", str(i), "F" if i % 2 else "M", ()) for i in range(40)]
    talkers += [mixing.Talker("fsdd", f"x{i}", "M", ()) for i in range(6)]
    a = mixing.split_talkers(talkers, seed=0)
    b = mixing.split_talkers(list(reversed(talkers)), seed=0)
    assert a == b
    names = {s: {t.name for t in v} for s, v in a.items()}
    assert not names["train"] & names["val"] and not names["train"] & names["test"] and not names["val"] & names["test"]
    assert sum(len(v) for v in names.values()) == len(talkers)
    for split in ("val", "test"):
        sexes = {t.sex for t in a[split] if t.corpus == "librispeech"}
        assert sexes == {"F", "M"} and any(t.corpus == "fsdd" for t in a[split])
    assert mixing.split_talkers(talkers, seed=1) != a


@pytest.mark.skipif(not SPEECH.is_dir(), reason="../shared/data/speech is absent")
def test_real_talkers_are_found_and_split():
    talkers = mixing.list_talkers(SPEECH)
    assert len(talkers) >= 200 and {t.corpus for t in talkers} == {"librispeech", "fsdd"}
    split = mixing.split_talkers(talkers)
    assert len(split["test"]) >= 20 and len(split["train"]) > 3 * len(split["test"])


# --------------------------------------------------------------------------- threshold
def test_calibrated_threshold_is_folded_into_the_decision():
    import torch

    from tunesmith.classify.model import Classifier
    from tunesmith.classify.voices import calibrate_threshold, fold_threshold

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(50), np.ones(50)]
    p = np.r_[rng.uniform(0.0, 0.3, 50), rng.uniform(0.25, 0.5, 50)]
    t, bacc = calibrate_threshold(p, y)
    assert 0.24 <= t <= 0.31 and bacc > 0.85
    model = Classifier({"features": "logmel", "sr": SR, "window_s": 1.0, "classes": ["one", "several"],
                        "arch": "cnn2d", "network": {"channels": [4, 8]}}).eval()
    x = torch.from_numpy(rng.standard_normal((16, SR)).astype(np.float32) * 0.1)
    before = model.predict_proba(x)[:, 1].numpy()
    thr = float(np.median(before))
    fold_threshold(model, thr)
    after = model.predict_proba(x)[:, 1].numpy()
    assert ((after >= 0.5) == (before >= thr)).all()
    assert model.config["decision_threshold"] == thr
    fold_threshold(model, 0.6)  # a second fold composes: the unshifted network's threshold is recorded
    total = model.config["decision_threshold"]
    assert ((model.predict_proba(x)[:, 1].numpy() >= 0.5) == (before >= total)).all()
    assert total == pytest.approx(1 / (1 + (1 - thr) / thr * 0.4 / 0.6))


def test_calibration_over_domains_protects_the_worse_domain():
    """Pooled, the big well-separated domain dominates; per domain, the threshold serves the small one."""
    from tunesmith.classify.voices import calibrate_threshold

    rng = np.random.default_rng(1)
    # domain A (900 windows): one ~ U(0, 0.6), several ~ U(0.65, 1); domain B (100): one ~ U(0, 0.3),
    # several ~ U(0.32, 0.62). Both balanced accuracies are about 0.84 near t = 0.41.
    ya, yb = np.r_[np.zeros(450), np.ones(450)], np.r_[np.zeros(50), np.ones(50)]
    pa = np.r_[rng.uniform(0.0, 0.6, 450), rng.uniform(0.65, 1.0, 450)]
    pb = np.r_[rng.uniform(0.0, 0.3, 50), rng.uniform(0.32, 0.62, 50)]
    p, y = np.r_[pa, pb], np.r_[ya, yb]
    groups = np.r_[["a"] * 900, ["b"] * 100]
    t_pool, _ = calibrate_threshold(p, y)
    t_dom, worse = calibrate_threshold(p, y, groups=groups)
    def worse_at(t):
        return min(0.5 * ((p[m & (y == 1)] >= t).mean() + (p[m & (y == 0)] < t).mean()) for m in (groups == "a", groups == "b"))

    assert 0.6 <= t_pool <= 0.65 and worse_at(t_pool) < 0.6  # domain B's "several" all missed
    assert 0.38 <= t_dom <= 0.45 and worse == pytest.approx(worse_at(t_dom)) and worse > 0.8
    with pytest.raises(Exception, match="both classes"):
        calibrate_threshold(p, y, groups=np.r_[["a"] * 450, ["b"] * 550])


def test_fine_tuning_starts_from_the_checkpoint(tmp_path):
    """training.init loads weights and normaliser; with lr 0 one epoch leaves them as they were."""
    import soundfile as sf
    import torch

    from tunesmith.classify.train import load_classifier, train_classifier
    from tunesmith.errors import CheckpointError

    rng = np.random.default_rng(0)
    for label in ("one", "several"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for i in range(4):
            y = _burst(SR, 0.1, 0.9, 10 * i + (label == "several"))
            if label == "several":
                y = y + _burst(SR, 0.3, 1.0, 100 + i) * np.sin(np.arange(SR) * 0.3)
            sf.write(tmp_path / "data" / label / f"{label}{i}.wav", (y * rng.uniform(0.5, 1)).astype(np.float32), SR)
    cfg = {"window_s": 1.0, "arch": "cnn2d", "network": {"channels": [4, 8]}, "feature_settings": {"n_mels": 32},
           "training": {"max_epochs": 1, "batch_size": 4, "val_fraction": 0.25, "patience": 0}}
    first = load_classifier(train_classifier(tmp_path / "data", tmp_path / "a", config=cfg, progress=False))
    tuned_cfg = {**cfg, "training": {**cfg["training"], "lr": 0.0, "init": str(first.checkpoint_path)}}
    tuned = load_classifier(train_classifier(tmp_path / "data", tmp_path / "b", config=tuned_cfg, progress=False))
    saved = first.state_dict()  # the normaliser's saved statistics (mean, std), not its fitting sums
    fixed = dict(first.named_parameters()) | {k: saved[k] for k in saved if k.startswith("norm.")}
    assert any(k.startswith("norm.") for k in fixed)  # the normaliser comes from the checkpoint, not refitted
    for k, v in fixed.items():  # (batch-norm running statistics still move in training mode)
        assert torch.equal(v, tuned.state_dict()[k]), k
    scratch = load_classifier(train_classifier(tmp_path / "data", tmp_path / "c", progress=False,
                                               config={**cfg, "training": {**cfg["training"], "lr": 0.0}}))
    assert not all(torch.equal(v, scratch.state_dict()[k]) for k, v in fixed.items())
    with pytest.raises(CheckpointError, match="differs"):
        train_classifier(tmp_path / "data", tmp_path / "d", progress=False,
                         config={**tuned_cfg, "network": {"channels": [4, 16]}})


def _make_classify_data():
    """scripts/make_classify_data.py as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_classify_data", ROOT / "scripts" / "make_classify_data.py")
    mcd = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mcd)
    return mcd


def test_validation_instruments_are_neither_training_nor_test_timbres():
    """The validation set's FluidR3 programs and espeak variants are in no other split."""
    mcd = _make_classify_data()
    used = set(mcd.TRAIN_PROGRAMS) | set(mcd.TEST_PROGRAMS) | set(mcd.EXTRA_TRAIN_PROGRAMS) | set(mcd.DEV_PROGRAMS)
    assert not set(mcd.VAL_FLUID_PROGRAMS) & used
    assert not set(mcd.VAL_SPEAKERS) & (set(mcd.TRAIN_SPEAKERS) | set(mcd.TEST_SPEAKERS))
    assert "FluidR3" not in mcd.VAL_SOUNDFONT


@pytest.mark.skipif(not SPEECH.is_dir(), reason="../shared/data/speech is absent")
def test_meeting_windows_are_labelled_from_their_overlap_and_keep_talkers_apart(tmp_path):
    """``make_classify_data.py --only meetings``: 2-s windows whose label is the manifest's overlap share
    against the 25 % rule, training and validation scenes from disjoint talkers."""
    import csv

    import soundfile as sf

    mcd = _make_classify_data()
    mcd.make_meetings(tmp_path, 0, {"train": 2, "val": 1})
    rows = list(csv.DictReader(open(tmp_path / "manifest.csv")))
    assert {r["split"] for r in rows} == {"train", "val"}
    assert len(rows) == 3 * (int(mcd.MEETING_SCENE_S) - 1)            # 2-s windows every second
    for r in rows:
        assert r["label"] == ("several" if float(r["share"]) >= mixing.SEVERAL_SHARE else "one")
        info = sf.info(tmp_path / r["split"] / r["file"])                  # filed under its label
        assert r["file"].startswith(r["label"] + "/")
        assert r["file"].split("/")[1].split("__")[0] == f"{r['split']}_{int(r['scene']):04d}"   # scene = prefix
        assert info.samplerate == SR and info.frames == 2 * SR
    assert any(r["label"] == "several" for r in rows) and any(r["label"] == "one" for r in rows)
    talkers = {s: {t for r in rows if r["split"] == s for t in r["talkers"].split("+")} for s in ("train", "val")}
    assert talkers["train"] and talkers["val"] and not talkers["train"] & talkers["val"]
    split = mixing.split_talkers(mixing.list_talkers(SPEECH))
    assert talkers["val"] <= {t.name for t in split["val"]}


# --------------------------------------------------------------------------- the shipped detector's decisions
@pytest.fixture(scope="module")
def shipped():
    if not SHIPPED.exists():
        pytest.skip("shipped voices checkpoint missing")
    from tunesmith.classify.voices import load_voices_model

    return load_voices_model(SHIPPED)


def _decide(model, y: np.ndarray) -> str:
    from tunesmith.audio import Audio
    from tunesmith.classify.train import classify_audio

    return classify_audio(Audio(y.astype(np.float32), SR), model).label


def _norm(y: np.ndarray) -> np.ndarray:
    return y / (np.sqrt(np.mean(y ** 2)) + 1e-9) * 0.05


@pytest.fixture(scope="module")
def test_talkers():
    if not SPEECH.is_dir():
        pytest.skip("../shared/data/speech is absent")
    split = mixing.split_talkers(mixing.list_talkers(SPEECH))
    libri = [t for t in split["test"] if t.corpus == "librispeech"]
    women = [t for t in libri if t.sex == "F"]
    men = [t for t in libri if t.sex == "M"]
    return [mixing.talker_audio(t, SR)[:6 * SR] for t in (women[0], men[0], women[1])]


def test_shipped_detector_one_real_talker_is_one(shipped, test_talkers):
    assert _decide(shipped, test_talkers[0]) == "one"
    assert _decide(shipped, test_talkers[1]) == "one"


def test_shipped_detector_two_real_talkers_are_several(shipped, test_talkers):
    a, b, c = (_norm(y) for y in test_talkers)
    n = min(len(a), len(b), len(c))
    assert _decide(shipped, a[:n] + b[:n]) == "several"
    assert _decide(shipped, b[:n] + 0.7 * c[:n]) == "several"


@pytest.fixture(scope="module")
def lines():
    """The six rendered demo songs (one line each: flute, violin, clarinet, voice oohs, piano, trumpet), 8 s."""
    from tunesmith.audio import load

    paths = sorted(p for p in SONGS.glob("kinder*") if p.suffix in (".flac", ".ogg", ".wav"))
    if len(paths) < 6:
        pytest.skip("data/songs renders missing")
    return {p.stem.rsplit("-", 1)[-1]: load(p, sr=SR).samples[:8 * SR] for p in paths}


def test_shipped_detector_one_instrument_line_is_one(shipped, lines):
    assert {k: _decide(shipped, y) for k, y in lines.items()} == {k: "one" for k in lines}


def test_shipped_detector_two_instrument_lines_are_several(shipped, lines):
    """Every pair of the six lines, the second 2 dB down. Known misses of the shipped detector (measured
    when it was trained): flute + violin and violin + clarinet, two slow lullabies in one register."""
    names = sorted(lines)
    decisions = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            x, y = _norm(lines[a]), _norm(lines[b])
            n = min(len(x), len(y))
            decisions[(a, b)] = _decide(shipped, x[:n] + 0.8 * y[:n])
    several = [k for k, v in decisions.items() if v == "several"]
    assert len(several) >= 12, decisions  # of 15 pairs
    assert ("clarinet", "trumpet") in several and ("flute", "piano") in several
