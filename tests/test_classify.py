"""Classifier, compare-features, voices, streaming and ONNX export on tiny data made here."""
from __future__ import annotations

import csv
import math
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tunesmith.errors import CheckpointError, TunesmithError

SR = 16000
ROOT = Path(__file__).resolve().parents[1]


def _melody(seed: int, seconds: float = 3.0) -> np.ndarray:
    """A short melody of harmonic tones (built-in synthesiser), deterministic per seed."""
    from tunesmith.notes import Note, NoteSequence
    from tunesmith.render import synthesize

    rng = np.random.default_rng(seed)
    notes, t = [], 0.0
    while t < seconds:
        d = float(rng.choice([0.25, 0.5, 0.75]))
        notes.append(Note(pitch=float(rng.integers(55, 80)), onset=t, offset=t + d * 0.9, velocity=90))
        t += d
    y = synthesize(NoteSequence(notes), SR).samples
    n = int(seconds * SR)
    return np.pad(y, (0, max(0, n - len(y))))[:n].astype(np.float32)


def _noisy(y: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + seed)
    return (y + 0.2 * np.std(y) * rng.standard_normal(len(y)) * 3).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """clean/ and noisy/ with 6 sources each; a clean file and its noisy copy share a name."""
    root = tmp_path_factory.mktemp("labelled")
    for i in range(6):
        y = _melody(i)
        for label, audio in (("clean", y), ("noisy", _noisy(y, i))):
            (root / label).mkdir(exist_ok=True)
            sf.write(root / label / f"song{i}.wav", audio, SR)
    return root


@pytest.fixture(scope="module")
def heldout_data(tmp_path_factory) -> Path:
    """clean/ and noisy/ copies of 4 melodies that no training set here contains."""
    root = tmp_path_factory.mktemp("heldout")
    for i in range(100, 104):
        y = _melody(i)
        for label, audio in (("clean", y), ("noisy", _noisy(y, i))):
            (root / label).mkdir(exist_ok=True)
            sf.write(root / label / f"held{i}.wav", audio, SR)
    return root


TINY_CONFIG = {"window_s": 1.0, "arch": "cnn1d", "network": {"channels": [16, 16]},
               "training": {"max_epochs": 6, "batch_size": 8, "val_fraction": 0.34, "patience": 0}}


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory) -> Path:
    from tunesmith.classify.train import train_classifier

    out = tmp_path_factory.mktemp("run")
    return train_classifier(tiny_data, out, config=TINY_CONFIG, progress=False)


# ----------------------------------------------------------------------------- data and folds
def test_folds_never_straddle_sources(tiny_data):
    from tunesmith.classify.data import file_folds, load_windows, scan_labelled_folder

    files, classes = scan_labelled_folder(tiny_data)
    assert classes == ["clean", "noisy"] and len(files) == 12
    ws = load_windows(files, classes, sr=SR, window_s=1.0, progress=False)
    assert len(ws) == 36 and set(ws.y.tolist()) == {0, 1}
    fold = file_folds(ws.groups, ws.y, 3, seed=1)
    for g in set(ws.groups.tolist()):
        assert len(set(fold[ws.groups == g].tolist())) == 1, f"source {g} straddles folds"
    assert sorted(set(fold.tolist())) == [0, 1, 2]
    assert np.array_equal(fold, file_folds(ws.groups, ws.y, 3, seed=1))  # deterministic


def test_several_folders_are_the_union_of_their_labels(tiny_data, heldout_data, tmp_path):
    from tunesmith.classify.data import scan_labelled_folders

    third = tmp_path / "third"
    (third / "muffled").mkdir(parents=True)
    sf.write(third / "muffled" / "m.wav", _melody(7, 1.0), SR)
    files, classes = scan_labelled_folders([tiny_data, heldout_data, third])
    assert classes == ["clean", "muffled", "noisy"] and len(files) == 12 + 8 + 1
    assert {f.path.parent.parent for f in files if classes[f.label] == "clean"} == {tiny_data, heldout_data}
    assert all(classes[f.label] == f.path.parent.name for f in files)
    (tmp_path / "empty" / "good").mkdir(parents=True)
    with pytest.raises(TunesmithError, match="empty: holds no audio"):
        scan_labelled_folders([tiny_data, tmp_path / "empty"])


