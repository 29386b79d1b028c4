#!/usr/bin/env python
"""Composer benchmark: bits per note on the fixed Bach chorale split, LSTM vs PPM baselines, in one run.

    python benchmarks/composer.py [--checkpoint src/tunesmith/models/composer-chorales.pt [more.pt ...]] [--quick]
                                  [--train-log LOG]

``--train-log`` names the captured output of ``scripts/train_default_composer.py``
(e.g. ``nice -n 10 python scripts/train_default_composer.py > train.log 2>&1``); the
wall time in its final JSON line becomes the "default model training" row. The
log is read before anything else; if it holds no readable ``wall_s`` line the row
says n/a (never a crash after the long run).

By default the shipped model (``src/tunesmith/models/``) plus its two ensemble partners in
``benchmarks/checkpoints/`` (benchmark-only, not shipped in the wheel: another seed, and a variant with the bar-number feature; stored in float16).

No extra packages are needed (the PPM baseline is ``tunesmith.compose.ppm``).

Data: ``shared/benchmarks/chorale_split.json`` (the repository's sibling folder ``../shared``) exactly as given (music21
corpus paths; Soprano part, else the first; ties joined). The test part must
give 53 melodies and 3,064 notes with rests removed (checked). Hyper-parameters
of the evaluation (short-term-model bias, dynamic-evaluation step size) are
chosen on the *valid* part, never on test.

Measured in the same run on the test part:

* unigram, PPM order 2, PPM-8* (IDyOM-style: escape C, interpolation with
  exclusion, order bound 8, PPM* selection) with and without a short-term model
  (entropy-weighted geometric combination), on pitch as written with rests
  removed; a joint (pitch-or-rest, duration) PPM-8* + STM for bits per event;
* the LSTM checkpoint(s): plain, with dynamic evaluation (SGD on the melody so
  far), with a PPM short-term model, and the ensemble of all given checkpoints
  (probability average) with dynamic evaluation. Bits per note: −log2
  P(pitch | all previous events, rests included), first note scored, rests not
  scored; bits per event: −log2 P(pitch, duration), rests included.

Also: 100 generated melodies vs the test melodies (share of notes in the
estimated key, pitch-range and interval-histogram distances, longest run of
intervals copied from the training set), sampling speed (notes/s, one batch of
100) and training speed (tokens/s, forward + backward + step of the default
configuration). Writes the tables to ``benchmarks/results/composer.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _common import cpu_name  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
SPLIT = ROOT.parent / "shared" / "benchmarks" / "chorale_split.json"
EXPECTED_TEST = (53, 3064)
ANCHORS = {"unigram": 3.735, "PPM order 2": 2.492, "PPM-8*": 2.397, "PPM-8* + STM": 2.209,
           "plain 2x256 LSTM (1 CPU-min)": 2.147}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def load_split(cache_dir: Path):
    from music21 import corpus

    from tunesmith.compose.data import load_corpus

    split = json.loads(SPLIT.read_text())
    out = {}
    for part in ("train", "valid", "test"):
        files = [Path(str(corpus.getWork(p))) for p in split[part]]
        mels, failed = load_corpus(files, cache_dir=cache_dir, progress=False)
        if failed:
            raise SystemExit(f"unparsable chorales in {part}: {failed}")
        out[part] = mels
    return out


# ----------------------------------------------------------------------------- PPM baselines
def ppm_baselines(data, bias_grid=(1.0, 2.0, 3.0)) -> dict:
    from tunesmith.compose.ppm import PPM, ltm_stm_bits, sequence_bits
    from tunesmith.compose.tokens import REST

    def raw(m):  # pitch as written, rests removed
        return [int(p - m.shift) for p in m.pitch if p != REST]

    seqs = {k: [raw(m) for m in v] for k, v in data.items()}
    alphabet = sorted({x for k in seqs for s in seqs[k] for x in s})
    idx = {p: i for i, p in enumerate(alphabet)}
    seqs = {k: [[idx[x] for x in s] for s in v] for k, v in seqs.items()}
    A = len(alphabet)
    res = {}
    t = time.perf_counter()
    counts = np.bincount([x for s in seqs["train"] for x in s], minlength=A) + 1.0
    uni = counts / counts.sum()
    res["unigram"] = float(np.mean([-np.log2(uni[x]) for s in seqs["test"] for x in s]))
    res["PPM order 2"] = float(np.concatenate([sequence_bits(PPM(A, 2, ppm_star=False).fit(seqs["train"]), s)
                                               for s in seqs["test"]]).mean())
    ltm = PPM(A, 8).fit(seqs["train"])
    res["PPM-8*"] = float(np.concatenate([sequence_bits(ltm, s) for s in seqs["test"]]).mean())
    valid_b = {b: float(np.concatenate([ltm_stm_bits(ltm, s, alphabet_size=A, bias=b)
                                        for s in seqs["valid"]]).mean()) for b in bias_grid}
    bias = min(valid_b, key=valid_b.get)
    res["PPM-8* + STM"] = float(np.concatenate([ltm_stm_bits(ltm, s, alphabet_size=A, bias=bias)
                                                for s in seqs["test"]]).mean())
    res["stm_bias"] = bias
    # joint (pitch-or-rest, duration) symbols, rests as events
    joint = {k: [list(zip(m.pitch.tolist(), m.dur.tolist(), [m.shift] * len(m))) for m in v]
             for k, v in data.items()}
    joint = {k: [[(p if p == REST else p - sh, d) for p, d, sh in s] for s in v] for k, v in joint.items()}
    jal = sorted({e for k in joint for s in joint[k] for e in s})
    jidx = {e: i for i, e in enumerate(jal)}
    jseq = {k: [[jidx[e] for e in s] for s in v] for k, v in joint.items()}
    jltm = PPM(len(jal), 8).fit(jseq["train"])
    res["PPM-8* + STM, joint bits/event"] = float(np.concatenate(
        [ltm_stm_bits(jltm, s, alphabet_size=len(jal), bias=bias) for s in jseq["test"]]).mean())
    res["seconds"] = time.perf_counter() - t
    res["alphabet"] = A
    return res


# ----------------------------------------------------------------------------- LSTM
def lstm_scores(comps, mels, *, adapt_lr=0.0, stm_bias=None) -> tuple[float, float]:
    """Pooled bits/note and bits/event of one LSTM or an ensemble (average of the probabilities).

    With ``stm_bias`` the (ensemble) pitch distribution is combined with a PPM
    short-term model of the melody's pitch tokens so far (IDyOM's entropy-weighted
    geometric mean); durations keep the LSTM's P(duration | pitch). (A joint
    pitch-and-duration short-term model was tried and made bits/event worse.)
    """
    from tunesmith.compose.ppm import PPM, combine
    from tunesmith.compose.score import melody_bits
    from tunesmith.compose.tokens import N_PITCH_TOKENS, REST

    note_bits, event_bits = [], []
    for mel in mels:
        outs = [melody_bits(c, mel, adapt_lr=adapt_lr, return_dists=True)
                for c in comps]
        T = len(mel)
        rows = np.arange(T)
        dist = np.mean([o[2] for o in outs], axis=0)
        p_pitch = dist[rows, mel.pitch]
        p_joint = np.mean([o[2][rows, mel.pitch] * 2.0 ** (-o[1]) for o in outs], axis=0)
        if stm_bias is not None:
            hist = mel.pitch.tolist()
            stm = PPM(N_PITCH_TOKENS, order=None)
            for i in range(1, T):
                stm.update(hist[:i - 1], hist[i - 1])
                q = combine([dist[i], stm.distribution(hist[:i])], stm_bias)[hist[i]]
                p_joint[i] *= q / max(p_pitch[i], 1e-300)  # same P(duration | pitch), new P(pitch)
                p_pitch[i] = q
        notes = mel.pitch != REST
        note_bits.append(-np.log2(p_pitch[notes]))
        event_bits.append(-np.log2(p_joint))
    return float(np.concatenate(note_bits).mean()), float(np.concatenate(event_bits).mean())


# ----------------------------------------------------------------------------- generation quality
def _in_key_share(pitches) -> float:
    from tunesmith.compose.tokens import estimate_key, scale_pitch_classes

    scale = scale_pitch_classes(estimate_key(pitches))
    return float(np.mean([int(p) % 12 in scale for p in pitches]))


def _intervals(pitches) -> np.ndarray:
    return np.diff(np.asarray(pitches, dtype=int))


def _interval_hist(melodies) -> np.ndarray:
    iv = np.clip(np.concatenate([_intervals(m) for m in melodies]), -12, 12) + 12
    h = np.bincount(iv, minlength=25).astype(float)
    return h / h.sum()


def _wasserstein_1d(a, b) -> float:
    q = np.linspace(0, 1, 101)
    return float(np.mean(np.abs(np.quantile(a, q) - np.quantile(b, q))))


def _longest_copied_run(melody, train_ngrams: dict[int, set]) -> int:
    """Longest run of consecutive notes whose interval sequence occurs in the training set (in notes)."""
    iv = tuple(_intervals(melody).tolist())
    best = 1
    for i in range(len(iv)):
        k = best  # only look for longer runs
        while i + k <= len(iv) and k in train_ngrams and iv[i:i + k] in train_ngrams[k]:
            best = k + 1
            k += 1
    return best


def generation_metrics(comp, data, n=100, length=50, seed=1234) -> dict:
    import torch

    from tunesmith.compose.sample import generate
    from tunesmith.compose.tokens import REST

    torch.set_num_threads(1)
    t = time.perf_counter()
    gen = generate(comp, n=n, length=length, seed=seed)
    secs = time.perf_counter() - t
    gen_p = [[n_.pitch for n_ in s] for s in gen]
    test_p = [[int(p - m.shift) for p in m.pitch if p != REST] for m in data["test"]]
    train_p = [[int(p - m.shift) for p in m.pitch if p != REST] for m in data["train"]]
    ngrams: dict[int, set] = {}
    for m in train_p:
        iv = tuple(_intervals(m).tolist())
        for k in range(1, 60):
            ngrams.setdefault(k, set()).update(iv[i:i + k] for i in range(len(iv) - k + 1))
    hist_t, hist_g, hist_tr = _interval_hist(test_p), _interval_hist(gen_p), _interval_hist(train_p)
    rng_t = [max(m) - min(m) for m in test_p]
    rng_g = [max(m) - min(m) for m in gen_p]
    rng_tr = [max(m) - min(m) for m in train_p]
    copied_g = [_longest_copied_run(m, ngrams) for m in gen_p]
    copied_t = [_longest_copied_run(m, ngrams) for m in test_p]
    return {
        "notes_per_s": n * length / secs, "sampling_s": secs,
        "in_key": (float(np.mean([_in_key_share(m) for m in gen_p])),
                   float(np.mean([_in_key_share(m) for m in test_p]))),
        "range_mean": (float(np.mean(rng_g)), float(np.mean(rng_t))),
        "range_w1": (_wasserstein_1d(rng_g, rng_t), _wasserstein_1d(rng_tr, rng_t)),
        "interval_tv": (0.5 * float(np.abs(hist_g - hist_t).sum()), 0.5 * float(np.abs(hist_tr - hist_t).sum())),
        "copied_median": (float(np.median(copied_g)), float(np.median(copied_t))),
        "copied_max": (int(max(copied_g)), int(max(copied_t))),
    }


def training_speed(cfg_path: Path, mels, steps: int = 15) -> dict:
    """Tokens per second of forward + backward + optimiser step with the given config (1 thread)."""
    import torch

    from tunesmith.compose.data import MelodyDataset, collate
    from tunesmith.compose.model import MelodyLSTM, event_nll
    from tunesmith.compose.train import load_config

    torch.set_num_threads(1)
    cfg = load_config(cfg_path)
    net = MelodyLSTM(**cfg["model"])
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    ds = MelodyDataset(mels, cfg["data"]["seq_len"], train=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg["data"]["batch_size"], shuffle=True,
                                         collate_fn=collate)
    times, tokens = [], []
    it = iter(loader)
    for i in range(steps + 2):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        t = time.perf_counter()
        p, d, mask = event_nll(net.train(), batch)
        loss = (p.sum() + d.sum()) / mask.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:  # warm-up excluded
            times.append(time.perf_counter() - t)
            tokens.append(int(mask.sum()))
    return {"tokens_per_s": sum(tokens) / sum(times), "median_step_s": statistics.median(times),
            "params": sum(p.numel() for p in net.parameters())}


def train_wall_s(log_path: str | Path) -> float | None:
    """Wall seconds of the last training run recorded in a log of ``scripts/train_default_composer.py``.

    The script prints one JSON object with a ``wall_s`` key when it finishes; the
    log may also hold progress bars, warnings, tracebacks of earlier attempts and
    stray bytes, so every line is scanned (last match wins) and anything that does
    not parse is ignored. ``None`` when no such line exists or the file is unreadable.
    """
    try:
        text = Path(log_path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in reversed(text.replace("\r", "\n").splitlines()):
        start = line.find("{")
        if start < 0 or '"wall_s"' not in line:
            continue
        try:
            info = json.loads(line[start:line.rfind("}") + 1])
            return float(info["wall_s"])
        except (ValueError, KeyError, TypeError):
            continue
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_ckpts = [ROOT / "src" / "tunesmith" / "models" / "composer-chorales.pt",
                     *(ROOT / "benchmarks" / "checkpoints" / n for n in ("composer-chorales-seed1.pt",
                                                                         "composer-chorales-bars.pt"))]
    ap.add_argument("--checkpoint", nargs="+", default=[str(c) for c in default_ckpts if c.exists()],
                    help="first: the model of the single-model rows; all: the ensemble")
    ap.add_argument("--config", default=str(ROOT / "configs" / "composer.yaml"))
    ap.add_argument("--quick", action="store_true", help="no dynamic evaluation, 20 generated melodies")
    ap.add_argument("--adapt-grid", default="0.0003,0.001")
    ap.add_argument("--cache-dir", default=str(ROOT / "bench_data" / "composer_cache"))
    ap.add_argument("--train-log", default=None, help="JSON line printed by scripts/train_default_composer.py")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "composer.md"))
    args = ap.parse_args()

    import torch

    from tunesmith.compose.model import load_composer

    torch.set_num_threads(1)
    t0 = time.time()
    train_wall = None
    if args.train_log:  # read first: a bad log is reported now, not after the whole run
        train_wall = train_wall_s(args.train_log)
        if train_wall is None:
            log(f"warning: {args.train_log}: no readable line with \"wall_s\"; the training-time row says n/a")
    data = load_split(Path(args.cache_dir))
    n_mel, n_notes = len(data["test"]), sum(m.n_notes for m in data["test"])
    log(f"test: {n_mel} melodies, {n_notes} notes (expected {EXPECTED_TEST})")
    assert (n_mel, n_notes) == EXPECTED_TEST, "chorale parsing does not reproduce the split's counts"

    log("PPM baselines ...")
    ppm = ppm_baselines(data)
    comps = [load_composer(c) for c in args.checkpoint]
    rows = []
    log("LSTM ...")
    t = time.perf_counter()
    single = [lstm_scores([c], data["test"]) for c in comps]
    plain_s = time.perf_counter() - t
    for path, (bpn, bpe) in zip(args.checkpoint, single):
        rows.append((f"LSTM `{Path(path).name}`", bpn, bpe))
    log(f"PPM: {ppm}\nLSTM: {rows}")
    # evaluation settings chosen on valid
    stm_valid = {b: lstm_scores(comps[:1], data["valid"], stm_bias=b)[0] for b in (1.0, 2.0, 3.0)}
    stm_b = min(stm_valid, key=stm_valid.get)
    rows.append((f"LSTM + PPM short-term model (bias {stm_b:g})", *lstm_scores(comps[:1], data["test"],
                                                                               stm_bias=stm_b)))
    adapt = 0.0
    if not args.quick:
        grid = [float(x) for x in args.adapt_grid.split(",")]
        dyn_valid = {lr: lstm_scores(comps[:1], data["valid"], adapt_lr=lr)[0] for lr in grid}
        log(f"dynamic evaluation on valid: {dyn_valid} (plain {lstm_scores(comps[:1], data['valid'])[0]:.3f})")
        adapt = min(dyn_valid, key=dyn_valid.get)
        rows.append((f"LSTM + dynamic evaluation (lr {adapt:g})",
                     *lstm_scores(comps[:1], data["test"], adapt_lr=adapt)))
        rows.append(("LSTM + dynamic evaluation + short-term model",
                     *lstm_scores(comps[:1], data["test"], adapt_lr=adapt, stm_bias=stm_b)))
    if len(comps) > 1:
        rows.append((f"ensemble of {len(comps)} LSTMs", *lstm_scores(comps, data["test"])))
        if adapt:
            rows.append((f"ensemble of {len(comps)} LSTMs + dynamic evaluation + short-term model",
                         *lstm_scores(comps, data["test"], adapt_lr=adapt, stm_bias=stm_b)))

    log(f"rows: {rows}")
    log("generation ...")
    gm = generation_metrics(comps[0], data, n=20 if args.quick else 100)
    log("training speed ...")
    ts = training_speed(Path(args.config), data["train"])

    best_bpn = min(r[1] for r in rows)
    best_bpe = min(r[2] for r in rows)
    lines = [
        "## Composer: information content on the Bach chorale test split",
        "",
        f"Test part of `chorale_split.json`: {n_mel} melodies, {n_notes} notes (rests removed for PPM; "
        "for the LSTM rests are context events, never scored). Lower is better. "
        f"PPM short-term bias chosen on valid (b = {ppm['stm_bias']:g}); LSTM evaluation settings chosen on valid.",
        "",
        "| model | bits/note | bits/event (pitch+duration) | anchor (bits/note) |",
        "|---|---:|---:|---:|",
        f"| unigram (train counts, +1) | {ppm['unigram']:.3f} | | {ANCHORS['unigram']} |",
        f"| PPM order 2 | {ppm['PPM order 2']:.3f} | | {ANCHORS['PPM order 2']} |",
        f"| PPM-8* (escape C, interpolated, exclusion) | {ppm['PPM-8*']:.3f} | | {ANCHORS['PPM-8*']} |",
        f"| PPM-8* + short-term model | {ppm['PPM-8* + STM']:.3f} | "
        f"{ppm['PPM-8* + STM, joint bits/event']:.3f} | {ANCHORS['PPM-8* + STM']} |",
    ]
    for name, bpn, bpe in rows:
        lines.append(f"| {name} | {bpn:.3f} | {bpe:.3f} | |")
    lines += [
        "",
        f"Bars: LSTM bits/note ≤ 2.00 (moonshot < 1.90): best **{best_bpn:.3f}**; "
        f"joint bits/event ≤ 3.05: best **{best_bpe:.3f}**. "
        "Published: IDyOM best 1.911 (10-fold, 185 chorales), plain LSTM anchor 2.147.",
        "",
        "## Generated melodies (100, 50 notes each, temperature 1) vs the test melodies",
        "",
        "| measure | generated | reference |",
        "|---|---:|---:|",
        f"| share of notes in the estimated key (reference: test melodies) | {gm['in_key'][0]:.3f} | "
        f"{gm['in_key'][1]:.3f} |",
        f"| mean pitch range, semitones (reference: test) | {gm['range_mean'][0]:.1f} | {gm['range_mean'][1]:.1f} |",
        f"| pitch-range distance to test, W1 in semitones (reference: train vs test) | {gm['range_w1'][0]:.2f} | "
        f"{gm['range_w1'][1]:.2f} |",
        f"| interval-histogram distance to test, total variation (reference: train vs test) | "
        f"{gm['interval_tv'][0]:.3f} | {gm['interval_tv'][1]:.3f} |",
        f"| longest run copied from the training set, notes, median (reference: test melodies) | "
        f"{gm['copied_median'][0]:.0f} | {gm['copied_median'][1]:.0f} |",
        f"| longest run copied from the training set, notes, max (reference: test melodies) | "
        f"{gm['copied_max'][0]} | {gm['copied_max'][1]} |",
        "",
        "## Speed (one thread, shared 2-core VM)",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| sampling, one batch of {20 if args.quick else 100} melodies | {gm['notes_per_s']:.0f} notes/s |",
        f"| training (forward+backward+step, `{Path(args.config).name}`, {ts['params'] / 1e6:.2f} M params) | "
        f"{ts['tokens_per_s']:.0f} tokens/s |",
        f"| scoring the test split (plain LSTM) | {n_notes / plain_s * len(comps):.0f} notes/s |",
    ]
    if args.train_log:
        cell = f"{train_wall:.0f} s ({train_wall / 60:.1f} min)" if train_wall is not None else \
            f"n/a (no `wall_s` line in `{Path(args.train_log).name}`)"
        lines.append(f"| default model training (wall, niced, shared machine; see notes) | {cell} |")
    load = os.getloadavg()
    lines += [
        "",
        f"Command: `python benchmarks/composer.py {'--quick ' if args.quick else ''}--checkpoint "
        f"{' '.join(Path(c).name for c in args.checkpoint)}"
        f"{' --train-log ' + str(args.train_log) if args.train_log else ''}`; total {time.time() - t0:.0f} s. "
        f"Machine: 2-core shared CPU VM ({cpu_name()}), load average "
        f"{load[0]:.1f} at the end, torch {torch.__version__}, 1 thread.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
