"""Tests of the spectral front end (tunesmith.features) against librosa 0.11, plus properties and the CLI.

Signals: a FluidSynth rendering of a Bach chorale melody from music21's corpus, white
noise and a logarithmic chirp, all at 22050 Hz and a few seconds long.
"""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

librosa = pytest.importorskip("librosa")

from tunesmith import features as F  # noqa: E402

SR = 22050
DB_TOL = 0.05  # dB, on the top 80 dB
CORR_MIN = 0.9999


@pytest.fixture(scope="module")
def melody() -> np.ndarray:
    from tunesmith.notes import music21_to_note_sequence
    from tunesmith.render import render

    import music21

    seq = music21_to_note_sequence(music21.corpus.parse("bach/bwv66.6"))
    audio = render(seq, sr=SR, program=40)  # violin
    y = audio.samples[: 6 * SR]
    assert np.abs(y).max() > 0.01
    return np.ascontiguousarray(y, dtype=np.float32)


@pytest.fixture(scope="module")
def signals(melody) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    noise = (0.1 * rng.standard_normal(3 * SR)).astype(np.float32)
    chirp = (0.5 * librosa.chirp(fmin=40, fmax=10000, sr=SR, duration=3)).astype(np.float32)
    return {"melody": melody, "noise": noise, "chirp": chirp}


SIGNALS = ("melody", "noise", "chirp")


def corr(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def run(module, y) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(y)).numpy()


def assert_db_close(ours: np.ndarray, ref_db: np.ndarray, top_db: float = 80.0, tol: float = DB_TOL) -> None:
    assert ours.shape == ref_db.shape
    keep = ref_db > ref_db.max() - top_db + 1e-3  # the top 80 dB (above the floor)
    assert keep.mean() > 0.05
    err = np.abs(ours - ref_db)[keep].max()
    assert err <= tol, f"max dB error {err:.4f} on the top {top_db} dB"


# ------------------------------------------------------------------ agreement with librosa


@pytest.mark.parametrize("name", SIGNALS)
def test_logmel_matches_librosa_within_005_db(signals, name):
    y = signals[name]
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR), top_db=80.0)
    assert_db_close(run(F.LogMelSpectrogram(SR), y), ref)


@pytest.mark.parametrize("name", SIGNALS)
def test_logstft_matches_librosa_within_005_db(signals, name):
    y = signals[name]
    ref = librosa.amplitude_to_db(np.abs(librosa.stft(y)), top_db=80.0)
    assert_db_close(run(F.LogSpectrogram(), y), ref)


@pytest.mark.parametrize("name", SIGNALS)
def test_pcen_and_mfcc_correlate_with_librosa(signals, name):
    y = signals[name]
    ref_pcen = librosa.pcen(librosa.feature.melspectrogram(y=y, sr=SR, power=1.0) * 2 ** 31, sr=SR)
    ours = run(F.PCEN(SR), y)
    assert ours.shape == ref_pcen.shape
    assert corr(ours, ref_pcen) >= CORR_MIN
    ref_mfcc = librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20)
    ours = run(F.MFCC(SR, n_mfcc=20), y)
    assert ours.shape == ref_mfcc.shape == (20, ref_mfcc.shape[1])
    assert corr(ours, ref_mfcc) >= CORR_MIN


def test_pcen_auto_precision_matches_float64(signals):
    y = np.concatenate([signals["chirp"][:SR], signals["melody"][:SR]])
    with torch.no_grad():
        auto = F.PCEN(SR)(torch.from_numpy(y)).numpy()
        exact = F.PCEN(SR, fft_dtype=torch.float64)(torch.from_numpy(y)).numpy()
        single = F.PCEN(SR, fft_dtype=None)(torch.from_numpy(y)).numpy()
    assert np.abs(auto - exact).max() < 1e-3 * np.abs(exact).max()
    assert np.abs(single - exact).max() > 10 * np.abs(auto - exact).max()  # float32 alone is visibly off