def test_bad_folders_raise_one_line_errors(tmp_path):
    from tunesmith.classify.data import scan_labelled_folder

    with pytest.raises(TunesmithError, match="no such folder"):
        scan_labelled_folder(tmp_path / "missing")
    (tmp_path / "only").mkdir()
    sf.write(tmp_path / "only" / "a.wav", _melody(0, 1.0), SR)
    with pytest.raises(TunesmithError, match="at least two label"):
        scan_labelled_folder(tmp_path)


def test_spec_augment_masks_bounded_spans():
    from tunesmith.classify.model import spec_augment

    x = torch.ones(4, 40, 100)
    g = torch.Generator().manual_seed(0)
    y = spec_augment(x, time_masks=1, time_width=0.1, freq_masks=0, generator=g)
    zero_frames = (y == 0).all(dim=1).sum(dim=1)
    assert (zero_frames <= 10).all() and zero_frames.sum() > 0
    assert torch.equal(x, torch.ones(4, 40, 100))  # input untouched


def test_mix_augment_builds_level_matched_mixtures_of_the_source_class():
    from tunesmith.classify.model import mix_augment

    lines = torch.stack([torch.from_numpy(_melody(s, 1.0)) for s in range(4)])
    x = torch.cat([lines, 0.1 * torch.randn(2, lines.shape[1])])
    y = torch.tensor([0, 0, 0, 0, 1, 1])
    out = mix_augment(x, y, source=0, target=1, prob=1.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[:4], x[:4])                      # source windows untouched
    assert torch.allclose(out[4:].square().mean(1), x[4:].square().mean(1), rtol=1e-4)  # same level
    for i in (4, 5):                                        # a mixture of lines, not the noise it replaced
        coef = torch.linalg.lstsq(lines.T, out[i][:, None]).solution
        resid = out[i] - (lines.T @ coef)[:, 0]
        assert resid.square().mean() < 1e-6 * out[i].square().mean() and (coef.abs() > 1e-3).sum() >= 2
    assert torch.equal(mix_augment(x, torch.tensor([0, 1, 1, 1, 1, 1]), source=0, target=1), x)


def _share(v: torch.Tensor) -> torch.Tensor:
    """A statistics row back to a share (the rows hold ``log(1 + share / SHARE_SCALE)``)."""
    from tunesmith.classify.model import SHARE_SCALE

    return torch.expm1(v) * SHARE_SCALE


def test_logmel_stats_marks_dropouts_and_clipping():
    """The waveform rows see a digital gap and a clipped stretch, the hum rows a 60 Hz hum; frames match
    the log-mel grid."""
    from tunesmith import features
    from tunesmith.classify.model import MainsHum, WaveformStats, make_frontend
    from tunesmith.classify.quality import QualityDescriptors

    y = torch.from_numpy(_melody(3, 2.0))
    gap, clipped = y.clone(), y.clone()
    gap[8000:12000] = 0.0                                  # 0.25 s dropout
    level = 0.3 * clipped.abs().max()
    clipped = clipped.clamp(-level, level)                 # overdriven: flat tops at the ceiling
    t = torch.arange(len(y)) / SR
    hummed = y + 0.3 * y.square().mean().sqrt() * (torch.sin(2 * math.pi * 60 * t) + 0.5 * torch.sin(2 * math.pi * 120 * t))
    fe = make_frontend("logmel+stats", SR)
    out = fe(torch.stack([y, gap, clipped, hummed]))
    ref = features.frontend("logmel", SR, n_fft=1024, hop_length=512, n_mels=64)(y[None])
    assert out.shape == (4, 64 + 6 + 8 + len(QualityDescriptors.names), ref.shape[-1])
    row = {name: 64 + i for i, name in enumerate(WaveformStats.names)}
    row.update({name: 70 + i for i, name in enumerate(MainsHum.names)})
    for name in ("hum_60hz_k1", "hum_60hz_k2"):                # the hum's lines stand out in every frame ...
        assert out[3, row[name]].min() > out[0, row[name]].max() + 6, name
    assert out[3, row["hum_50hz_k1"]].mean() < out[3, row["hum_60hz_k1"]].mean() - 10  # ... at 60 Hz, not 50
    frame = 10000 // 512
    silence = _share(out[:, row["silence_share"]])
    assert torch.isclose(silence[1, frame], torch.tensor(1.0)) and silence[0, 1:-1].max() < 0.1  # edges: padding
    assert out[1, :64, frame].max() < out[0, :64, frame].max() - 60      # absolute dB, no window floor
    ceiling = _share(out[:, row["ceiling_share"]])
    assert ceiling[2, 1:-1].mean() > 10 * ceiling[0, 1:-1].mean() + 0.05
    flat = _share(out[:, row["flat_top_share"]])
    assert flat[0].max() < 0.02 and flat[2, 1:-1].mean() > 0.1           # flat tops only where clipped
    assert _share(out[2, row["at_max_share"]]).max() > 0.05 > _share(out[0, row["at_max_share"]]).max()


