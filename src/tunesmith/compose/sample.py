"""Sampling new melodies from a trained composer, batched, reproducible, with masks for key and range.

Each step draws a pitch (or rest) from the pitch head and then a duration from
the duration head given that pitch. ``temperature`` divides the logits,
``top_k`` keeps the k most likely tokens and ``top_p`` the smallest set whose
probability reaches p (nucleus sampling). A key keeps only the scale's pitch
classes and a range only pitches inside it: both act on the logits (masking),
so every sample satisfies them without rejection. The same ``seed`` gives the
same melodies.
"""
from __future__ import annotations

from pathlib import Path

import torch

from tunesmith.compose.data import DUR_BOS, load_melody
from tunesmith.compose.tokens import (BOS, N_PITCH_TOKENS, REST, bar_ticks_of, decode, encode, metre_token,
                                      estimate_key, key_shift, scale_pitch_classes)
from tunesmith.errors import TunesmithError

__all__ = ["generate", "write_samples", "filter_logits"]

MAX_EVENTS_PER_NOTE = 3   # safety cap on events per requested note (rests included)


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """Apply temperature, top-k and nucleus (top-p) filtering to (B, V) logits; removed tokens get -inf."""
    if temperature <= 0:
        raise TunesmithError(f"temperature must be positive, got {temperature}")
    logits = logits / temperature
    if top_k is not None and top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and 0 < top_p < 1:
        sorted_logits, idx = torch.sort(logits, descending=True, dim=-1)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(-1)
        drop = cum - torch.softmax(sorted_logits, dim=-1) >= top_p  # keep the token that crosses p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, idx, sorted_logits)
    return logits


def _pitch_mask(key: str | None, pitch_range, shift: int) -> torch.Tensor:
    """Boolean (129,) mask of allowed pitch tokens (rest always allowed), in normalised token space."""
    allowed = torch.ones(N_PITCH_TOKENS, dtype=torch.bool)
    tokens = torch.arange(128)
    midi = tokens - shift  # the real pitch a token stands for
    if key:
        pcs = scale_pitch_classes(key)
        allowed[:128] &= torch.tensor([int(m) % 12 in pcs for m in midi])
    if pitch_range:
        lo, hi = pitch_range
        allowed[:128] &= (midi >= lo) & (midi <= hi)
    allowed[:128] &= (midi >= 0) & (midi <= 127)
    if not allowed[:128].any():
        raise TunesmithError(f"no pitch satisfies key {key!r} and range {pitch_range}")
    return allowed


