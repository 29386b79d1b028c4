"""How surprising is a melody to the composer: information content in bits.

For a melody of events ``e_1..e_T`` (notes and rests), the model gives
``P(pitch_i | e_<i)`` and ``P(duration_i | pitch_i, e_<i)``. Then

* **bits per note** = mean over the notes ``i`` of ``−log2 P(pitch_i | e_<i)``
  (the first note included; rests are part of the history but are not scored);
* **bits per event** = mean over all events of ``−log2 P(pitch_i, duration_i | e_<i)``
  (rests scored as events too).

Optional *dynamic evaluation* (``adapt_lr > 0``) adapts a copy of the network
to the melody while it is being scored: after every ``adapt_every`` events it
takes one SGD step on the events seen so far, so each prediction uses only the
past of the melody (the neural analogue of IDyOM's short-term model).
"""
from __future__ import annotations

import copy
import math
from pathlib import Path

import torch
from torch.nn import functional as F

from tunesmith.compose.data import DUR_BOS, load_melody
from tunesmith.compose.tokens import BOS, REST, TokenMelody, encode

__all__ = ["melody_bits", "score_melody", "score_files", "MelodyScore"]

LN2 = math.log(2.0)


def _inputs(mel: TokenMelody, start: int = 0, stop: int | None = None) -> dict:
    p = torch.as_tensor(mel.pitch)
    d = torch.as_tensor(mel.dur)
    stop = len(p) if stop is None else stop
    in_p = torch.cat([torch.tensor([BOS]), p[:-1]])
    in_d = torch.cat([torch.tensor([DUR_BOS]), d[:-1]])
    sl = slice(start, stop)
    return {"in_pitch": in_p[None, sl], "in_dur": in_d[None, sl], "pos": torch.as_tensor(mel.pos)[None, sl],
            "pitch": p[None, sl], "dur": d[None, sl]}