def test_flat_top_rows_see_clipped_notes_under_a_louder_click():
    """Clipping stays visible frame by frame when a louder event sets the window's maximum, and a loud
    low sine (its crest moves slowly) is not taken for a flat top."""
    from tunesmith.classify.model import WaveformStats

    y = torch.from_numpy(_melody(5, 2.0))
    level = 0.3 * y.abs().max()
    clipped = y.clamp(-level, level)
    clipped[20000:20010] = 0.9                             # a click far above the clip level
    t = torch.arange(len(y)) / SR
    low = 0.5 * torch.sin(2 * math.pi * 55.0 * t)
    out = WaveformStats()(torch.stack([y, clipped, low]))
    flat, ceiling = _share(out[:, 4]), _share(out[:, 3])
    assert flat[1, 1:-1].mean() > 0.1 and ceiling[1, 1:-1].mean() < 0.01  # window ceiling: only the click
    assert flat[0].max() < 0.02 and flat[2].max() < 0.05


def test_feature_augment_crops_shifts_and_changes_level():
    from tunesmith.classify.compare import augment_rows, feature_augment

    n_bins = 64 + 6 + 8 + 18                                             # mel, waveform, hum, quality rows
    assert augment_rows("logmel+stats", n_bins) == (64, 66)
    assert augment_rows("logmel+stats", 32 + 6 + 8 + 18) == (32, 34)      # other mel counts follow the row count
    assert augment_rows("mel", 64) == (64, 0) and augment_rows("mfcc", 20) == (0, 0)
    x = torch.arange(n_bins, dtype=torch.float32)[None, :, None].repeat(8, 1, 100)
    g = torch.Generator().manual_seed(0)
    lengths, shifts = set(), set()
    for _ in range(30):
        out = feature_augment(x, g, crop=0.5, freq_shift=1, freq_rows=64)
        lengths.add(out.shape[-1])
        assert 50 <= out.shape[-1] <= 100 and out.shape[:2] == x.shape[:2]
        d = (out[0, 1:63, 0] - x[0, 1:63, 0]).unique()
        assert len(d) == 1 and abs(float(d)) <= 1
        shifts.add(float(d))
        assert torch.equal(out[:, 64:], x[:, 64:, :out.shape[-1]])       # statistics rows never move
    assert len(lengths) > 5 and shifts == {-1.0, 0.0, 1.0}
    scale = torch.zeros(n_bins)
    scale[:66] = 0.5
    out = feature_augment(x, g, gain_db=6.0, gain_scale=scale)
    gain = out - x
    assert torch.equal(gain[:, 66:], torch.zeros_like(gain[:, 66:]))
    per_window = gain[:, 0, 0]
    assert torch.allclose(gain[:, :66], per_window[:, None, None].expand(-1, 66, 100))
    assert per_window.abs().max() <= 3.0 and per_window.std() > 0.1       # +-6 dB x 0.5, not all the same


def test_stats_head_sees_input_statistics():
    from tunesmith.classify.model import CNN1d, CNN2d, input_statistics

    x = torch.randn(3, 10, 40)
    s = input_statistics(x)
    assert s.shape == (3, 30) and torch.allclose(s[:, 10:20], x.amax(2))
    for net in (CNN1d(10, 2, stats_head=True), CNN2d(10, 2, stats_head=True)):
        assert net.head.in_features == 2 * 64 + 30 and net.eval()(x).shape == (3, 2)