@torch.no_grad()
def generate(composer, n: int = 4, length: int = 64, *, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, seed: int | None = None, primer=None, key: str | None = None,
             pitch_range: tuple[float, float] | None = None, tempo: float | None = None,
             program: int | None = None, track: int | None = None) -> list:
    """Sample ``n`` melodies of ``length`` new notes each; returns quantised NoteSequences.

    Parameters
    ----------
    composer : a :class:`~tunesmith.compose.model.Composer` (see ``load_composer``).
    primer : a file (symbolic or audio, transcribed) or NoteSequence to continue; it
        is kept at the start of every output.
    key : e.g. ``"D minor"``: output in that key, notes restricted to its scale.
        Default: the primer's key, else C major / A minor (unrestricted).
    pitch_range : (low, high) MIDI pitches allowed.
    tempo : BPM written to the files (default: the primer's, else the training median).
    program : General MIDI program of the output (default 0, piano).
    """
    if n < 1 or length < 1:
        raise TunesmithError("need at least one sample (-n) of at least one note (--length)")
    model = composer.model.eval()
    gen = torch.Generator().manual_seed(int(seed if seed is not None else torch.seed() % 2**31))
    time_signature = tuple(composer.meta.get("time_signature") or (4, 4))
    primer_mel = None
    if primer is not None:
        if isinstance(primer, (str, Path)):
            seq, pickup = load_melody(primer, track=track)
        else:
            from tunesmith.notes import quantize
            seq, pickup = (primer if primer.is_quantized else quantize(primer, tempo=primer.tempo or 120.0)), 0.0
        primer_mel = encode(seq, key_normalize=composer.key_normalize, pickup_beats=pickup)
        time_signature = tuple(seq.time_signature or time_signature)
        key = key or primer_mel.key
        tempo = tempo or seq.tempo
    tempo = float(tempo or composer.meta.get("tempo") or 100.0)
    out_shift = key_shift(key) if (key and composer.key_normalize) else 0
    mask = _pitch_mask(key, pitch_range, out_shift)
    bar = bar_ticks_of(time_signature)

    # start: BOS, then the primer's events (shared by all samples)
    in_p = torch.full((n, 1), BOS, dtype=torch.long)
    in_d = torch.full((n, 1), DUR_BOS, dtype=torch.long)
    if primer_mel is not None:
        pp = torch.as_tensor(primer_mel.pitch)  # already key-normalised
        prefix_p = torch.cat([torch.tensor([BOS]), pp])
        prefix_d = torch.cat([torch.tensor([DUR_BOS]), torch.as_tensor(primer_mel.dur)])
        pos = torch.as_tensor(primer_mel.pos)
        h, state = model.features(prefix_p[:-1].expand(n, -1), prefix_d[:-1].expand(n, -1),
                                  pos.expand(n, -1))
        in_p, in_d = prefix_p[-1:].expand(n, 1).clone(), prefix_d[-1:].expand(n, 1).clone()
        tick = int(primer_mel.start_tick + (primer_mel.dur + 1).sum())
        hist_p = [primer_mel.pitch.tolist()] * n
        hist_d = [primer_mel.dur.tolist()] * n
        start_tick = primer_mel.start_tick
    else:
        state, tick, hist_p, hist_d, start_tick = None, 0, [[] for _ in range(n)], [[] for _ in range(n)], 0
    ticks = torch.full((n,), tick, dtype=torch.long)
    out_p = [list(h) for h in hist_p]
    out_d = [list(h) for h in hist_d]
    notes_done = torch.zeros(n, dtype=torch.long)
    active = torch.ones(n, dtype=torch.bool)
    for _ in range(length * MAX_EVENTS_PER_NOTE):
        pos = metre_token(ticks, bar).unsqueeze(1)
        h, state = model.features(in_p, in_d, pos, state)
        logits = model.pitch_logits(h[:, -1])
        logits = logits.masked_fill(~mask, float("-inf"))
        prev_rest = in_p[:, -1] == REST
        logits[prev_rest, REST] = float("-inf")  # never two rests in a row
        probs = torch.softmax(filter_logits(logits, temperature, top_k, top_p), -1)
        pitch = torch.multinomial(probs, 1, generator=gen).squeeze(1)
        dlog = model.dur_logits(h[:, -1], pitch)
        dprobs = torch.softmax(filter_logits(dlog, temperature, top_k, top_p), -1)
        dur = torch.multinomial(dprobs, 1, generator=gen).squeeze(1)
        for b in torch.nonzero(active).flatten().tolist():
            out_p[b].append(int(pitch[b]))
            out_d[b].append(int(dur[b]))
        notes_done += (active & (pitch != REST)).long()
        active &= notes_done < length
        ticks += dur + 1
        in_p, in_d = pitch.unsqueeze(1), dur.unsqueeze(1)
        if not active.any():
            break
    seqs = []
    for b in range(n):
        p, d = out_p[b], out_d[b]
        while p and p[-1] == REST:
            p, d = p[:-1], d[:-1]
        seq = decode(p, d, shift=out_shift if composer.key_normalize else 0, tempo=tempo,
                     time_signature=time_signature, program=int(program or 0), name=f"sample_{b + 1:02d}",
                     start_tick=start_tick)
        k = key or (estimate_key([x.pitch for x in seq.notes], [x.duration_beats for x in seq.notes])
                    if len(seq) else None)
        seqs.append(seq.copy(key=k))
    return seqs


def write_samples(seqs, out_dir: str | Path, *, sr: int = 22050, stem: str = "sample", render: bool = True,
                  soundfont: str | None = None) -> list[Path]:
    """Write each melody as ``.mid``, ``.musicxml``, ``.wav`` (rendered) and a ``.png`` piano roll."""
    from tunesmith.notes import save_notes
    from tunesmith.plots import piano_roll_png
    from tunesmith.render import render_to_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, seq in enumerate(seqs, 1):
        base = out / f"{stem}_{i:02d}"
        save_notes(seq, base.with_suffix(".mid"))
        save_notes(seq, base.with_suffix(".musicxml"))
        piano_roll_png(seq, base.with_suffix(".png"), title=f"{base.name} ({seq.key}, {len(seq)} notes)",
                       use_beats=True)
        if render:
            render_to_file(seq, base.with_suffix(".wav"), sr, soundfont=soundfont)
        written.append(base)
    return written
