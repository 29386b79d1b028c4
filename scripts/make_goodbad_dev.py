#!/usr/bin/env python
"""Good-vs-bad sets from REAL recordings, spoiled by a randomised family of degradations.

Not the benchmark's generator (``make_classify_data.py``: synthetic renders, hum at exactly 50/60 Hz,
digital zeros, hard flat tops). Here the clean side is real audio from ``../shared/data``:

* LibriSpeech read speech (one utterance per talker; several talkers' utterances joined with short
  cross-fades and cut to 10 s),
* FSDD spoken digits strung together (8 kHz originals: no content above 4 kHz even when clean),
* solo violin (bach_violin) cut into non-overlapping 10-s clips,
* solo singing (vocadito, final split only).

Each clip is either good or bad (never both: the two classes do not come in pairs), scaled to a random
loudness (RMS -32 to -16 dBFS, peaks below full scale). A bad clip gets one degradation drawn from a
family, with random parameters, written to ``degradations.csv`` (``file,label,source,degradation,params``).

Development kinds (``--split dev``; several seeds make several dev sets):
``soft_clip`` (tanh or arctan, 10-24 dB drive, no flat tops), ``hard_clip``, ``reverb`` (short 0.4-0.9 s and long 0.9-3 s
RT60, direct-to-reverberant -8 to 0 dB), ``noise`` (white or pink, 0-15 dB SNR), ``lowpass`` (2.5-5 kHz), ``highpass`` (400-1000 Hz, order 4-8),
``wow`` (0.3-2 Hz, 0.5-2 %), ``fade_dropout`` (20-45 dB down with fades, never digital zero),
``gap`` (digital zeros, 20-300 ms); dropouts, gaps, skips and level jumps start on sounding audio (within
20 dB of the clip's loudest 50 ms), never in a pause, ``buzz`` (a tone at 40-400 Hz with 1-8 harmonics, 5-20 dB below the
signal), ``gain_jump`` (abrupt level steps of 8-20 dB).

Held out of development, only in ``--split final`` (the benchmark's set), next to all the above:
``tube`` (asymmetric saturation with a DC-shifted curve), ``telephone`` (300-3400 Hz band with a
gentle slope), ``codec`` (a coarse STFT re-quantisation: bins under a per-frame threshold removed, a
4-7 kHz cut), ``flutter`` (6-15 Hz), ``splice`` (audio skips: a segment removed, no silence),
``brown_noise`` / ``babble`` (brown noise or a mix of 4-6 other talkers, 0-15 dB SNR) and ``buzz_high``
(a tone at 400-1200 Hz with harmonics).

Sources are split as well: ``dev`` uses three quarters of the LibriSpeech talkers, four FSDD talkers
and one violinist (John Garner); ``final`` the other quarter of the talkers, the other two FSDD talkers,
the other violinist (Minji Kim) and vocadito. So the final set shares no talker, player or singer
with any development set.

``heldout`` is a development set of material the shipped fault detector never heard: only its
validation sources (:func:`detector_validation`: one in ten of the development readers, the FSDD
talker nicolas, the last quarter of John Garner's BWV 1002 mov. 8, cut into 10-s clips every 2.5 s
because that quarter is only 35 s long), development kinds only. The other development sets share
talkers and the violinist with the detector's training material; this one judges how a recipe does on
unheard sources while keeping the final set out of every choice.

Usage::

    python scripts/make_goodbad_dev.py --split dev --seed 1 [--n 160]   # bench_data/goodbad_dev1
    python scripts/make_goodbad_dev.py --split final                    # bench_data/goodbad_real (benchmark)
    python scripts/make_goodbad_dev.py --split dev --seed 4 --rooms     # bench_data/goodbad_dev4: every clip in
                                                                        # an ordinary room (meeting-like takes)
    python scripts/make_goodbad_dev.py --split heldout --seed 5 --n 200 # bench_data/goodbad_dev5: sources the
                                                                        # fault detector never heard
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import numpy as np

SR = 16000
CLIP_S = 10.0
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LEVEL_DB = (-32.0, -16.0)    # clip RMS range, dBFS
MAX_PEAK = 0.95
FSDD_DEV_TALKERS = ("george", "jackson", "lucas", "nicolas")
FSDD_FINAL_TALKERS = ("theo", "yweweler")
VIOLIN_DEV = ("john-garner",)
SOURCE_SHARES = {"librispeech": 0.6, "violin": 0.22, "fsdd": 0.13, "vocadito": 0.05}

DEV_KINDS = ("soft_clip", "hard_clip", "reverb", "noise", "lowpass", "highpass", "wow", "fade_dropout", "gap",
             "buzz", "gain_jump")
HELD_OUT_KINDS = ("tube", "telephone", "codec", "flutter", "splice", "brown_noise", "babble", "buzz_high")


# ---------------------------------------------------------------- clean material
def _load(path: Path) -> np.ndarray:
    from tunesmith.audio import load

    return load(path, sr=SR).samples.astype(np.float64)


def _join(parts: list[np.ndarray], fade_s: float = 0.02) -> np.ndarray:
    """Concatenate with linear cross-fades of ``fade_s`` (no inserted silence, no clicks)."""
    n = int(fade_s * SR)
    out = parts[0]
    ramp = np.linspace(0.0, 1.0, n)
    for p in parts[1:]:
        if len(out) < n or len(p) < n:
            out = np.concatenate([out, p])
            continue
        out = np.concatenate([out[:-n], out[-n:] * (1 - ramp) + p[:n] * ramp, p[n:]])
    return out


def _strung(pool: list[Path], rng, cache: dict) -> np.ndarray:
    """Random files of ``pool`` joined until 10 s, then cut at a random start."""
    need = int(CLIP_S * SR)
    parts, total = [], 0
    while total < need + SR:
        f = pool[int(rng.integers(len(pool)))]
        if f not in cache:
            cache[f] = _load(f)
        y = cache[f]
        parts.append(y / (np.sqrt(np.mean(y ** 2)) + 1e-9))
        total += len(y)
    y = _join(parts)
    start = int(rng.integers(0, len(y) - need + 1))
    return y[start:start + need]


#: the detector's validation share of the development violin: this last fraction of mov. 8
DETECTOR_VAL_VIOLIN = ("john-garner_bwv1002_mov8.mp3", 0.75)
DETECTOR_VAL_FSDD = ("nicolas",)
#: how a split's music files are cut into clips (music_clips keywords; default: whole files, no overlap):
#: the held-out violin is the last quarter of one movement, 35 s, so its clips start every 2.5 s
CLIP_CUT = {"heldout": {"from_fraction": DETECTOR_VAL_VIOLIN[1], "hop_s": 2.5}}


def detector_validation() -> dict[str, list[Path]]:
    """The development sources that ``scripts/train_default_quality.py`` keeps out of the detector's
    training (its validation pool): every tenth development reader, FSDD nicolas, and (as a file) the violin
    recording whose last quarter is held out."""
    dev = clean_sources("dev")
    return {"librispeech": dev["librispeech"][::10],
            "fsdd": [f for f in dev["fsdd"] if f.stem.split("_")[1] in DETECTOR_VAL_FSDD],
            "violin": [DATA / "melody" / "bach_violin" / DETECTOR_VAL_VIOLIN[0]], "vocadito": []}


def clean_sources(split: str) -> dict[str, list]:
    """Per source kind: the files (speech) or (file, start) clip positions (music) of ``split``."""
    if split == "heldout":
        return detector_validation()
    libri = sorted((DATA / "speech" / "librispeech").glob("*.flac"))
    libri = [f for i, f in enumerate(libri) if (i % 4 == 0) == (split == "final")]
    talkers = FSDD_FINAL_TALKERS if split == "final" else FSDD_DEV_TALKERS
    fsdd = sorted(f for f in (DATA / "speech" / "fsdd" / "recordings").glob("*.wav")
                  if f.stem.split("_")[1] in talkers)
    violin = [f for f in sorted((DATA / "melody" / "bach_violin").iterdir()) if f.suffix in (".mp3", ".opus")
              and (f.name.startswith(VIOLIN_DEV) == (split == "dev"))]
    vocadito = [DATA / "melody" / "vocadito" / "vocadito_1.wav"] if split == "final" else []
    return {"librispeech": libri, "fsdd": fsdd, "violin": violin, "vocadito": vocadito}


def music_clips(files: list[Path], from_fraction: float = 0.0, hop_s: float = CLIP_S) -> list[np.ndarray]:
    """10-s clips of every file every ``hop_s`` (non-overlapping by default; the last partial one dropped),
    from ``from_fraction`` of its length on."""
    out = []
    n, hop = int(CLIP_S * SR), int(hop_s * SR)
    for f in files:
        y = _load(f)
        y = y[int(len(y) * from_fraction):]
        out += [y[i:i + n] for i in range(0, len(y) - n + 1, hop)]
    return out


def set_level(y: np.ndarray, rng) -> np.ndarray:
    """Scale to a random RMS in ``LEVEL_DB``, then down if a peak would pass ``MAX_PEAK``."""
    rms = np.sqrt(np.mean(y ** 2)) + 1e-12
    y = y * 10 ** (rng.uniform(*LEVEL_DB) / 20) / rms
    peak = np.max(np.abs(y))
    return y * (MAX_PEAK / peak) if peak > MAX_PEAK else y


# ---------------------------------------------------------------- degradations (y has RMS ~ 1 on input)
def _rms(y):
    return float(np.sqrt(np.mean(y ** 2)) + 1e-12)


def _coloured_noise(n: int, exponent: float, rng) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1 / f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    x = np.fft.irfft(spec / f ** (exponent / 2), n)
    return x / _rms(x)


def _at_snr(y, noise, snr_db):
    return y + noise * _rms(y) / 10 ** (snr_db / 20)


def soft_clip(y, rng):
    drive = rng.uniform(10, 24)  # dB of pre-gain into the curve
    curve = str(rng.choice(["tanh", "arctan"]))
    g = 10 ** (drive / 20) / np.max(np.abs(y))
    z = np.tanh(g * y) if curve == "tanh" else np.arctan(g * y)
    return z, {"curve": curve, "drive_db": round(drive, 1)}


def tube(y, rng):
    drive = rng.uniform(6, 20)
    bias = rng.uniform(0.2, 0.6)
    g = 10 ** (drive / 20) / np.max(np.abs(y))
    z = np.tanh(g * y + bias) - np.tanh(bias)
    return z - z.mean(), {"drive_db": round(drive, 1), "bias": round(bias, 2)}


def hard_clip(y, rng):
    share = rng.uniform(0.1, 0.45)  # clip level as a share of the peak
    level = share * np.max(np.abs(y))
    return np.clip(y, -level, level), {"level_of_peak": round(share, 2)}


def _rir(rt60: float, drr_db: float, rng) -> np.ndarray:
    n = int(min(rt60 * 1.2, 3.5) * SR)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * 10 ** (-3 * t / rt60)   # -60 dB at rt60
    tail[: int(0.004 * SR)] = 0.0
    tail *= 10 ** (-drr_db / 20) / np.sqrt(np.sum(tail ** 2))
    tail[0] = 1.0
    return tail


def reverb(y, rng):
    from scipy.signal import fftconvolve

    long = rng.random() < 0.5
    rt60 = rng.uniform(0.9, 3.0) if long else rng.uniform(0.4, 0.9)
    drr = rng.uniform(-8, 0)
    z = fftconvolve(y, _rir(rt60, drr, rng))[: len(y)]
    return z, {"rt60_s": round(rt60, 2), "drr_db": round(drr, 1)}


def noise(y, rng):
    colour = str(rng.choice(["white", "pink"]))
    snr = rng.uniform(0, 15)
    return _at_snr(y, _coloured_noise(len(y), 0.0 if colour == "white" else 1.0, rng), snr), \
        {"colour": colour, "snr_db": round(snr, 1)}


def brown_noise(y, rng):
    snr = rng.uniform(0, 15)
    return _at_snr(y, _coloured_noise(len(y), 2.0, rng), snr), {"snr_db": round(snr, 1)}


def make_babble(talkers: list[Path]):
    def babble(y, rng):
        cache: dict = {}
        k = int(rng.integers(4, 7))
        mix = sum(_strung(talkers, rng, cache)[: len(y)] for _ in range(k))
        snr = rng.uniform(0, 15)
        return _at_snr(y, mix / _rms(mix), snr), {"talkers": k, "snr_db": round(snr, 1)}
    return babble


def _butter(y, kind, freqs, order):
    from scipy.signal import butter, sosfiltfilt

    return sosfiltfilt(butter(order, freqs, btype=kind, fs=SR, output="sos"), y)


def lowpass(y, rng, lo=2500.0):
    fc = rng.uniform(lo, 5000)
    order = int(rng.integers(4, 9))
    return _butter(y, "lowpass", fc, order), {"cutoff_hz": round(fc), "order": order}


def highpass(y, rng):
    fc = rng.uniform(400, 1000)
    order = int(rng.integers(4, 9))
    return _butter(y, "highpass", fc, order), {"cutoff_hz": round(fc), "order": order}


def telephone(y, rng):
    lo, hi = rng.uniform(250, 400), rng.uniform(3000, 3600)
    return _butter(y, "bandpass", [lo, hi], 2), {"band_hz": f"{lo:.0f}-{hi:.0f}"}


def _warp(y, rate_hz, depth):
    """Read ``y`` at a time-varying rate ``1 + depth sin(2 pi rate t)`` (pitch wobble)."""
    t = np.arange(len(y)) / SR
    phase = np.random.default_rng(int(rate_hz * 1000)).uniform(0, 2 * np.pi)
    pos = t + depth / (2 * np.pi * rate_hz) * (1 - np.cos(2 * np.pi * rate_hz * t + phase))
    return np.interp(np.clip(pos * SR, 0, len(y) - 1), np.arange(len(y)), y)


def wow(y, rng):
    rate, depth = rng.uniform(0.3, 2.0), rng.uniform(0.005, 0.02)
    return _warp(y, rate, depth), {"rate_hz": round(rate, 2), "depth": round(depth, 4)}


def flutter(y, rng):
    rate, depth = rng.uniform(6, 15), rng.uniform(0.003, 0.008)
    return _warp(y, rate, depth), {"rate_hz": round(rate, 2), "depth": round(depth, 4)}


def _segments(y, count, lo_s, hi_s, rng, active_db=-20.0):
    """``count`` (start, length) spans of ``lo_s``-``hi_s`` seconds, each starting where the signal is
    within ``active_db`` of its loudest 50-ms block (damage in a pause would be inaudible)."""
    block = int(0.05 * SR)
    n_blocks = len(y) // block
    level = 10 * np.log10(np.mean(y[: n_blocks * block].reshape(n_blocks, block) ** 2, axis=1) + 1e-12)
    out = []
    for _ in range(count):
        length = int(rng.uniform(lo_s, hi_s) * SR)
        ok = [b * block for b in np.nonzero(level >= level.max() + active_db)[0]
              if int(0.3 * SR) <= b * block < len(y) - length - int(0.3 * SR)]
        start = int(rng.choice(ok)) if ok else int(rng.integers(int(0.3 * SR), len(y) - length - int(0.3 * SR)))
        out.append((start, length))
    return out


def fade_dropout(y, rng):
    gain = np.ones(len(y))
    count = int(rng.integers(1, 5))
    depth = rng.uniform(20, 45)
    for start, length in _segments(y, count, 0.08, 0.6, rng):
        fade = int(rng.uniform(0.005, 0.05) * SR)
        env = np.full(length + 2 * fade, 10 ** (-depth / 20))
        env[:fade] = np.linspace(1, env[fade], fade)
        env[-fade:] = np.linspace(env[fade], 1, fade)
        s = max(0, start - fade)
        gain[s:s + len(env)] = np.minimum(gain[s:s + len(env)], env[: len(gain) - s])
    return y * gain, {"count": count, "depth_db": round(depth, 1)}


def gap(y, rng):
    y = y.copy()
    count = int(rng.integers(1, 6))
    for start, length in _segments(y, count, 0.02, 0.3, rng):
        y[start:start + length] = 0.0
    return y, {"count": count}


def splice(y, rng):
    count = int(rng.integers(2, 6))
    keep = np.ones(len(y), bool)
    for start, length in _segments(y, count, 0.05, 0.4, rng):
        keep[start:start + length] = False
    z = y[keep]
    return np.concatenate([z, z[: len(y) - len(z)]]), {"count": count}


def _tone(n, f0, harmonics, rng):
    t = np.arange(n) / SR
    tone = sum(rng.uniform(0.3, 1.0) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi))
               for k in range(1, harmonics + 1) if f0 * k < SR / 2 - 200)
    return tone / _rms(tone)


def buzz(y, rng, f_range=(40.0, 400.0)):
    f0 = rng.uniform(*f_range)
    harmonics = int(rng.integers(1, 9))
    snr = rng.uniform(5, 20)
    return _at_snr(y, _tone(len(y), f0, harmonics, rng), snr), \
        {"f0_hz": round(f0, 1), "harmonics": harmonics, "snr_db": round(snr, 1)}


def buzz_high(y, rng):
    return buzz(y, rng, (400.0, 1200.0))


def gain_jump(y, rng):
    gain = np.ones(len(y))
    count = int(rng.integers(1, 4))
    for start, length in _segments(y, count, 0.5, 3.0, rng):
        gain[start:start + length] = 10 ** (rng.choice([-1, 1]) * rng.uniform(8, 20) / 20)
    return y * gain, {"count": count}


def codec(y, rng):
    from scipy.signal import istft, stft

    threshold_db = rng.uniform(18, 30)     # bins this far below the frame's strongest are removed
    cut = rng.uniform(4000, 7000)
    _, _, Z = stft(y, SR, nperseg=512)
    mag = np.abs(Z)
    keep = mag >= mag.max(axis=0, keepdims=True) * 10 ** (-threshold_db / 20)
    keep[np.fft.rfftfreq(512, 1 / SR) > cut] = False
    step = rng.uniform(0.1, 0.3)  # coarse magnitude quantisation (log steps)
    q = np.exp(np.round(np.log(mag + 1e-9) / step) * step)
    _, z = istft(np.where(keep, q * np.exp(1j * np.angle(Z)), 0), SR, nperseg=512)
    return z[: len(y)], {"threshold_db": round(threshold_db, 1), "cutoff_hz": round(cut), "log_step": round(step, 2)}


DEGRADATIONS = {"soft_clip": soft_clip, "hard_clip": hard_clip, "reverb": reverb, "noise": noise,
                "lowpass": lowpass, "highpass": highpass, "wow": wow, "fade_dropout": fade_dropout, "gap": gap,
                "buzz": buzz, "gain_jump": gain_jump, "tube": tube, "telephone": telephone, "codec": codec,
                "flutter": flutter, "splice": splice, "brown_noise": brown_noise, "buzz_high": buzz_high}


# ---------------------------------------------------------------- the set
def room_tone(y, rng):
    """An ordinary room around a clip: RT60 0.25-0.7 s with the direct sound 1-10 dB ahead, and a steady
    pink-to-brown background 22-40 dB down. Not a fault: ``--rooms`` sets put every clip, good or bad, in one."""
    from scipy.signal import fftconvolve

    z = fftconvolve(y, _rir(rng.uniform(0.25, 0.7), rng.uniform(1.0, 10.0), rng))[: len(y)]
    return _at_snr(z, _coloured_noise(len(z), rng.uniform(1.0, 2.0), rng), rng.uniform(22.0, 40.0))


def make_set(out: Path, split: str, seed: int, n: int, rooms: bool = False) -> int:
    """``n`` clips (half good, half bad) into ``out/{good,bad}`` and ``out/degradations.csv``; with ``rooms``
    every clip is first put in an ordinary room (:func:`room_tone`)."""
    import soundfile as sf
    from tqdm import tqdm

    rng = np.random.default_rng([seed, 16, {"dev": 0, "final": 1, "heldout": 2}[split]])
    src = clean_sources(split)
    if not src["librispeech"]:
        raise SystemExit(f"make_goodbad_dev: no LibriSpeech files under {DATA}; the set needs ../shared/data")
    music = {k: music_clips(src[k], **CLIP_CUT.get(split, {})) for k in ("violin", "vocadito")}
    for clips in music.values():
        rng.shuffle(clips)
    kinds = DEV_KINDS + (HELD_OUT_KINDS if split == "final" else ())
    fns = dict(DEGRADATIONS, babble=make_babble(src["librispeech"]))
    shares = {k: v for k, v in SOURCE_SHARES.items() if src[k]}
    names, p = list(shares), np.array(list(shares.values()))
    labels = np.array(["good", "bad"] * (n // 2) + ["good"] * (n % 2))
    rng.shuffle(labels)
    bad_kinds = [kinds[i % len(kinds)] for i in range(int((labels == "bad").sum()))]
    rng.shuffle(bad_kinds)
    cache: dict = {}
    rows = []
    for i in tqdm(range(n), desc=f"goodbad {split} seed {seed}", file=sys.stderr):
        source = str(rng.choice(names, p=p / p.sum()))
        if source in music:
            if not music[source]:
                source = "librispeech"
            else:
                y = music[source].pop()
        if source in ("librispeech", "fsdd"):
            y = _strung(src[source], rng, cache)
        y = y / _rms(y)
        if rooms:  # an ordinary room first, good and bad alike (meeting-like takes that are still good)
            y = room_tone(y, rng)
        kind, params = "none", {}
        if labels[i] == "bad":
            kind = bad_kinds.pop()
            y, params = fns[kind](y, rng)
        y = set_level(y, rng)
        name = f"{i:04d}_{source}.wav"
        path = out / labels[i] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, y.astype(np.float32), SR, subtype="PCM_16")
        rows.append([f"{labels[i]}/{name}", labels[i], source, kind,
                     ";".join(f"{k}={v}" for k, v in params.items())])
    with open(out / "degradations.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label", "source", "degradation", "params"])
        w.writerows(rows)
    (out / "HELD_OUT_KINDS.txt").write_text("\n".join(HELD_OUT_KINDS if split == "final" else ()) + "\n")
    return len(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=("dev", "final", "heldout"), default="dev",
                    help="heldout: a development set of sources the shipped fault detector never heard")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=None, help="clips (default 160 for dev, 300 for final)")
    ap.add_argument("--out", default=None, help="default bench_data/goodbad_dev<seed> or bench_data/goodbad_real")
    ap.add_argument("--rooms", action="store_true",
                    help="every clip, good or bad, first in an ordinary room with a quiet background (meeting-like)")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"make_goodbad_dev: {DATA} is missing; the clean side of these sets is real audio from there",
              file=sys.stderr)
        return 1
    n = args.n or (300 if args.split == "final" else 160)
    out = Path(args.out) if args.out else ROOT / "bench_data" / (
        "goodbad_real" if args.split == "final" else f"goodbad_dev{args.seed}")
    shutil.rmtree(out, ignore_errors=True)
    count = make_set(out, args.split, args.seed, n, rooms=args.rooms)
    print(f"wrote {count} clips to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