def test_stft_and_mel_magnitudes_match_librosa(signals):
    y = signals["melody"]
    S = np.abs(librosa.stft(y, n_fft=1024, hop_length=256))
    ours = run(F.Spectrogram(n_fft=1024, hop_length=256), y)
    assert ours.shape == S.shape
    assert np.abs(ours - S).max() <= 1e-4 * S.max()
    M = librosa.feature.melspectrogram(y=y, sr=SR, n_mels=64, fmin=50, fmax=8000)
    ours = run(F.MelSpectrogram(SR, n_mels=64, fmin=50, fmax=8000), y)
    assert np.abs(ours - M).max() <= 1e-4 * M.max()
    assert np.allclose(F.MelSpectrogram(SR, n_mels=64, fmin=50, fmax=8000).frequencies,
                       librosa.mel_frequencies(66, fmin=50, fmax=8000)[1:-1])


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax,htk", [(22050, 2048, 128, 0.0, None, False),
                                                          (16000, 1024, 64, 50.0, 7000.0, False),
                                                          (44100, 4096, 40, 20.0, None, True)])
def test_mel_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax, htk):
    ours = F.mel_filters(sr, n_fft, n_mels, fmin, fmax, htk)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1e-6 * ref.max()


@pytest.mark.parametrize("name", SIGNALS)
def test_cqt_agrees_with_librosa(signals, name):
    y = signals[name]
    ref = np.abs(librosa.cqt(y, sr=SR))
    ours = run(F.CQT(SR), y)
    assert ours.shape == ref.shape == (84, 1 + len(y) // 512)
    assert np.linalg.norm(ours - ref) / np.linalg.norm(ref) < 5e-3
    assert corr(ours, ref) >= 0.99999
    keep = ref > ref.max() * 1e-3  # top 60 dB
    err_db = np.abs(20 * np.log10(np.maximum(ours, 1e-12) / ref))[keep]
    assert np.percentile(err_db, 99) < 0.1
    assert np.allclose(F.CQT(SR).frequencies, librosa.cqt_frequencies(84, fmin=librosa.note_to_hz("C1")))


def test_descriptors_match_librosa(signals):
    y = signals["melody"]
    x = torch.from_numpy(y)
    with torch.no_grad():
        rms = F.RMS()(x).numpy()
        zcr = F.ZeroCrossingRate()(x).numpy()
        cent = F.SpectralCentroid(SR)(x).numpy()
        flux = F.SpectralFlux(SR)(x).numpy()
        ber = F.BandEnergyRatio(SR, split_hz=1500)(x).numpy()
        desc = F.Descriptors(SR, split_hz=1500)(x).numpy()
    assert np.allclose(rms, librosa.feature.rms(y=y), rtol=1e-4, atol=1e-6)
    assert np.allclose(zcr, librosa.feature.zero_crossing_rate(y), atol=1e-6)
    assert np.allclose(cent, librosa.feature.spectral_centroid(y=y, sr=SR), rtol=1e-3, atol=0.5)
    # librosa's onset strength is the same flux delayed by n_fft // (2 * hop) = 2 frames
    onset = librosa.onset.onset_strength(y=y, sr=SR)
    assert corr(flux[0, 1:-2], onset[3:]) > 0.999
    P = np.abs(librosa.stft(y)) ** 2
    split = np.searchsorted(librosa.fft_frequencies(sr=SR), 1500)
    expected = P[:split].sum(0) / P[split:].sum(0)
    assert np.allclose(ber[0], expected, rtol=1e-3)
    assert desc.shape == (5, rms.shape[1])
    assert np.allclose(desc, np.concatenate([rms, zcr, cent, flux, ber]), rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------ properties


@pytest.mark.parametrize("kind", F.KINDS)
def test_batch_equals_stacked_singles_and_shapes(signals, kind):
    a, b = signals["noise"][: 2 * SR], signals["chirp"][: 2 * SR]
    module = F.frontend(kind, SR)
    with torch.no_grad():
        batch = module(torch.from_numpy(np.stack([a, b])))
        single = torch.stack([module(torch.from_numpy(a)), module(torch.from_numpy(b))])
        nested = module(torch.from_numpy(np.stack([a, b]))[None])
    n_frames = 1 + 2 * SR // module.hop_length
    assert batch.shape[0] == 2 and batch.shape[-1] == n_frames
    assert batch.dtype == torch.float32
    assert torch.allclose(batch, single, rtol=1e-5, atol=1e-4)
    assert nested.shape == (1, *batch.shape)
    if kind not in ("mfcc", "descriptors"):
        assert len(module.frequencies) == batch.shape[1]


@pytest.mark.parametrize("kind", ["stft", "logstft", "pcen", "cqt"])
def test_thread_count_does_not_change_results(signals, kind):
    x = torch.from_numpy(np.stack([signals["noise"][:SR], signals["chirp"][:SR], signals["melody"][:SR]]))
    module = F.frontend(kind, SR)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with torch.no_grad():
            one = module(x)
        torch.set_num_threads(3)
        with torch.inference_mode():
            three = module(x)
        assert torch.get_num_threads() == 3  # the caller's setting is restored
    finally:
        torch.set_num_threads(before)
    assert torch.allclose(one, three, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["stft", "logstft", "logmel", "pcen", "mfcc", "cqt"])
def test_gradients_flow_and_match_the_fast_path(signals, kind):
    y = signals["melody"][: SR]
    module = F.frontend(kind, SR)
    x = torch.from_numpy(y).clone().requires_grad_(True)
    out = module(x)  # graph path
    with torch.no_grad():
        fast = module(x)  # blocked CPU path
    assert torch.allclose(out.detach(), fast, rtol=1e-4, atol=1e-3)
    out.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_float64_and_module_buffers(signals):
    y = signals["chirp"]
    module = F.LogMelSpectrogram(SR)
    assert {"window", "mel_basis"} <= set(module.state_dict())
    m64 = F.LogMelSpectrogram(SR).double()
    with torch.no_grad():
        out32 = module(torch.from_numpy(y))
        out64 = m64(torch.from_numpy(y.astype(np.float64)))
    assert out64.dtype == torch.float64
    assert torch.allclose(out32.double(), out64, atol=0.02)
    cqt = F.CQT(SR).double()
    with torch.no_grad():
        assert cqt(torch.from_numpy(y.astype(np.float64))).dtype == torch.float64


def test_device_moves_buffers():
    module = F.MFCC(SR).to("meta")
    assert module.mel_basis.device.type == "meta" and module.dct.device.type == "meta"


def test_power_to_db_functional():
    S = torch.tensor([[1.0, 1e-3, 1e-12], [10.0, 0.0, 1.0]])
    ref = librosa.power_to_db(S.numpy(), top_db=None)
    assert np.allclose(F.power_to_db(S, top_db=None).numpy(), ref)
    assert np.allclose(F.power_to_db(S, top_db=40).numpy(), librosa.power_to_db(S.numpy(), top_db=40))
    A = S.sqrt()
    assert np.allclose(F.amplitude_to_db(A, ref=2.0).numpy(), librosa.amplitude_to_db(A.numpy(), ref=2.0), atol=1e-4)
    # per-example floor: a quiet example is not floored by a loud one in the same batch
    batch = torch.stack([S, S * 1e-6])
    assert torch.allclose(F.power_to_db(batch)[1], F.power_to_db(S * 1e-6))


def test_first_order_smooth_equals_lfilter():
    import scipy.signal

    rng = np.random.default_rng(3)
    S = rng.random((3, 4, 101))
    b = F.pcen_smoothing_coef(SR, 512, 0.4)
    zi = scipy.signal.lfilter_zi([b], [1, b - 1])
    ref, _ = scipy.signal.lfilter([b], [1, b - 1], S, zi=np.broadcast_to(zi, (3, 4, 1)), axis=-1)
    assert np.allclose(F.first_order_smooth(torch.from_numpy(S), b).numpy(), ref, atol=1e-12)


def test_bandpass_passes_the_band_and_stops_the_rest():
    t = np.arange(2 * SR) / SR
    low, mid, high = (np.sin(2 * np.pi * f * t).astype(np.float32) for f in (100.0, 1000.0, 6000.0))
    bp = F.BandPass(SR, 500.0, 2000.0)
    with torch.no_grad():
        out = {name: bp(torch.from_numpy(sig)).numpy() for name, sig in (("low", low), ("mid", mid), ("high", high))}
    core = slice(SR // 4, -SR // 4)
    assert np.allclose(out["mid"][core], mid[core], atol=1e-3)  # unity gain, zero phase
    for name in ("low", "high"):
        assert np.abs(out[name][core]).max() < 1e-3  # more than 60 dB down


def test_normalizer_fits_saves_and_restores(signals):
    module = F.LogMelSpectrogram(SR, n_mels=32)
    with torch.no_grad():
        data = [module(torch.from_numpy(np.stack([signals[n][: SR]]))) for n in SIGNALS]
    norm = F.Normalizer(32).fit(data)
    z = norm(torch.cat(data, dim=0))
    flat = z.transpose(0, 1).reshape(32, -1)
    assert torch.allclose(flat.mean(1), torch.zeros(32), atol=1e-3)
    assert torch.allclose(flat.std(1, unbiased=False), torch.ones(32), atol=1e-2)
    assert torch.allclose(norm.inverse(z), torch.cat(data, dim=0), atol=1e-3)
    # saved with a model's state_dict, and as plain values
    model = torch.nn.Sequential(module, norm)
    fresh = torch.nn.Sequential(F.LogMelSpectrogram(SR, n_mels=32), F.Normalizer(32))
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh[1].mean, norm.mean) and fresh[1].fitted
    # fitting in two sessions (state saved and loaded in between) equals one fit
    half = F.Normalizer(32).fit(data[:1])
    resumed = F.Normalizer(32)
    resumed.load_state_dict(half.state_dict())
    resumed.partial_fit(data[1]).partial_fit(data[2])
    assert torch.allclose(resumed.mean, norm.mean, atol=1e-4) and torch.allclose(resumed.std, norm.std, atol=1e-4)
    again = F.Normalizer.from_dict(norm.to_dict())
    assert torch.allclose(again.std, norm.std)
    with pytest.raises(ValueError):
        F.Normalizer(32).partial_fit(torch.zeros(2, 31, 5))


def test_frontend_factory_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown front end"):
        F.frontend("wavelet", SR)


# ------------------------------------------------------------------ long files


def test_file_features_stream_equals_in_memory(tmp_path, melody):
    from tunesmith.audio import Audio, windows

    path = tmp_path / "m.flac"
    sf.write(path, melody, SR)
    feats = F.features_from_file(path, "logmel", sr=SR, window_s=2.5, block_s=1.0, batch_size=3)
    decoded, _ = sf.read(path, dtype="float32")  # FLAC stores 16-bit samples
    w = windows(Audio(decoded, SR), 2.5)
    with torch.no_grad():
        expected = F.LogMelSpectrogram(SR)(torch.from_numpy(w.samples)).numpy()
    assert feats.shape == expected.shape == (3, 128, 1 + int(2.5 * SR) // 512)
    assert np.allclose(feats, expected, atol=1e-3)
    out = tmp_path / "m.npy"
    info: dict = {}
    shape = F.save_file_features(path, out, "mfcc", sr=16000, window_s=4.0, block_s=1.5, info=info)
    arr = np.load(out)
    assert arr.shape == shape == (2, 20, 1 + 64000 // 512) and arr.dtype == np.float32
    assert info["n_windows"] == 2 and 0 < info["n_valid"] < 64000
    assert np.isfinite(arr).all()


# ------------------------------------------------------------------ CLI


def test_cli_features_folder_with_bad_files(tmp_path, melody, capsys):
    from tunesmith.cli import main

    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    sf.write(src / "good.wav", melody[: 3 * SR], SR)
    sf.write(src / "sub" / "good2.flac", melody[SR: 4 * SR], SR)
    (src / "empty.wav").write_bytes(b"")
    (src / "text.wav").write_text("this is not audio\n")
    sf.write(src / "zero.wav", np.zeros(0, dtype=np.float32), SR)
    sf.write(src / "silent.wav", np.zeros(SR, dtype=np.float32), SR)
    full = (src / "sub" / "good2.flac").read_bytes()
    (src / "truncated.flac").write_bytes(full[: len(full) // 2])
    out = tmp_path / "out"
    code = main(["features", str(src), "--kind", "mel", "--window", "2", "-o", str(out), "--max-images", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    for bad in ("empty.wav", "text.wav", "zero.wav", "silent.wav"):
        lines = [ln for ln in err.splitlines() if bad in ln]
        assert len(lines) == 1, (bad, err)
    good = np.load(out / "good.mel.npy")
    assert good.shape == (2, 128, 1 + 2 * SR // 512) and good.dtype == np.float32
    assert np.load(out / "sub" / "good2.mel.npy").shape[0] == 2
    assert (out / "good.mel.w000.png").stat().st_size > 1000
    assert not (out / "good.mel.w001.png").exists()  # --max-images 1
    import json

    meta = json.loads((out / "good.mel.json").read_text())
    assert meta["shape"] == list(good.shape) and len(meta["frequencies_hz"]) == 128
    for bad in ("empty", "text", "zero", "silent"):
        assert not list(out.glob(f"{bad}.*"))
    assert not list(out.rglob("*.part*"))  # no temporary files left behind


def test_cli_missing_input_is_one_line_error(tmp_path, capsys):
    from tunesmith.cli import main

    code = main(["features", str(tmp_path / "nope.wav"), "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "nope.wav" in err[0]
