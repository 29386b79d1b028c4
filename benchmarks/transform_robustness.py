"""Side-by-side check of two transform checkpoints: input level, lossy (Ogg) input, and a picture.

For each checkpoint and each inversion it scores LSD (dB) / MR-STFT on

* the first ``--n-test`` benchmark test clips (WAV) as rendered and at -12, -6,
  +6 and +12 dB (input and reference scaled alike), and
* the demo pairs in ``data/pairs`` (Vorbis-coded input *and* reference, so every
  system's LSD is inflated there),

and draws ``--png``: dB spectrograms of one demo clip (input, reference, the
conversion by each checkpoint). Prints a markdown table.

    python benchmarks/transform_robustness.py OLD.pt NEW.pt --names old,new --inversions input-phase,gl:4
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
LEVELS_DB = (0.0, -12.0, -6.0, 6.0, 12.0)
SR = 22050


def _inversion(spec: str) -> dict:
    """``"input-phase"`` or ``"gl:N"`` -> Converter keyword arguments."""
    if spec.startswith("gl"):
        return {"inversion": "gl", "n_iter": int(spec.split(":", 1)[1]) if ":" in spec else None}
    return {"inversion": "input-phase"}


def _score(refs, outs):
    from tunesmith.transform.metrics import log_spectral_distance, mrstft_distance

    return (float(np.mean([log_spectral_distance(r, o) for r, o in zip(refs, outs)])),
            float(np.mean([mrstft_distance(r, o) for r, o in zip(refs, outs)])))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--names", default=None, help="comma-separated column names (default: file stems)")
    ap.add_argument("--inversions", default="input-phase,gl:4")
    ap.add_argument("--n-test", type=int, default=12)
    ap.add_argument("--data", type=Path, default=REPO / "bench_data" / "transform" / "test")
    ap.add_argument("--demo", type=Path, default=REPO / "data" / "pairs")
    ap.add_argument("--png", type=Path, default=REPO / "benchmarks" / "results" / "transform-spectrograms.png")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)

    from tunesmith.audio import load
    from tunesmith.transform.conversion import Converter
    from tunesmith.transform.data import load_pairs

    names = args.names.split(",") if args.names else [c.stem for c in args.checkpoints]
    test = load_pairs(args.data, SR, quiet=True).pairs[: args.n_test]
    demo_names = sorted(p.name for p in (args.demo / "input").iterdir())
    demo = [(load(args.demo / "input" / n, sr=SR).samples, load(args.demo / "output" / n, sr=SR).samples)
            for n in demo_names]
    demo = [(x[: min(len(x), len(y))], y[: min(len(x), len(y))]) for x, y in demo]
    rows = {}
    pictures = {}
    for inv in args.inversions.split(","):
        for name, ckpt in zip(names, args.checkpoints):
            conv = Converter(ckpt, **_inversion(inv))
            for level in LEVELS_DB:
                g = 10.0 ** (level / 20.0)
                outs = [conv(g * p.x) for p in test]
                rows[("test (WAV)", f"{level:+.0f} dB" if level else "as rendered", inv, name)] = _score(
                    [g * p.y for p in test], outs)
            outs = [conv(x) for x, _ in demo]
            rows[("demo (OGG)", "as rendered", inv, name)] = _score([y for _, y in demo], outs)
            pictures.setdefault(inv, {})[name] = outs[0]
            print(f"{inv} {name} done", file=sys.stderr)
        id_t = _score([p.y for p in test], [p.x for p in test])
        id_d = _score([y for _, y in demo], [x for x, _ in demo])
        rows[("test (WAV)", "as rendered", inv, "identity")] = id_t
        rows[("demo (OGG)", "as rendered", inv, "identity")] = id_d

    cols = names + ["identity"]
    lines = ["| clips | level | inversion | " + " | ".join(cols) + " |", "|---|---|---|" + "---:|" * len(cols)]
    keys = []
    for k in rows:
        if k[:3] not in keys:
            keys.append(k[:3])
    for clips, level, inv in keys:
        cells = []
        for c in cols:
            v = rows.get((clips, level, inv, c))
            cells.append("" if v is None else f"{v[0]:.2f} / {v[1]:.3f}")
        lines.append(f"| {clips} | {level} | {inv} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    _picture(args.png, demo[0], pictures, demo_names[0])
    return 0


def _picture(path: Path, pair, pictures: dict, title: str) -> None:
    from tunesmith.plots import draw_spectrogram, figure, save_figure
    from tunesmith.transform.metrics import power_db

    x, y = pair
    panels = [("input (piano)", x), ("reference (violin)", y)]
    for inv, outs in pictures.items():
        panels += [(f"{name}, {inv}", o) for name, o in outs.items()]
    fig, axes = figure(11, 2.2 * len(panels), nrows=len(panels))
    dbs = [power_db(torch.as_tensor(np.asarray(w, dtype=np.float32))).numpy() for _, w in panels]
    vmax = float(max(d.max() for d in dbs))
    freqs = np.arange(dbs[0].shape[0]) * SR / 2048
    for ax, (label, _), d in zip(axes[:, 0], panels, dbs):
        draw_spectrogram(ax, d, sr=SR, hop_length=512, freqs=freqs, vmin=vmax - 80)
        ax.set_title(f"{title}: {label}")
        ax.set_ylim(0, 8000)
    save_figure(fig, path)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
