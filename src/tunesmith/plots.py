"""Pictures a person would rather look at than read: spectrograms, piano rolls, training curves.

Every function writes a PNG atomically and returns its path. matplotlib runs
with the non-interactive Agg backend, so plots work without a screen.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tunesmith.io import atomic_path

__all__ = ["piano_roll_png", "training_curves_png", "figure", "save_figure",
           "draw_spectrogram", "draw_notes"]


def figure(width: float = 10.0, height: float = 4.0, nrows: int = 1, ncols: int = 1, **kw):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kw)


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    return Path(path)


def draw_spectrogram(ax, S_db: np.ndarray, *, sr: int, hop_length: int, freqs: np.ndarray | None = None,
                     t0: float = 0.0, y_label: str = "frequency (Hz)", log_y: bool = False,
                     cmap: str = "magma", vmin: float | None = None, colorbar: bool = True):
    """Draw a ``(freq, frames)`` dB spectrogram with time in seconds and ``freqs`` (Hz) on the y axis.

    Without ``freqs`` the rows are numbered (bins). ``log_y`` puts the y axis on
    a log scale (for CQT or when pitch matters more than brightness).
    """
    S_db = np.asarray(S_db)
    n_bins, n_frames = S_db.shape
    times = t0 + np.arange(n_frames + 1) * hop_length / sr
    if freqs is None:
        edges = np.arange(n_bins + 1) - 0.5
        y_label = "bin"
    else:
        f = np.asarray(freqs, dtype=float)
        mid = (f[1:] + f[:-1]) / 2 if len(f) > 1 else f
        first = f[0] - (mid[0] - f[0]) if len(f) > 1 else f[0] - 0.5
        last = f[-1] + (f[-1] - mid[-1]) if len(f) > 1 else f[0] + 0.5
        edges = np.concatenate([[first], mid, [last]])
        if log_y:
            edges = np.maximum(edges, max(f[0] * 0.9, 1.0))
    vmin = float(np.max(S_db) - 80) if vmin is None else vmin
    mesh = ax.pcolormesh(times, edges, S_db, shading="flat", cmap=cmap, vmin=vmin, rasterized=True)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(y_label)
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, format="%+.0f dB", pad=0.01)
    return mesh


def draw_notes(ax, seq, *, in_hz: bool = False, color: str = "cyan", label_names: bool = True):
    """Draw note boxes (pitch × time) of a NoteSequence onto ``ax`` (MIDI or Hz y axis)."""
    from matplotlib.patches import Rectangle

    from tunesmith.notes import midi_to_hz, note_name

    for n in seq.notes:
        lo, hi = (n.pitch - 0.5, n.pitch + 0.5)
        if in_hz:
            lo, hi = float(midi_to_hz(lo)), float(midi_to_hz(hi))
        ax.add_patch(Rectangle((n.onset, lo), n.duration, hi - lo, fill=False, edgecolor=color, lw=1.2))
        if label_names and n.duration > 0.12:
            ax.text(n.onset, hi, note_name(n.pitch, seq.key), color=color, fontsize=6, va="bottom")


def piano_roll_png(seq, path: str | Path, *, title: str | None = None, use_beats: bool = False) -> Path:
    """A piano roll of a NoteSequence: one bar per note, note names on the y axis."""
    from matplotlib.patches import Rectangle

    from tunesmith.notes import note_name

    fig, axes = figure(10, 4)
    ax = axes[0, 0]
    if not len(seq):
        ax.text(0.5, 0.5, "no notes", ha="center", va="center", transform=ax.transAxes)
    else:
        for n in seq.notes:
            x = n.onset_beats if use_beats and n.onset_beats is not None else n.onset
            w = n.duration_beats if use_beats and n.duration_beats is not None else n.duration
            shade = 0.3 + 0.7 * n.velocity / 127
            ax.add_patch(Rectangle((x, n.pitch - 0.4), w, 0.8, color=(0.15, 0.35, 0.75, shade)))
        pitches = [n.pitch for n in seq.notes]
        lo, hi = int(min(pitches)) - 2, int(max(pitches)) + 2
        end = max((n.onset_beats + n.duration_beats) if use_beats and n.onset_beats is not None
                  else n.offset for n in seq.notes)
        ax.set_xlim(0, end * 1.01)
        ax.set_ylim(lo, hi)
        ticks = [p for p in range(lo, hi + 1) if p % 12 in (0, 4, 7)] or list(range(lo, hi + 1, 2))
        ax.set_yticks(ticks)
        ax.set_yticklabels([note_name(p, seq.key) for p in ticks])
        ax.grid(axis="y", alpha=0.25)
    ax.set_xlabel("beats" if use_beats else "time (s)")
    ax.set_ylabel("pitch")
    ax.set_title(title or seq.name or "piano roll")
    return save_figure(fig, path)


def training_curves_png(metrics_csv: str | Path, path: str | Path, *, title: str = "training") -> Path:
    """Plot every numeric column of a Lightning CSVLogger ``metrics.csv`` against step (losses together)."""
    import csv

    rows = list(csv.DictReader(Path(metrics_csv).read_text().splitlines()))
    cols = [c for c in (rows[0].keys() if rows else []) if c not in ("step", "epoch")]
    fig, axes = figure(8, 4)
    ax = axes[0, 0]
    for c in cols:
        pts = [(float(r["step"]), float(r[c])) for r in rows if r.get(c) not in (None, "")]
        if pts:
            x, y = zip(*pts)
            ax.plot(x, y, marker="o" if len(pts) < 30 else None, ms=3, label=c)
    ax.set_xlabel("step")
    ax.set_title(title)
    if cols:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