# ----------------------------------------------------------------------------- training, checkpoint, classify
def test_fast_dev_run(tiny_data, tmp_path):
    from tunesmith.classify.train import load_classifier, train_classifier

    path = train_classifier(tiny_data, tmp_path, config=TINY_CONFIG, fast_dev_run=True, progress=False)
    model = load_classifier(path)
    assert model.classes == ["clean", "noisy"] and (tmp_path / "config.yaml").exists()


def test_trained_classifier_separates_held_out_files(trained, heldout_data):
    from tunesmith.classify.train import classify_files

    payload = torch.load(trained, weights_only=True)
    assert payload["config"]["sr"] == SR and payload["config"]["features"] == "logmel"
    assert (trained.parent / "curves.png").exists() and (trained.parent / "last.ckpt").exists()
    csv_path = trained.parent / "pred.csv"
    results, batch = classify_files([heldout_data], trained, csv_path=csv_path, quiet=True)  # never trained on
    assert len(results) == 8 and batch.throughput > 0
    for r in results:
        assert np.allclose(r.probs.sum(1), 1.0, atol=1e-5) and r.probs.shape == (3, 2)
    correct = [r.label == r.path.parent.name for r in results]
    assert np.mean(correct) >= 0.75, correct
    rows = list(csv.DictReader(open(csv_path)))
    assert len(rows) == 8 + 24 and {r["scope"] for r in rows} == {"file", "window"}


def test_checkpoint_errors(tmp_path, trained):
    from tunesmith.classify.train import load_classifier

    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_classifier(junk)
    payload = torch.load(trained, weights_only=True)
    payload["format_version"] = 99
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    with pytest.raises(CheckpointError, match="format 99"):
        load_classifier(old)
    with pytest.raises(CheckpointError, match="not found"):
        load_classifier(tmp_path / "nope.pt")


# ----------------------------------------------------------------------------- compare-features
def test_compare_features_table_chart_and_determinism(tiny_data, tmp_path):
    from tunesmith.classify.compare import compare_features

    kw = dict(features="logmel,logmel+stats,descriptors+lr,descriptors+gmm", folds=3, seed=3, epochs=6, window_s=1.0,
              progress=False)
    a = compare_features(tiny_data, out_dir=tmp_path, **kw)
    b = compare_features(tiny_data, **kw)
    assert a.markdown().split("|")[:-5] == b.markdown().split("|")[:-5] or \
        [a.summary(r) for r in a.ranked()] == [b.summary(r) for r in b.ranked()]
    assert a.summary(a.best())["balanced_accuracy"][0] >= 0.8
    assert not a.failed, a.failed  # every representation asked for ran
    assert set(a.scores) == {"logmel", "logmel+stats", "descriptors+lr", "descriptors+gmm"}
    assert len(a.scores["logmel"]) == 3 and len(a.scores["logmel+stats"]) == 3
    for name in ("compare.md", "compare.csv", "compare.png"):
        assert (tmp_path / name).stat().st_size > 0
    with pytest.raises(TunesmithError, match="unknown representation"):
        compare_features(tiny_data, features="wavelets", progress=False)


def test_conv_rbm_learns_and_pools():
    from tunesmith.classify.compare import ConvRBM

    g = torch.Generator().manual_seed(0)
    basis = torch.randn(10, 6, generator=g)
    v = torch.zeros(32, 10, 60)
    for b in range(32):  # a repeated 6-frame pattern at random places
        for s in torch.randint(0, 54, (4,), generator=g):
            v[b, :, s:s + 6] += basis
    torch.manual_seed(0)
    rbm = ConvRBM(10, n_bases=24, width=6)

    def recon_error():
        with torch.no_grad():
            return float(((rbm.visible(rbm.hidden(v)) - v) ** 2).mean())

    before = recon_error()
    rbm.fit(v, epochs=30, lr=0.05, batch_size=4)
    assert recon_error() < 0.5 * before
    assert rbm.transform(v, pool=3).shape == (32, 24, 19)


# ----------------------------------------------------------------------------- ONNX
def test_onnx_export_matches_torch(trained, tmp_path):
    pytest.importorskip("onnxruntime")
    from tunesmith.classify.export import export_onnx, run_onnx
    from tunesmith.classify.train import load_classifier

    model = load_classifier(trained)
    path = export_onnx(model, tmp_path / "m.onnx")
    x = np.stack([_melody(40, 1.0), _noisy(_melody(41, 1.0), 41), 0.5 * _melody(42, 1.0)])
    got = run_onnx(path, x)
    want = model.predict_proba(torch.from_numpy(x)).numpy()
    assert got.shape == (3, 2) and np.abs(got - want).max() < 1e-4


