"""Train the transcriber's frame model on FluidSynth renders (CPU, about 20 minutes).

    python scripts/train_transcriber.py data  [--clips 700]          # render training clips
    python scripts/train_transcriber.py train [--minutes 20]         # train, write checkpoints/transcriber.pt
    python scripts/train_transcriber.py train --init checkpoints/transcriber.pt --lr 1e-3 --minutes 15
                                                                     # a second, lower-rate cycle

Training melodies: top voices of music21's Bach chorales, Palestrina, Monteverdi and Trecento
pieces, plus random melodies (tunesmith.transcribe.dataset.random_melody). The evaluation set
(scripts/make_transcription_eval.py) uses folk collections only, so no evaluated tune is ever
trained on. Each clip is a performed excerpt (tempo 55-190 qpm, legato 0.4-1.0, jitter) rendered
with FluidSynth + FluidR3 GM on one of 38 GM programs, then augmented: detuning of up to ±30 cents
(resampling), room reverb (40 %), pink or white noise at 5-40 dB SNR (60 %) and gain -35..0 dB.

Targets per 16 ms frame: the pitch class (or unvoiced), and soft onset / offset targets
(a Gaussian of 10 ms around each note's start / end). Loss: cross-entropy on the pitch
classes + binary cross-entropy on onsets (positive weight 4) and offsets (weight 2).
Adam, one-cycle learning rate, batches of 16 random 5.1 s crops; logs to
runs/transcriber/metrics.csv and a PNG of the curves; the checkpoint is a plain dict
of tensors and numbers (load with weights_only=True).
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path("bench_data/transcriber_train/clips.npz")
RUN_DIR = Path("runs/transcriber")
CKPT = Path("checkpoints/transcriber.pt")
SEED = 7


def make_data(n_clips: int, out: Path = DATA) -> None:
    import soxr

    from tunesmith.transcribe import dataset as ds
    from tunesmith.transcribe.pitch import SR

    rng = np.random.default_rng(SEED)
    paths = ds.corpus_paths(ds.TRAIN_CORPORA)
    paths = [paths[i] for i in rng.permutation(len(paths))[:160]]
    melodies = []
    t0 = time.time()
    for p in paths:
        melodies += ds.load_melodies(p, max_tunes=1)
    print(f"{len(melodies)} corpus melodies parsed in {time.time() - t0:.0f} s", file=sys.stderr)
    names = list(ds.INSTRUMENTS)
    audio, notes, meta = [], [], []
    t0 = time.time()
    for k in range(n_clips):
        inst = ds.INSTRUMENTS[str(rng.choice(ds.EVAL_INSTRUMENTS if rng.random() < 0.6 else names))]
        if rng.random() < 0.55 and melodies:
            mel = melodies[int(rng.integers(len(melodies)))]
        else:
            mel = ds.random_melody(rng, n_notes=int(rng.integers(30, 80)))
        mel = ds.excerpt(mel, rng, max_beats=float(rng.uniform(20, 40)))
        if len(mel) < 3:
            continue
        perf = ds.perform(mel, rng, inst, qpm=float(rng.uniform(55, 190)), legato=float(rng.uniform(0.4, 1.0)),
                          lead_in_s=float(rng.uniform(0.05, 0.6)))
        try:
            y = ds.render_performance(perf, SR).samples
        except Exception as exc:  # noqa: BLE001 - a failed render only loses one clip
            print(f"render failed: {exc}", file=sys.stderr)
            continue
        cents = float(rng.uniform(-30, 30)) if rng.random() < 0.6 else 0.0
        factor = 2 ** (cents / 1200)
        if cents:
            y = soxr.resample(y, SR, SR / factor).astype(np.float32)
        if rng.random() < 0.4:
            y = ds.add_reverb(y, SR, rng, rt60=float(rng.uniform(0.2, 1.5)), wet=float(rng.uniform(0.2, 0.6)))
        if rng.random() < 0.6:
            snr = float(rng.uniform(5, 40))
            if rng.random() < 0.5:
                y = ds.add_pink_noise(y, snr, rng)
            else:
                rms = float(np.sqrt(np.mean(y ** 2)))
                y = (y + rng.normal(size=len(y)).astype(np.float32) * rms * 10 ** (-snr / 20)).astype(np.float32)
        y = y * 10 ** (float(rng.uniform(-35, 0)) / 20) / max(1e-6, float(np.abs(y).max()))
        audio.append((np.clip(y, -1, 1) * 32767).astype(np.int16))
        notes.append(np.array([[n.onset / factor, n.offset / factor, n.pitch + cents / 100] for n in perf.notes],
                              dtype=np.float32))
        meta.append(inst.name)
        if k % 50 == 0:
            print(f"clip {k}/{n_clips} ({time.time() - t0:.0f} s)", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(a) for a in audio])
    n_notes = np.array([len(n) for n in notes])
    np.savez(out, audio=np.concatenate(audio), lengths=lengths, notes=np.concatenate(notes), n_notes=n_notes,
             instruments=np.array(meta))
    print(f"wrote {len(audio)} clips, {lengths.sum() / SR / 3600:.2f} h, to {out}", file=sys.stderr)


def frame_targets(notes: np.ndarray, start_s: float, n_frames: int):
    """Pitch class (0 = unvoiced, -100 = out of range), onset and offset targets for frames from ``start_s``."""
    from tunesmith.transcribe.pitch import FRAME_RATE, MIDI_HIGH, MIDI_LOW

    t = start_s + np.arange(n_frames) / FRAME_RATE
    cls = np.zeros(n_frames, dtype=np.int64)
    onset = np.zeros(n_frames, dtype=np.float32)
    offset = np.zeros(n_frames, dtype=np.float32)
    sigma = 0.010
    for on, off, p in notes:
        if off < start_s - 0.1 or on > t[-1] + 0.1:
            continue
        q = int(round(p))
        c = q - MIDI_LOW + 1 if MIDI_LOW <= q <= MIDI_HIGH else -100
        cls[(t >= on) & (t < off)] = c
        onset = np.maximum(onset, np.exp(-0.5 * ((t - on) / sigma) ** 2))
        offset = np.maximum(offset, np.exp(-0.5 * ((t - off) / sigma) ** 2))
    return cls, onset, offset


def train(minutes: float, batch: int = 16, crop_frames: int = 320, lr: float = 3e-3, threads: int = 2,
          init: str | None = None) -> None:
    import torch
    import torch.nn.functional as F

    from tunesmith import __version__
    from tunesmith.plots import training_curves_png
    from tunesmith.transcribe.pitch import HOP_LENGTH, SR, HarmonicFrontEnd, TranscriberNet

    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    d = np.load(DATA)
    starts = np.concatenate([[0], np.cumsum(d["lengths"])])
    nstarts = np.concatenate([[0], np.cumsum(d["n_notes"])])
    n = len(d["lengths"])
    idx = rng.permutation(n)
    val_ids, train_ids = idx[:24], idx[24:]
    audio_all, notes_all = d["audio"], d["notes"]
    fe = HarmonicFrontEnd()
    net = TranscriberNet()
    start_step = 0
    if init:   # continue from a checkpoint (a second, lower learning-rate cycle)
        ckpt = torch.load(init, map_location="cpu", weights_only=True)
        net = TranscriberNet(**ckpt["model_config"])
        net.load_state_dict(ckpt["state_dict"])
        start_step = int(ckpt.get("train_steps", 0))
        print(f"continuing from {init} (step {start_step})", file=sys.stderr)
    margin = 8

    def sample(i, rng):
        y = audio_all[starts[i]:starts[i + 1]].astype(np.float32) / 32767
        notes = notes_all[nstarts[i]:nstarts[i + 1]]
        n_fr = crop_frames + 2 * margin
        total = len(y) // HOP_LENGTH
        f0 = int(rng.integers(-margin, max(-margin + 1, total - crop_frames - margin)))
        a = f0 * HOP_LENGTH
        seg = np.zeros(n_fr * HOP_LENGTH, dtype=np.float32)
        lo, hi = max(0, a), min(len(y), a + len(seg))
        if hi > lo:
            seg[lo - a:hi - a] = y[lo:hi]
        cls, on, off = frame_targets(notes, (f0 + margin) * HOP_LENGTH / SR, crop_frames)
        return seg, cls, on, off

    def make_batch(ids, rng):
        items = [sample(int(i), rng) for i in ids]
        y = torch.from_numpy(np.stack([it[0] for it in items]))
        with torch.no_grad():
            spec, bands, _ = fe(y)
        sl = slice(margin, margin + crop_frames)
        return (spec[:, :, sl], bands[:, :, sl], torch.from_numpy(np.stack([it[1] for it in items])),
                torch.from_numpy(np.stack([it[2] for it in items])), torch.from_numpy(np.stack([it[3] for it in items])))

    def loss_fn(out, cls, on, off):
        pl, ol, fl = out
        l_p = F.cross_entropy(pl, cls, ignore_index=-100)
        l_on = F.binary_cross_entropy_with_logits(ol, on, pos_weight=torch.tensor(4.0))
        l_off = F.binary_cross_entropy_with_logits(fl, off, pos_weight=torch.tensor(2.0))
        return l_p + l_on + 0.5 * l_off, (l_p.item(), l_on.item(), l_off.item())

    vrng = np.random.default_rng(1)
    val_batches = [make_batch(val_ids[k:k + 8], vrng) for k in range(0, len(val_ids), 8)]
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    # estimate the number of steps that fit the budget from the first few
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    metrics_path = RUN_DIR / "metrics.csv"
    rows = list(csv.DictReader(metrics_path.read_text().splitlines())) if init and metrics_path.exists() else []
    t_start = time.time()
    step, total_steps = 0, None
    sched = None
    while True:
        net.train()
        ids = rng.choice(train_ids, batch)
        spec, bands, cls, on, off = make_batch(ids, rng)
        out = net(spec, bands)
        loss, parts = loss_fn(out, cls, on, off)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        if sched is not None:
            sched.step()
        step += 1
        if step == 20:
            per_step = (time.time() - t_start) / 20
            total_steps = max(100, int(minutes * 60 / per_step))
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total_steps - 20 + 1,
                                                        pct_start=0.15)
            print(f"{per_step:.2f} s/step -> {total_steps} steps", file=sys.stderr)
        if step % 50 == 0 or (total_steps and step >= total_steps):
            net.eval()
            vl, acc_n, acc_d = [], 0, 0
            with torch.no_grad():
                for vb in val_batches:
                    o = net(vb[0], vb[1])
                    vl.append(loss_fn(o, *vb[2:])[0].item())
                    m = vb[2] >= 0
                    acc_n += (o[0].argmax(1)[m] == vb[2][m]).sum().item()
                    acc_d += m.sum().item()
            row = {"step": start_step + step, "train_loss": round(loss.item(), 4), "train_pitch": round(parts[0], 4),
                   "train_onset": round(parts[1], 4), "val_loss": round(float(np.mean(vl)), 4),
                   "val_frame_acc": round(acc_n / max(1, acc_d), 4)}
            rows.append(row)
            print(row, f"{time.time() - t_start:.0f} s", file=sys.stderr)
            with open(metrics_path, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(row))
                w.writeheader()
                w.writerows(rows)
            save_checkpoint(net, CKPT, __version__, start_step + step)
        if total_steps and step >= total_steps:
            break
    training_curves_png(metrics_path, RUN_DIR / "curves.png", title="transcriber")
    print(f"done: {step} steps in {(time.time() - t_start) / 60:.1f} min -> {CKPT}", file=sys.stderr)


def save_checkpoint(net, path: Path, version: str, step: int) -> None:
    import torch

    from tunesmith.io import atomic_path
    from tunesmith.transcribe import pitch

    ckpt = {
        "format": "tunesmith-transcriber",
        "format_version": pitch.CHECKPOINT_FORMAT,
        "tunesmith_version": version,
        "model_config": dict(net.config),
        "front_end": pitch.front_end_settings(),
        "train_steps": step,
        "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("data")
    a.add_argument("--clips", type=int, default=700)
    b = sub.add_parser("train")
    b.add_argument("--minutes", type=float, default=20.0)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule")
    b.add_argument("--init", default=None, help="continue from this checkpoint")
    args = ap.parse_args(argv)
    if args.cmd == "data":
        make_data(args.clips)
    else:
        train(args.minutes, threads=args.threads, lr=args.lr, init=args.init)
    return 0


if __name__ == "__main__":
    sys.exit(main())
