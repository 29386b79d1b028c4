"""``tunesmith features``: audio files → spectral features (``.npy``) and pictures (``.png``).

For each input ``song.wav`` it writes, mirroring the input tree under ``OUT_DIR``:

* ``song.<kind>.npy``: float32 array of shape ``(n_windows, n_bins, frames)``. The audio
  (resampled to ``--sr``) is cut into consecutive ``--window``-second windows, the last
  one zero-padded, and each window is analysed on its own, so
  ``frames = 1 + round(window * sr) // hop_length``. ``n_bins`` is ``1 + n_fft // 2`` for
  stft/logstft, ``--n-mels`` for mel/logmel/pcen, ``--n-mfcc`` for mfcc, ``--n-bins`` for cqt;
* ``song.<kind>.json``: the settings, the frequency (Hz) of every row, the start time of
  every window and the number of real (unpadded) samples in the last one;
* ``song.<kind>.wNNN.png``: one picture per window (time in seconds, frequency in Hz),
  for the first ``--max-images`` windows.

Long files are read block by block (:func:`tunesmith.audio.stream`) and the array is
written as it is computed, so memory stays bounded whatever the length.
The work is done by :func:`tunesmith.features.save_file_features`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from tunesmith.cli.common import add_output
from tunesmith.features import registry

#: Kinds with command-line options (:data:`tunesmith.features.registry.CLI_KINDS`; the registry imports no torch).
KIND_CHOICES = registry.CLI_KINDS

_EPILOG = """output per input file (input tree mirrored under OUT_DIR):
  NAME.KIND.npy   float32 array (n_windows, n_bins, frames); each --window seconds of audio
                  (last window zero-padded) analysed on its own; frames = 1 + window*sr // hop_length;
                  n_bins = 1 + n_fft/2 (stft, logstft), n_mels (mel, logmel, pcen), n_mfcc (mfcc),
                  n_bins (cqt). stft = magnitude, mel = power, logstft/logmel in dB (80 dB range).
  NAME.KIND.json  settings, row frequencies in Hz, window start times
  NAME.KIND.wNNN.png  one picture per window (first --max-images windows)
"""


def register(sub) -> None:
    p = sub.add_parser(
        "features", help="compute spectral features (STFT, mel, PCEN, MFCC, CQT) of audio files",
        description="Compute spectral features of audio files window by window with tunesmith's torch\n"
                    "front end (tunesmith.features) and save them as .npy arrays, with one picture per window.\n"
                    "Long files are streamed: memory stays bounded whatever their length.",
        epilog=_EPILOG, formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, width=100))
    p.add_argument("inputs", nargs="+", metavar="AUDIO", help="audio files or folders (searched recursively)")
    p.add_argument("--kind", choices=KIND_CHOICES, default="logmel", help="representation (default: logmel)")
    p.add_argument("--window", dest="window_s", type=float, default=10.0,
                   help="window length in seconds; each window is analysed on its own (default: 10)")
    p.add_argument("--sr", type=int, default=22050, help="sample rate to analyse at, in Hz (default: 22050)")
    p.add_argument("--n-fft", type=int, default=2048, help="FFT size in samples (default: 2048)")
    p.add_argument("--hop-length", type=int, default=512, help="hop between frames in samples (default: 512)")
    p.add_argument("--n-mels", type=int, default=128, help="mel bands for mel/logmel/pcen/mfcc (default: 128)")
    p.add_argument("--n-mfcc", type=int, default=20, help="coefficients for mfcc (default: 20)")
    p.add_argument("--fmin", type=float, default=None,
                   help="lowest frequency in Hz (default: 0 for mel kinds, 32.7 = C1 for cqt)")
    p.add_argument("--fmax", type=float, default=None, help="highest mel frequency in Hz (default: sr/2)")
    p.add_argument("--n-bins", type=int, default=84, help="CQT bins (default: 84 = 7 octaves)")
    p.add_argument("--bins-per-octave", type=int, default=12, help="CQT bins per octave (default: 12)")
    p.add_argument("--max-images", type=int, default=12,
                   help="draw pictures of at most this many windows per file; 0 for none (default: 12)")
    p.add_argument("--batch-size", type=int, default=8, help="windows analysed together (default: 8)")
    add_output(p, required=True,
               help="folder for the outputs (created if needed; the input tree is mirrored)")
    p.set_defaults(func=run)


def _frequencies(module):
    """The module's bin frequencies in Hz (its public ``frequencies``), or None for kinds without them (MFCC)."""
    import numpy as np

    try:
        return np.asarray(module.frequencies, dtype=float)
    except (AttributeError, TypeError):
        return None