def test_onnx_export_refuses_unsupported_front_end():
    from tunesmith.classify.export import export_onnx
    from tunesmith.classify.model import Classifier

    model = Classifier({"features": "pcen", "sr": SR, "window_s": 1.0, "classes": ["a", "b"], "arch": "cnn1d"})
    with pytest.raises(TunesmithError, match="ONNX export supports"):
        export_onnx(model, "/tmp/never.onnx")


# ----------------------------------------------------------------------------- GMM baseline and streaming
def test_gmm_baseline_separates_one_from_several():
    from tunesmith.classify.voices import GMMBaseline

    ones = [_melody(i, 1.0) for i in range(24)]
    several = [(_melody(100 + i, 1.0) + _melody(200 + i, 1.0) + _melody(300 + i, 1.0)) / 3 for i in range(24)]
    x = np.stack(ones + several)
    y = np.array([0] * 24 + [1] * 24)
    gmm = GMMBaseline(SR, n_components=4).fit(x[::2], y[::2])
    p = gmm.predict_proba(x[1::2])
    assert p.shape == (24, 2) and ((p[:, 1] > 0.5) == y[1::2]).mean() >= 0.7


def _write_pcm_wav(path: Path, y: np.ndarray, sr: int = SR) -> None:
    sf.write(path, y, sr, subtype="PCM_16")


def test_stream_decides_every_second_from_a_file(trained, tmp_path):
    from tunesmith.classify.train import load_classifier
    from tunesmith.classify.voices import stream_voices

    model = load_classifier(trained)
    model.classes = ["one", "several"]  # any two-class model can drive the stream
    wav = tmp_path / "live.wav"
    _write_pcm_wav(wav, _melody(7, 3.5))
    decisions = list(stream_voices(wav, model, decide_every_s=1.0, follow=False))
    assert [round(d.time_s, 2) for d in decisions] == [1.0, 2.0, 3.0, 3.5]
    assert all(0 <= d.p_several <= 1 and 0 <= d.latency_s < 5 for d in decisions)


def test_pcm_blocks_reads_raw_pcm(tmp_path):
    from tunesmith.classify.voices import pcm_blocks

    y = (np.sin(np.arange(8000) / 10) * 10000).astype("<i2")
    raw = tmp_path / "x.raw"
    raw.write_bytes(y.tobytes())
    blocks = list(pcm_blocks(raw, 0.25, sr=SR, follow=False))
    assert [len(b) for b, _, _ in blocks] == [4000, 4000]
    assert np.allclose(np.concatenate([b for b, _, _ in blocks]), y / 32768.0)


# ----------------------------------------------------------------------------- CLI end to end
def _cli(*args: str) -> int:
    from tunesmith.cli import main

    return main(list(args))


def test_cli_classify_skips_bad_files(trained, tiny_data, tmp_path, capsys):
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "broken.wav").write_text("this is not audio")
    sf.write(bad / "good.wav", _melody(3), SR)
    out = tmp_path / "p.csv"
    code = _cli("classify", str(bad), "--checkpoint", str(trained), "-o", str(out))
    err = capsys.readouterr().err
    assert code == 1 and "broken.wav" in err and "windows/s" in err
    rows = list(csv.DictReader(open(out)))
    assert {Path(r["file"]).name for r in rows} == {"good.wav"}
    assert _cli("classify", str(tmp_path / "none.wav"), "--checkpoint", str(trained)) == 1


def test_cli_train_compare_and_export(tiny_data, tmp_path, capsys):
    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(TINY_CONFIG))
    assert _cli("train", "classifier", "--data", str(tiny_data), str(tiny_data), "--config", str(cfg),
                "--fast-dev-run", "-o", str(tmp_path / "run")) == 0
    assert (tmp_path / "run" / "classifier.pt").exists()
    assert _cli("compare-features", "--data", str(tiny_data), "--folds", "2", "--features", "descriptors+lr",
                "--window-s", "1", "-o", str(tmp_path / "cmp")) == 0
    assert "descriptors+lr" in capsys.readouterr().out
    assert _cli("export", "--checkpoint", str(tmp_path / "run" / "classifier.pt"), "-o",
                str(tmp_path / "m.onnx")) == 0
    assert (tmp_path / "m.onnx").stat().st_size > 1000
    assert _cli("compare-features", "--data", str(tmp_path / "nowhere")) == 1


