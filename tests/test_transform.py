"""Sound transformation: inversion, pair checks, models, training smoke test, chunked conversion, CLI."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tunesmith.audio import Audio, save
from tunesmith.errors import CheckpointError
from tunesmith.notes import Note, NoteSequence
from tunesmith.render import synthesize

SR = 16000
TINY = {  # the floors, level augmentation and Griffin-Lim loss of configs/transform.yaml off: plain, fast tests
    "features": {"sr": SR, "n_fft": 512, "hop_length": 128},
    "data": {"crop_frames": 32, "batch_size": 4, "crops_per_epoch": 8, "valid_fraction": 0.25, "random_gain_db": 0.0},
    "model": {"arch": "unet", "base_channels": 4, "depth": 2, "freq_stem": 2, "lstm_hidden": 16, "lstm_layers": 1,
              "input_floor_db": None},
    "loss": {"mrstft": 0.5, "mrstft_gl_iters": 0},
    "trainer": {"max_epochs": 1, "max_minutes": 2, "accelerator": "cpu"},
    "inversion": {"method": "gl", "n_iter": 8},
}


def melody(seed: int, n: int = 6, start: float = 0.1) -> NoteSequence:
    rng = np.random.default_rng(seed)
    notes, t = [], start
    for _ in range(n):
        d = float(rng.choice([0.25, 0.5]))
        notes.append(Note(pitch=float(rng.integers(60, 76)), onset=t, offset=t + d * 0.9, velocity=90))
        t += d
    return NoteSequence(notes, name=f"m{seed}")


def timbre_b(x: np.ndarray) -> np.ndarray:
    """A known 'output sound': the input through a one-pole low-pass, a bit louder."""
    y = np.empty_like(x)
    acc = 0.0
    for i, v in enumerate(x):  # small inputs only
        acc = 0.7 * acc + 0.3 * v
        y[i] = acc
    return (1.5 * y).astype(np.float32)


@pytest.fixture(scope="module")
def pair_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    (root / "input").mkdir()
    (root / "output").mkdir()
    for k in range(4):
        x = synthesize(melody(k), SR).samples
        save(Audio(x, SR), root / "input" / f"p{k}.wav")
        save(Audio(timbre_b(x), SR), root / "output" / f"p{k}.wav")
    # Bad pairs: missing output, sample-rate mismatch, 0.3 s offset, not audio.
    x = synthesize(melody(9), SR).samples
    save(Audio(x, SR), root / "input" / "lonely.wav")
    save(Audio(x, SR), root / "input" / "rate.wav")
    save(Audio(x, 22050), root / "output" / "rate.wav")
    save(Audio(x, SR), root / "input" / "late.wav")
    save(Audio(np.concatenate([np.zeros(int(0.3 * SR), np.float32), x])[: len(x)], SR), root / "output" / "late.wav")
    (root / "input" / "junk.wav").write_text("not audio")
    (root / "output" / "junk.wav").write_text("not audio")
    return root


@pytest.fixture(scope="module")
def tiny_ckpt(pair_dir, tmp_path_factory):
    from tunesmith.transform.training import train

    out = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    return train(pair_dir, TINY, out_dir=out, quiet=True, trainer={"max_epochs": 2})


# ----- inversion ---------------------------------------------------------------------------------
def _lsd(S_ref, y, n_fft, hop):
    import librosa

    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
    a = 20 * np.log10(np.maximum(S_ref, 1e-6))
    b = 20 * np.log10(np.maximum(S[:, : S_ref.shape[1]], 1e-6))
    fl = a.max() - 80
    return float(np.mean(np.sqrt(np.mean((np.maximum(a, fl) - np.maximum(b, fl)) ** 2, axis=0))))


def test_griffinlim_matches_librosa_quality_and_is_batched():
    import librosa

    from tunesmith.transform.invert import griffinlim

    y = synthesize(melody(1), SR).samples[: SR * 2]
    S = np.abs(librosa.stft(y, n_fft=512, hop_length=128))
    ours = griffinlim(S, n_iter=32, hop_length=128, length=len(y), seed=0)
    ref = librosa.griffinlim(S, n_iter=32, hop_length=128, length=len(y), random_state=0)
    assert ours.shape == y.shape and ours.dtype == np.float32
    d_ours, d_ref = _lsd(S, ours, 512, 128), _lsd(S, ref, 512, 128)
    assert d_ours <= d_ref + 0.1, (d_ours, d_ref)
    # Iterating helps, and a batch gives the same as one at a time.
    assert d_ours < _lsd(S, griffinlim(S, n_iter=0, hop_length=128, length=len(y), seed=0), 512, 128) - 3
    batch = griffinlim(np.stack([S, S[:, ::-1].copy()]), n_iter=4, hop_length=128, length=len(y), init="zeros")
    one = griffinlim(S, n_iter=4, hop_length=128, length=len(y), init="zeros")
    np.testing.assert_allclose(batch[0], one, atol=1e-4)


def test_differentiable_griffinlim_matches_fast_griffinlim_and_has_gradients():
    from tunesmith.transform.invert import griffinlim, griffinlim_steps, stft

    y = torch.from_numpy(synthesize(melody(4), SR).samples[:SR])
    X = stft(y, 512, 128)
    start = stft(torch.from_numpy(synthesize(melody(5), SR).samples[:SR]), 512, 128)  # a wrong phase to start from
    ref = griffinlim(X.abs(), n_iter=4, hop_length=128, length=len(y), init=start)
    mag = X.abs().clone().requires_grad_(True)
    out = griffinlim_steps(mag, start, 4, hop_length=128, length=len(y))
    assert torch.allclose(out.detach(), ref, atol=1e-4)
    out.pow(2).sum().backward()
    assert mag.grad is not None and torch.isfinite(mag.grad).all() and mag.grad.abs().sum() > 0


def test_cosine_lr_decays_from_lr_to_floor():
    from tunesmith.transform.model import cosine_lr

    assert cosine_lr(1e-3, 0.0, 0.02) == pytest.approx(1e-3)
    assert cosine_lr(1e-3, 0.5, 0.02) == pytest.approx(0.51e-3)
    assert cosine_lr(1e-3, 1.0, 0.02) == pytest.approx(2e-5)
    assert cosine_lr(1e-3, 3.0, 0.02) == pytest.approx(2e-5)  # past the budget: stays at the floor
    lrs = [cosine_lr(1.0, t / 10) for t in range(11)]
    assert all(a > b for a, b in zip(lrs, lrs[1:]))


@pytest.mark.parametrize("n_fft,hop", [(512, 128), (2048, 512), (512, 160)])
@pytest.mark.parametrize("extra", [0, 77, -300, 5000])
def test_istft_matches_torch_and_librosa(n_fft, hop, extra):
    """The block overlap-add path (hop divides n_fft) and the torch.istft fallback (it does not)
    agree with torch.istft and librosa.istft, for lengths shorter and longer than the frames."""
    import librosa

    from tunesmith.transform.invert import istft, stft

    rng = np.random.default_rng(n_fft + hop)
    S = stft(torch.from_numpy(rng.standard_normal((2, 4000)).astype(np.float32)), n_fft, hop)
    S = S * torch.from_numpy(rng.uniform(0.5, 1.5, S.shape).astype(np.float32))  # inconsistent, like a model's
    length = 4000 + extra
    ours = istft(S, hop, length=length)
    assert ours.shape == (2, length)
    covered = (S.shape[-1] - 1) * hop + n_fft // 2  # samples that some frame reaches
    if length <= covered:  # torch.istft refuses longer outputs
        ref = torch.istft(S, n_fft, hop_length=hop, window=torch.hann_window(n_fft), center=True, length=length)
        assert torch.allclose(ours, ref, atol=1e-5)
    else:
        assert torch.all(ours[:, covered:] == 0)
    # librosa divides by the window envelope down to float32's smallest number, so where the
    # envelope is ~0 (the last frame's far edge) it blows an inconsistent STFT up; compare elsewhere.
    lib = librosa.istft(S[1].numpy(), hop_length=hop, n_fft=n_fft, length=length)
    env = librosa.filters.window_sumsquare(window="hann", n_frames=S.shape[-1], hop_length=hop, n_fft=n_fft)
    env = np.pad(env[n_fft // 2:], (0, max(0, length - len(env) + n_fft // 2)))[:length]
    ok = env > 1e-3
    np.testing.assert_allclose(ours[1].numpy()[ok], lib[ok], atol=1e-4)


def test_input_phase_inversion_reconstructs_signal():
    from tunesmith.transform.invert import invert_with_phase, stft

    y = torch.from_numpy(synthesize(melody(2), SR).samples)
    X = stft(y, 512, 128)
    back = invert_with_phase(X.abs(), X, hop_length=128, length=len(y))
    assert torch.allclose(back, y, atol=1e-4)
    back2 = invert_with_phase(X.abs(), torch.angle(X), hop_length=128, length=len(y))
    assert torch.allclose(back2, y, atol=1e-4)
    with pytest.raises(ValueError):
        invert_with_phase(X.abs(), X[:, :-1])


def test_metrics_zero_for_identical_and_ordered():
    from tunesmith.transform.metrics import log_spectral_distance, mel_cepstral_distance, mrstft_distance

    y = synthesize(melody(3), SR).samples
    noise = np.random.default_rng(0).standard_normal(len(y)).astype(np.float32)
    assert log_spectral_distance(y, y) == pytest.approx(0, abs=1e-3)
    assert mrstft_distance(y, y) == pytest.approx(0, abs=1e-3)
    assert mel_cepstral_distance(y, y, SR) == pytest.approx(0, abs=1e-3)
    for metric in (log_spectral_distance, mrstft_distance, mel_cepstral_distance):
        small, big = metric(y, y + 1e-4 * noise), metric(y, y + 1e-2 * noise)
        assert 0 < small < big, metric.__name__


# ----- data --------------------------------------------------------------------------------------
def test_estimate_lag_finds_offset():
    from tunesmith.transform.data import estimate_lag

    x = synthesize(melody(4, n=10), SR).samples
    shift = int(0.1 * SR)
    y = np.concatenate([np.zeros(shift, np.float32), timbre_b(x)])[: len(x)]
    assert abs(estimate_lag(x, y, SR) - shift) <= 512
    assert abs(estimate_lag(x, timbre_b(x), SR)) <= 512


def test_load_pairs_skips_bad_pairs_and_aligns(pair_dir):
    from tunesmith.transform.data import load_pairs

    rep = load_pairs(pair_dir, SR, quiet=True)
    assert sorted(p.name for p in rep.pairs) == ["p0", "p1", "p2", "p3"]
    assert set(rep.skipped) == {"lonely", "rate", "late", "junk"}
    assert "no output file" in rep.skipped["lonely"]
    assert "sample rates differ" in rep.skipped["rate"]
    assert "--align" in rep.skipped["late"]
    assert "not a readable audio file" in rep.skipped["junk"]
    aligned = load_pairs(pair_dir, SR, align=True, quiet=True)
    late = next(p for p in aligned.pairs if p.name == "late")
    assert abs(late.lag - int(0.3 * SR)) <= 512


def test_crops_match_whole_file_stft(pair_dir):
    from tunesmith.transform.data import PairDataset, load_pairs
    from tunesmith.transform.invert import stft

    pairs = load_pairs(pair_dir, SR, quiet=True).pairs
    ds = PairDataset(pairs[:1], n_fft=512, hop_length=128, crop_frames=16, length=3, fixed=True)
    xw, yw, floor = ds[1]
    whole = stft(torch.from_numpy(pairs[0].x), 512, 128)
    crop = stft(xw, 512, 128, center=False)
    assert crop.shape == (257, 16)
    assert torch.allclose(crop, whole[:, 16:32], atol=1e-4)
    assert floor < 20 * np.log10(np.abs(whole).max().item())


# ----- models ------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["unet", "lstm", "gan"])
def test_module_shapes(arch):
    from tunesmith.transform.training import build_module, load_config

    cfg = load_config(None, {**TINY, "model": {**TINY["model"], "arch": arch}})
    m = build_module(cfg).eval()
    x_db = torch.randn(2, 257, 37) * 10 - 40
    out = m(x_db)
    assert out.shape == x_db.shape
    # A fresh model starts as the identity (zero-initialised output layer, residual prediction).
    assert torch.allclose(out, x_db, atol=1e-4)
    assert (m.discriminator is not None) == (arch == "gan")


def test_input_floor_makes_digital_zeros_and_faint_noise_alike():
    """With ``input_floor_db``, bins below the floor (codec zeros vs a faint noise floor) give the same output."""
    from tunesmith.transform.training import build_module, load_config

    torch.manual_seed(0)
    cfg = load_config(None, {**TINY, "model": {**TINY["model"], "input_floor_db": -80.0}})
    m = build_module(cfg).eval()
    for p in m.generator.parameters():  # leave the identity start so the network's output depends on its input
        p.data.add_(0.05 * torch.randn_like(p))
    x_db = torch.randn(1, 257, 37) * 10 - 40
    quiet = torch.rand(1, 257, 37) < 0.3
    zeros, faint = x_db.masked_fill(quiet, -100.0), x_db.masked_fill(quiet, -85.0)
    with torch.no_grad():
        assert torch.allclose(m(zeros), m(faint))
        assert not torch.allclose(m(zeros), m(x_db.masked_fill(quiet, -70.0)))


def test_training_smoke_and_checkpoint_roundtrip(tiny_ckpt, tmp_path):
    from tunesmith.transform.training import load_checkpoint

    payload = torch.load(tiny_ckpt, weights_only=True)
    assert payload["sr"] == SR and payload["config"]["features"]["n_fft"] == 512
    assert (tiny_ckpt.parent / "config.yaml").exists() and (tiny_ckpt.parent / "checkpoints" / "last.ckpt").exists()
    assert (tiny_ckpt.parent / "curves.png").exists()
    m = load_checkpoint(tiny_ckpt)
    assert not m.training
    payload["format_version"] = 999
    bad = tmp_path / "old.pt"
    torch.save(payload, bad)
    with pytest.raises(CheckpointError, match="not supported"):
        load_checkpoint(bad)
    (tmp_path / "junk.pt").write_bytes(b"nope")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "junk.pt")


@pytest.mark.parametrize("arch", ["lstm", "gan"])
def test_fast_dev_run_variants(pair_dir, tmp_path, arch):
    from tunesmith.transform.training import load_checkpoint, train

    # The loss goes through two differentiable Griffin-Lim steps here (the default recipe's path).
    path = train(pair_dir, TINY, out_dir=tmp_path, quiet=True, fast_dev_run=True, model={"arch": arch},
                 loss={"mrstft_gl_iters": 2}, optim={"schedule": "cosine"})
    m = load_checkpoint(path)
    assert m(torch.zeros(1, 257, 10) - 50).shape == (1, 257, 10)


# ----- conversion --------------------------------------------------------------------------------
def test_chunked_conversion_is_seamless(tiny_ckpt):
    from tunesmith.transform.conversion import Converter
    from tunesmith.transform.metrics import log_spectral_distance

    x = synthesize(melody(5, n=40), SR).samples  # ~15 s
    whole = Converter(tiny_ckpt, inversion="input-phase", chunk_s=1000.0)(x)
    chunked = Converter(tiny_ckpt, inversion="input-phase", chunk_s=2.0, context_s=0.5, crossfade_s=0.2)(x)
    assert whole.shape == chunked.shape == x.shape
    # U-Net receptive field lies within the context: chunking changes (almost) nothing.
    assert np.max(np.abs(whole - chunked)) < 1e-3 * max(1e-6, np.max(np.abs(whole)))
    gl_whole = Converter(tiny_ckpt, inversion="gl", n_iter=16, chunk_s=1000.0)(x)
    gl_chunk = Converter(tiny_ckpt, inversion="gl", n_iter=16, chunk_s=2.0, context_s=0.5, crossfade_s=0.2)(x)
    assert log_spectral_distance(gl_whole, gl_chunk, n_fft=512, hop_length=128) < 3.0
    # No clicks at chunk boundaries: the sample-to-sample jump there is like elsewhere.
    jumps = np.abs(np.diff(gl_chunk))
    bounds = [int(k * 2.0 * SR) for k in range(1, 7)]
    assert max(jumps[b - 64:b + 64].max() for b in bounds) <= 1.5 * jumps.max() + 1e-6
    assert max(jumps[b - 64:b + 64].max() for b in bounds) < 4 * np.percentile(jumps, 99.9) + 1e-6


def test_cli_train_and_convert(pair_dir, tiny_ckpt, tmp_path, capsys):
    from tunesmith.cli import main

    cfg = tmp_path / "tiny.yaml"
    import yaml

    cfg.write_text(yaml.safe_dump(TINY))
    run = tmp_path / "run"
    assert main(["train", "transform", "--data", str(pair_dir), "--config", str(cfg), "-o", str(run),
                 "--fast-dev-run"]) == 0
    assert (run / "transform.pt").exists()
    src = tmp_path / "in"
    src.mkdir()
    save(Audio(synthesize(melody(7), SR).samples, SR), src / "a.wav")
    (src / "broken.wav").write_bytes(b"RIFF0000WAVE")
    out = tmp_path / "out"
    code = main(["convert", str(src), "--checkpoint", str(tiny_ckpt), "-o", str(out), "--iters", "4", "-q"])
    assert code == 1  # one bad file, reported and skipped
    assert (out / "a.wav").exists() and (out / "a.png").exists()
    assert "broken.wav" in capsys.readouterr().err
    assert main(["convert", str(src / "a.wav"), "--checkpoint", str(tmp_path / "none.pt"), "-o", str(out)]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
    assert main(["train", "transform", "--data", str(tmp_path / "nowhere")]) == 1
    assert "no such pair folder" in capsys.readouterr().err


def test_default_checkpoint_converts_held_out_piano_toward_violin():
    """The shipped model moves test-split piano clips toward their violin renders (LSD below identity).

    ``data/pairs_test`` holds clips of test-split chorales, never used in training (same soundfont).
    """
    from tunesmith.audio import load
    from tunesmith.transform.conversion import Converter
    from tunesmith.transform.metrics import log_spectral_distance
    from tunesmith.transform.training import default_checkpoint

    from pathlib import Path

    pairs = Path(__file__).resolve().parents[1] / "data" / "pairs_test"
    names = sorted(p.name for p in (pairs / "input").glob("*.ogg"))
    assert default_checkpoint().is_file() and len(names) == 2
    conv = Converter(None, inversion="input-phase")
    for name in names:
        x = load(pairs / "input" / name, sr=22050).samples
        y = load(pairs / "output" / name, sr=22050).samples
        out = conv(x)
        assert out.shape == x.shape
        assert log_spectral_distance(y, out) < log_spectral_distance(y, x) - 2.0, name


@pytest.mark.parametrize("inversion", ["input-phase", "gl"])
def test_input_shorter_than_one_frame_converts(tiny_ckpt, inversion):
    from tunesmith.transform.conversion import Converter

    x = (0.3 * np.sin(np.arange(10))).astype(np.float32)  # 10 samples, far below n_fft
    y = Converter(tiny_ckpt, inversion=inversion, n_iter=4)(x)
    assert y.shape == x.shape and np.all(np.isfinite(y))


def test_time_budget_share_comes_from_lightnings_public_timer_api():
    """The cosine schedule's clock: spent / (spent + remaining) of a Timer, None without one."""
    import time
    import types

    from lightning.pytorch.callbacks import Timer

    from tunesmith.transform.training import build_module, load_config

    module = build_module(load_config(None, {"model": {"base_channels": 4, "depth": 2}}))
    assert module._time_fraction() is None                      # not attached to a Trainer
    timer = Timer(duration={"seconds": 10})
    timer.on_train_start(None, module)
    module.trainer = types.SimpleNamespace(callbacks=[timer])
    time.sleep(0.3)
    assert 0.02 < module._time_fraction() < 0.5
    module.trainer = types.SimpleNamespace(callbacks=[])
    assert module._time_fraction() is None                      # no time budget