def _log_probs(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities (nats) of the pitch distribution (T, 129) and of the true duration (T,)."""
    pl, dl, _ = model(batch["in_pitch"], batch["in_dur"], batch["pos"], batch["pitch"])
    lp = F.log_softmax(pl[0], -1)
    ld = F.log_softmax(dl[0], -1).gather(-1, batch["dur"][0, :, None])[:, 0]
    return lp, ld


@torch.no_grad()
def _joint_probs(model, batch: dict) -> torch.Tensor:
    """(T, 129, 192) probabilities of every (pitch, duration) pair for the next event."""
    h, _ = model.features(batch["in_pitch"], batch["in_dur"], batch["pos"])
    h = h[0]
    T, V = h.shape[0], model.pitch_head.out_features
    lp = F.log_softmax(model.pitch_logits(h), -1)                      # (T, V)
    pitches = torch.arange(V).expand(T, V)
    ld = F.log_softmax(model.dur_logits(h[:, None, :].expand(T, V, h.shape[-1]), pitches), -1)  # (T, V, D)
    return (lp[:, :, None] + ld).exp()


def melody_bits(composer, mel: TokenMelody, *, adapt_lr: float = 0.0, adapt_every: int = 1,
                return_dists: bool = False, return_joint: bool = False):
    """Per-event information content of a token melody.

    Returns ``(pitch_bits (T,), dur_bits (T,))`` numpy arrays: −log2 of the
    probability of each event's pitch token and of its duration given the
    pitch. With ``return_dists`` also the (T, 129) pitch distributions.
    """
    model = composer.model.eval()
    T = len(mel)
    if adapt_lr <= 0:
        with torch.no_grad():
            lp, ld = _log_probs(model, _inputs(mel))
            joint = _joint_probs(model, _inputs(mel)) if return_joint else None
    else:
        model = copy.deepcopy(model).eval()  # dropout off; only the copy adapts
        opt = torch.optim.SGD(model.parameters(), lr=adapt_lr)
        lps, lds, joints = [], [], []
        for start in range(0, T, adapt_every):
            stop = min(T, start + adapt_every)
            with torch.no_grad():
                lp_all, ld_all = _log_probs(model, _inputs(mel, 0, stop))
                if return_joint:
                    joints.append(_joint_probs(model, _inputs(mel, 0, stop))[start:stop])
            lps.append(lp_all[start:stop])
            lds.append(ld_all[start:stop])
            if stop < T:  # learn from everything seen so far
                b = _inputs(mel, 0, stop)
                lp_tr, ld_tr = _log_probs(model, b)
                loss = -(lp_tr.gather(-1, b["pitch"][0, :, None]).sum() + ld_tr.sum())
                opt.zero_grad()
                loss.backward()
                opt.step()
        lp, ld = torch.cat(lps), torch.cat(lds)
        joint = torch.cat(joints) if return_joint else None
    target = torch.as_tensor(mel.pitch)[:, None]
    pb = (-lp.gather(-1, target)[:, 0] / LN2).numpy()
    db = (-ld / LN2).detach().numpy()
    out = (pb, db)
    if return_dists:
        out += (lp.exp().detach().numpy(),)
    if return_joint:
        out += (joint.numpy(),)
    return out


class MelodyScore(dict):
    """``{"name", "notes", "events", "bits_per_note", "bits_per_event"}`` for one melody."""


def score_melody(composer, seq_or_path, *, track: int | None = None, adapt_lr: float = 0.0,
                 adapt_every: int = 1) -> MelodyScore:
    """Bits per note and per event of a NoteSequence or song file (see the module docstring)."""
    if isinstance(seq_or_path, (str, Path)):
        seq, pickup = load_melody(seq_or_path, track=track)
        name = str(seq_or_path)
    else:
        seq, pickup, name = seq_or_path, 0.0, seq_or_path.name
    return _score(composer, seq, pickup, name, adapt_lr, adapt_every)


def _score(composer, seq, pickup: float, name, adapt_lr: float, adapt_every: int) -> MelodyScore:
    mel = encode(seq, key_normalize=composer.key_normalize, pickup_beats=pickup)
    pb, db = melody_bits(composer, mel, adapt_lr=adapt_lr, adapt_every=adapt_every)
    notes = mel.pitch != REST
    return MelodyScore(name=name, notes=int(notes.sum()), events=len(mel),
                       bits_per_note=float(pb[notes].mean()), bits_per_event=float((pb + db).mean()),
                       note_bits_total=float(pb[notes].sum()), event_bits_total=float((pb + db).sum()))


def score_files(composer, files, *, track: int | None = None, adapt_lr: float = 0.0,
                adapt_every: int = 1, quiet: bool = False) -> tuple[list[MelodyScore], dict, dict]:
    """Score every piece of every file (bad ones skipped and reported). Returns (per-piece, overall, failed).

    A file holding several pieces (an ABC book) gives one row per piece, named
    ``folder/stem#index title``; a piece that cannot be read is listed in
    ``failed`` under that name. The overall figures pool all notes (and all
    events) of all melodies.
    """
    from tunesmith.batch import run_batch
    from tunesmith.compose.data import load_melodies

    skipped: dict[str, str] = {}

    def one(f: Path) -> list[MelodyScore]:
        found, bad = load_melodies(f, track=track)
        if len(found) == 1 and not bad:
            return [_score(composer, found[0][0], found[0][1], str(f), adapt_lr, adapt_every)]
        skipped.update({str(Path(f).parent / k): v for k, v in bad.items()})
        return [_score(composer, seq, pickup, str(Path(f).parent / (seq.name or Path(f).stem)), adapt_lr,
                       adapt_every) for seq, pickup in found]

    res = run_batch(list(files), one, desc="songs", quiet=quiet)
    scores = [s for per_file in res.done.values() for s in per_file]
    n_notes = sum(s["notes"] for s in scores)
    n_events = sum(s["events"] for s in scores)
    overall = {"melodies": len(scores), "notes": n_notes, "events": n_events,
               "bits_per_note": sum(s["note_bits_total"] for s in scores) / max(n_notes, 1),
               "bits_per_event": sum(s["event_bits_total"] for s in scores) / max(n_events, 1)}
    return scores, overall, {**{str(k): v for k, v in res.failed.items()}, **skipped}