def test_cli_voices_with_shipped_checkpoint_and_stdin_stream(tmp_path, capsys):
    one = tmp_path / "one.wav"
    _write_pcm_wav(one, _melody(5, 4.0))
    out = tmp_path / "v.csv"
    assert _cli("voices", str(one), "-o", str(out)) == 0
    rows = list(csv.DictReader(open(out)))
    assert rows[0]["scope"] == "file" and abs(float(rows[0]["p_one"]) + float(rows[0]["p_several"]) - 1) < 1e-3
    assert len(rows) == 1 + 3  # 2-s windows every second over 4 s: starting at 0, 1 and 2 s
    pcm = (_melody(6, 2.5) * 32767).astype("<i2").tobytes()
    proc = subprocess.run([sys.executable, "-m", "tunesmith.cli", "voices", "--stream", "-", "--rate", "16000"],
                          input=pcm, capture_output=True, timeout=120)
    lines = proc.stdout.decode().strip().splitlines()
    assert proc.returncode == 0 and len(lines) == 3 and "latency" in lines[0], proc.stderr.decode()[-500:]
    assert "latency median" in proc.stderr.decode()


def test_cli_voices_stream_of_an_empty_source_says_so(tmp_path, capsys):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert _cli("voices", "--stream", str(empty), "--idle-timeout-s", "0.2") == 1
    assert "empty.wav: empty file (0 bytes)" in capsys.readouterr().err
    text = tmp_path / "notes.wav"                         # a text file named .wav is no raw PCM to decide on
    text.write_text("not audio at all, just some words\n")
    assert _cli("voices", "--stream", str(text), "--idle-timeout-s", "0.2") == 1
    err = capsys.readouterr().err
    assert "notes.wav: not a WAV file (no RIFF header" in err and "decisions" not in err
    proc = subprocess.run([sys.executable, "-m", "tunesmith.cli", "voices", "--stream", "-", "--rate", "16000"],
                          input=b"", capture_output=True, timeout=120)
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1 and err[-1].endswith("no audio arrived") and "Traceback" not in proc.stderr.decode()


def test_pcm_blocks_follows_a_growing_wav(tmp_path):
    import threading
    import time

    from tunesmith.classify.voices import pcm_blocks

    y = (np.sin(np.arange(SR) / 7) * 8000).astype("<i2")  # 1 s, written in 8 slices while being read
    path = tmp_path / "growing.wav"
    header = (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt " +
              struct.pack("<IHHIIHH", 16, 1, 1, SR, SR * 2, 2, 16) + b"data" + struct.pack("<I", 0xFFFFFFFF))
    path.write_bytes(header)

    def writer():
        with open(path, "ab") as f:
            for part in np.array_split(y, 8):
                time.sleep(0.05)
                f.write(part.tobytes())
                f.flush()

    t = threading.Thread(target=writer)
    t.start()
    blocks = list(pcm_blocks(path, 0.25, follow=True, idle_timeout_s=0.5))
    t.join()
    assert [len(b) for b, sr, _ in blocks] == [4000] * 4 and blocks[0][1] == SR
    assert np.allclose(np.concatenate([b for b, _, _ in blocks]), y / 32768.0)


def test_cli_reads_the_registry_and_keeps_the_compare_epochs():
    """The lists of representations have one source, tunesmith.features.registry (torch-free, so
    `tunesmith --help` imports no numpy/torch); the epoch default is still a CLI copy that must not drift."""
    from tunesmith.classify import compare, model
    from tunesmith.cli import cmd_classify
    from tunesmith.features import registry

    assert cmd_classify.ALL_REPRESENTATIONS is compare.ALL_REPRESENTATIONS is registry.ALL_REPRESENTATIONS
    assert cmd_classify.FEATURE_KINDS is model.FEATURE_KINDS is registry.FEATURE_KINDS
    assert cmd_classify.COMPARE_EPOCHS == compare.EPOCHS
