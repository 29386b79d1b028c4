"""tunesmith.audio: loading, saving, resampling, windows, streaming, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tunesmith.audio import Audio, check_not_silent, info, load, resample, save, stream, windows
from tunesmith.errors import AudioError
from tunesmith.io import atomic_path


def _dominant_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spec) * sr / len(y))


@pytest.mark.parametrize("ext,tol", [(".wav", 1e-4), (".flac", 1e-4), (".ogg", None), (".mp3", None)])
def test_save_load_round_trip(tmp_path, sine, ext, tol):
    path = save(sine, tmp_path / f"a{ext}")
    back = load(path)
    assert back.sr == sine.sr
    if tol is not None:
        assert len(back) == len(sine)
        np.testing.assert_allclose(back.samples, sine.samples, atol=tol)
    else:  # lossy codecs: same pitch, same length within a frame of padding
        assert abs(len(back) - len(sine)) < 3000
        assert abs(_dominant_hz(back.samples, back.sr) - 440) < 3


def test_load_resamples_and_mixes_to_mono(tmp_path):
    sr = 44100
    t = np.arange(sr) / sr
    left, right = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 3000 * t)
    sf.write(tmp_path / "st.wav", np.stack([left, right], 1).astype(np.float32), sr, subtype="FLOAT")
    a = load(tmp_path / "st.wav", sr=16000)
    assert a.sr == 16000 and len(a) == 16000 and a.samples.ndim == 1
    spec = np.abs(np.fft.rfft(a.samples))
    assert spec[1000] > 0.4 * spec.max() and spec[3000] > 0.4 * spec.max()  # both channels present


def test_resample_keeps_frequency(sine):
    y = resample(sine.samples, sine.sr, 16000)
    assert len(y) == 16000
    assert abs(_dominant_hz(y, 16000) - 440) < 2


def test_info_and_offset_duration(tmp_path, sine):
    save(sine, tmp_path / "a.wav")
    meta = info(tmp_path / "a.wav")
    assert meta["sr"] == 22050 and meta["frames"] == 22050 and meta["channels"] == 1
    part = load(tmp_path / "a.wav", offset=0.25, duration=0.5)
    assert len(part) == 11025
    np.testing.assert_allclose(part.samples, sine.samples[5512:5512 + 11025], atol=1e-4)


@pytest.mark.parametrize("make,needle", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("this is not audio\n" * 20), "not a readable audio file"),
])
def test_bad_files_raise_one_line_errors(tmp_path, make, needle):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError) as exc:
        load(path)
    msg = str(exc.value)
    assert needle in msg and str(path) in msg and "\n" not in msg


def test_truncated_flac_and_zero_length(tmp_path, sine):
    full = save(Audio(np.tile(sine.samples, 5), sine.sr), tmp_path / "full.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(full[: len(full) // 3])
    with pytest.raises(AudioError, match="truncated") as exc:
        load(tmp_path / "cut.flac")
    assert "cut.flac" in str(exc.value)
    sf.write(tmp_path / "zero.wav", np.zeros(0, dtype=np.float32), 22050)
    with pytest.raises(AudioError, match="zero length"):
        load(tmp_path / "zero.wav")


def test_silence_detected(sine):
    with pytest.raises(AudioError, match="silent"):
        check_not_silent(Audio(np.zeros(1000, np.float32), 22050), "quiet.wav")
    assert check_not_silent(sine) is sine


def test_windows_shapes_and_padding():
    a = Audio(np.arange(25, dtype=np.float32), 1)
    w = windows(a, window_s=10)
    assert w.samples.shape == (3, 10)
    assert list(w.starts) == [0, 10, 20] and list(w.lengths) == [10, 10, 5]
    assert list(w.padded) == [False, False, True]
    np.testing.assert_array_equal(w.samples[2], [20, 21, 22, 23, 24, 0, 0, 0, 0, 0])
    hop = windows(a, window_s=10, hop_s=5)
    assert list(hop.starts) == [0, 5, 10, 15]  # 15 + 10 reaches the end
    assert len(windows(a, window_s=10, pad_last=False)) == 2
    short = windows(Audio(np.ones(3, np.float32), 1), window_s=10)
    assert short.samples.shape == (1, 10) and short.padded[0]


def test_stream_blocks_equal_whole_file(tmp_path):
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(44100 * 3)).astype(np.float32)
    sf.write(tmp_path / "n.wav", y, 44100, subtype="FLOAT")
    blocks = list(stream(tmp_path / "n.wav", block_s=0.7))
    assert len(blocks) == 5
    np.testing.assert_array_equal(np.concatenate([b.samples for b in blocks]), y)
    res = np.concatenate([b.samples for b in stream(tmp_path / "n.wav", block_s=0.7, sr=22050)])
    whole = load(tmp_path / "n.wav", sr=22050).samples
    assert abs(len(res) - len(whole)) <= 2
    n = min(len(res), len(whole)) - 200
    assert np.max(np.abs(res[200:n] - whole[200:n])) < 1e-3  # no seams at block edges


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_unsupported_sample_format_is_one_line(tmp_path):
    import struct

    data = b"\x00" * 1000
    fmt = struct.pack("<HHIIHH", 0x0055, 1, 22050, 44100, 2, 16)  # WAVE_FORMAT_MPEGLAYER3 in a RIFF
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    (tmp_path / "odd.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(AudioError, match="not a readable audio file") as exc:
        load(tmp_path / "odd.wav")
    assert "odd.wav" in str(exc.value) and "\n" not in str(exc.value)


def test_outputs_respect_umask(tmp_path, sine):
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = save(sine, tmp_path / "perm.wav")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