def module_kwargs(kind: str, args) -> dict:
    """Constructor keywords of the front end for ``kind`` from the command-line options."""
    options = registry.get(kind).cli_options  # fmin/fmax only when given (the module's default otherwise)
    return {name: getattr(args, name) for name in options if getattr(args, name) is not None}


def run(args) -> int:
    import json

    import numpy as np

    from tunesmith import features as F
    from tunesmith.cli.common import iter_inputs, print_settings, run_batch, say
    from tunesmith.errors import TunesmithError
    from tunesmith.io import AUDIO_EXTENSIONS, atomic_write_text, output_path

    if args.window_s <= 0:
        raise TunesmithError(f"--window must be positive, got {args.window_s}")
    if args.sr <= 0 or args.n_fft <= 0 or args.hop_length <= 0 or args.batch_size <= 0:
        raise TunesmithError("--sr, --n-fft, --hop-length and --batch-size must be positive")
    if args.max_images < 0:
        raise TunesmithError("--max-images must be 0 or more")
    kind = args.kind
    kw = module_kwargs(kind, args)
    try:
        module = F.frontend(kind, args.sr, **kw).eval()
    except ValueError as exc:
        raise TunesmithError(f"bad settings for --kind {kind}: {exc}") from None
    files = iter_inputs(args.inputs, AUDIO_EXTENSIONS)
    print_settings("features", {"kind": kind, "sr": args.sr, "window": args.window_s, **kw,
                                "max_images": args.max_images})
    win = int(round(args.window_s * args.sr))
    freqs = _frequencies(module)

    def one(path: Path) -> Path:
        dest = output_path(path, args.inputs, args.out_dir, f".{kind}.npy")
        kept: list[tuple[float, np.ndarray]] = []  # windows to draw, drawn only once the file succeeded

        def keep(starts, feats):
            for s, f in zip(starts, feats):
                if len(kept) < args.max_images:
                    kept.append((float(s), f.copy()))

        last_valid = {}
        shape = F.save_file_features(path, dest, kind, args.sr, args.window_s, module=module,
                                     batch_size=args.batch_size, on_batch=keep, info=last_valid)
        n_windows = shape[0]
        meta = {"source": str(path), "shape": list(shape), "dtype": "float32",
                "axes": ["window", "bin", "frame"], "window_s": args.window_s, "window_samples": win,
                "window_starts_s": [round(i * args.window_s, 6) for i in range(n_windows)],
                "last_window_valid_samples": int(last_valid.get("n_valid", win)),
                "frame_rate_hz": args.sr / module.hop_length,
                "settings": F.describe(module, kind),
                "frequencies_hz": None if freqs is None else [round(float(f), 4) for f in freqs]}
        atomic_write_text(dest.with_suffix(".json"), json.dumps(meta, indent=1))
        for i, (t0, feats) in enumerate(kept):
            png = dest.with_name(f"{dest.name[:-len('.npy')]}.w{i:03d}.png")
            F.features_png(feats, png, kind=kind, module=module, t0=t0,
                           title=f"{path.name} — {kind}, {t0:.0f}–{t0 + args.window_s:.0f} s")
        note = ""
        if n_windows > len(kept) and args.max_images:
            note = f" (pictures of the first {len(kept)} of {n_windows} windows; raise --max-images for more)"
        say(f"{path} -> {dest} {tuple(shape)}{note}")
        return dest

    return run_batch(files, one, desc="features").exit_code
