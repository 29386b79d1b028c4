"""The transcription picture: log-frequency spectrogram, f0 track and note boxes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tunesmith.notes import NoteSequence

PLOT_MIDI_MARGIN = 7          # semitones shown below the lowest and above the highest note


def transcription_png(track, seq: NoteSequence, path: str | Path, *, title: str | None = None,
                      max_seconds: float = 120.0) -> Path:
    """Write ``path``: the spectrogram (dB, MIDI pitch axis with note names) with the f0 track and notes.

    The spectrogram is the front end's log-frequency one (3 rows per semitone),
    so harmonics and the f0 line up with the note boxes; only the first
    ``max_seconds`` are drawn (long recordings would give an unreadable picture).
    """
    from tunesmith.plots import draw_notes, draw_spectrogram, figure, save_figure

    hop = track.hop_s
    notes = [n for n in seq.notes if n.onset < max_seconds]
    shown = seq.copy(notes=notes)
    if notes:
        lo = min(n.pitch for n in notes) - PLOT_MIDI_MARGIN
        hi = max(n.pitch for n in notes) + PLOT_MIDI_MARGIN + 12
    else:
        lo, hi = 36, 96
    width = float(np.clip(4 + min(track.times[-1] if len(track) else 10, max_seconds) * 0.35, 8, 30))
    fig, axes = figure(width, 5)
    ax = axes[0, 0]
    if track.spec is not None and track.spec.size:
        rows = (track.spec_midi >= lo) & (track.spec_midi <= hi)
        n_frames = min(track.spec.shape[1], int(max_seconds / hop))
        S = track.spec[rows, :n_frames]
        # the front end stores (log(power) - shift) / scale; show it as dB
        from tunesmith.transcribe.pitch import HOP_LENGTH, SPEC_SCALE, SPEC_SHIFT, SR

        S_db = (S * SPEC_SCALE + SPEC_SHIFT) * (10 / np.log(10))
        draw_spectrogram(ax, S_db, sr=SR, hop_length=HOP_LENGTH, freqs=track.spec_midi[rows],
                         t0=-hop / 2, y_label="pitch (MIDI)", vmin=float(S_db.max() - 70))
    n = min(len(track), int(max_seconds / hop))
    ax.plot(track.times[:n], track.f0[:n], color="lime", lw=0.9, label="f0")
    draw_notes(ax, shown, color="cyan")
    ticks = [m for m in range(int(lo), int(hi) + 1) if m % 12 in (0, 7)]
    from tunesmith.notes import note_name

    ax.set_yticks(ticks, [note_name(m) for m in ticks])
    ax.set_ylim(lo, hi)
    ax.set_xlim(0, n * hop if n else 1)
    meta = []
    if seq.tempo:
        meta.append(f"{seq.tempo:.0f} qpm")
    if seq.time_signature:
        meta.append(f"{seq.time_signature[0]}/{seq.time_signature[1]}")
    if seq.key:
        meta.append(seq.key)
    meta.append(f"A4 = {track.a4_hz:.1f} Hz")
    ax.set_title(f"{title or seq.name or 'transcription'}: {len(seq)} notes ({', '.join(meta)})")
    ax.legend(loc="upper right", fontsize=7)
    return save_figure(fig, path)
