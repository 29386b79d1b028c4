"""The transcriber's training recipe (``tunesmith train transcriber``; settings in ``configs/transcriber.yaml``).

Data. Either a folder of the user's own recordings with reference notes (audio + ``.csv``/``.mid``
of the same stem, as :func:`tunesmith.transcribe.evaluate.pair_files` finds them), or, without
``--data``, synthetic clips rendered by :func:`make_clips`: performed excerpts of training melodies
(:data:`tunesmith.transcribe.dataset.TRAIN_CORPORA` and random melodies; never the folk tunes of the
evaluation sets) on GM programs through the soundfonts of ``data.soundfonts`` (FluidR3 and MuseScore
General by default; TimGM6mb is kept out: it is the unseen-soundfont benchmark's), plus, with probability
``data.p_sung``, a source-filter singing voice (:func:`sung_clip`: glottal pulses through vowel
formants, vibrato, portamento, scoops, drift, jitter, shimmer, breath and consonant noise, with
exact note labels). Each clip is augmented (:func:`augment`): detuning, room reverb, random EQ
(:func:`random_eq`), telephone band-limiting (:func:`phone_band`), slow level ramps (:func:`level_ramp`),
white/pink/brown noise and a random peak level.

Targets per 16 ms frame: the semitone class (0 = unvoiced), and soft onset / offset targets (a
Gaussian of 10 ms around each note's start / end). Loss: cross-entropy on the pitch classes +
binary cross-entropy on onsets (positive weight 4) and offsets (weight 2, loss weight 0.5).
AdamW with a one-cycle learning rate over ``trainer.max_steps`` steps of random 5.1 s crops.

Training runs on the shared harness (:func:`tunesmith.training.fit`; the LightningModule and
DataModule are in :mod:`tunesmith.transcribe.module`). Run folder ``out_dir``: ``clips.npz`` (the
rendered data, reused), ``last.ckpt`` and ``best.ckpt`` (model, optimiser, schedule and step:
``--resume`` continues from ``last.ckpt`` with its history; a larger ``max_steps`` extends it),
``metrics.csv``, ``training_curves.png`` and ``transcriber.pt`` (the inference checkpoint in the
one model-file format, :func:`tunesmith.transcribe.pitch.load_model` reads it, weights only).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "transcriber.yaml"
BUILTIN_CONFIG = {
    "seed": 7,
    "data": {"clips": 1200, "p_eval_instruments": 0.6, "p_corpus": 0.55, "p_sung": 0.15,
             "soundfonts": ["/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf3/MuseScore_General_Full.sf3"],
             "val_clips": 32, "render_batch": 64, "workers": 2},
    "augment": {"p_detune": 0.6, "max_cents": 30.0, "p_reverb": 0.6, "rt60_s": [0.2, 2.0], "wet": [0.2, 0.7],
                "p_eq": 0.3, "p_phone": 0.1, "p_level": 0.3, "p_noise": 0.7, "noise_colours": [0.0, 1.0, 2.0],
                "snr_db": [0.0, 30.0], "gain_db": [-35.0, 0.0]},
    "model": {"channels": 16, "reduce": 4, "hidden": 64},
    "optim": {"lr": 3e-3, "weight_decay": 1e-4, "batch": 16, "crop_frames": 320, "pct_start": 0.15},
    "trainer": {"max_steps": 1800, "eval_every": 50, "threads": 1, "init": None},
}
ONSET_SIGMA_S = 0.010
CROP_MARGIN = 8
EQ_Q = 1.0                      # quality factor of the random EQ's peaking bands
PHONE_BAND_HZ = (300.0, 3400.0)  # telephone pass band
PHONE_SR = 8000                 # telephone sample rate (Hz)


# ----------------------------------------------------------------------------- config
#: ``trainer`` also takes any ``lightning.Trainer`` option (accelerator, devices, precision, ...).
OPEN_SECTIONS = ("trainer",)


def load_config(path=None, overrides=()) -> dict:
    """The built-in settings <- the YAML file ``path`` <- ``'section.key=value'`` overrides.

    Unknown keys are one-line errors naming the key and the file (:func:`tunesmith.config.load_config`).
    """
    from tunesmith.config import load_config as load

    return load(BUILTIN_CONFIG, path, list(overrides or []), open_sections=OPEN_SECTIONS)


# ----------------------------------------------------------------------------- data
def sung_clip(rng: np.random.Generator, sr: int = 16000, n_notes: int | None = None):
    """A synthetic sung phrase with exact labels: ``(samples float32, notes (n, 3) [onset_s, offset_s, midi])``.

    Source: a glottal pulse train (Rosenberg-like pulses, ``f0`` with jitter 0.5 %
    and shimmer 1 dB) plus breath noise, through three vowel formants (F1-F3 from a random vowel,
    changing at every note, bandwidths 60-120 Hz). Pitch per note: the written MIDI pitch plus a slow
    drift of up to ±30 cents, a scoop from 50-150 cents below over 40-90 ms (half of the notes),
    a portamento from the previous note (30 % of legato notes) and vibrato of 4-7 Hz and ±30-150 cents
    that sets in after 150 ms. Notes are separated by short pauses or a consonant burst (high-passed
    noise, 30-90 ms) or follow legato. The label of a note runs from its first voiced sample to its last.
    """
    from scipy.signal import butter, lfilter, sosfilt

    vowels = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410),
              (440, 1020, 2240), (660, 1720, 2410))
    n_notes = n_notes or int(rng.integers(6, 16))
    centre = float(rng.uniform(45, 76))
    pitches = [centre]
    for _ in range(n_notes - 1):
        step = int(rng.choice([-4, -3, -2, -2, -1, -1, 0, 1, 1, 2, 2, 3, 4, 5, -5, 7]))
        pitches.append(float(np.clip(pitches[-1] + step, centre - 9, centre + 9)))
    pitches = [round(p) for p in pitches]
    t, f0_track, amp, labels, form = 0.0, [], [], [], []
    lead = float(rng.uniform(0.1, 0.5))
    f0_track.append(np.zeros(int(lead * sr)))
    amp.append(np.zeros(int(lead * sr)))
    form.append(np.zeros(int(lead * sr), dtype=int))
    t = lead
    cons = []
    prev = None
    drift = float(rng.uniform(-0.3, 0.3))
    vib_rate, vib_cents = float(rng.uniform(4, 7)), float(rng.uniform(30, 150))
    for i, p in enumerate(pitches):
        dur = float(rng.choice([0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.4]))
        n = int(dur * sr)
        tt = np.arange(n) / sr
        midi = p + drift + rng.normal(0, 0.05) + np.zeros(n)
        if prev is not None and rng.random() < 0.3 and labels and labels[-1][1] >= t - 1e-6:
            k = int(rng.uniform(0.03, 0.1) * sr)
            midi[:k] = np.linspace(prev, midi[k], k)
        elif rng.random() < 0.5:
            k = int(rng.uniform(0.04, 0.09) * sr)
            midi[:k] -= np.linspace(rng.uniform(0.5, 1.5), 0, k)
        onset_vib = np.clip((tt - 0.15) / 0.2, 0, 1)
        midi += onset_vib * vib_cents / 100 * np.sin(2 * np.pi * vib_rate * tt + rng.uniform(0, 6.3))
        env = np.minimum(1, np.minimum(tt / 0.03, (dur - tt) / 0.04)).clip(0, 1)
        f0_track.append(440 * 2 ** ((midi - 69) / 12))
        amp.append(env * 10 ** (rng.uniform(-6, 0) / 20))
        form.append(np.full(n, int(rng.integers(len(vowels)))))
        labels.append((t, t + dur, float(p + drift)))
        t += dur
        prev = midi[-1]
        r = rng.random()
        if r < 0.35:      # pause
            g = int(rng.uniform(0.05, 0.4) * sr)
        elif r < 0.7:     # consonant burst before the next note
            g = int(rng.uniform(0.03, 0.09) * sr)
            cons.append((int(t * sr), g))
        else:
            g = 0
        f0_track.append(np.zeros(g))
        amp.append(np.zeros(g))
        form.append(np.zeros(g, dtype=int))
        t += g / sr
    tail = int(0.3 * sr)
    f0 = np.concatenate(f0_track + [np.zeros(tail)])
    a = np.concatenate(amp + [np.zeros(tail)])
    fidx = np.concatenate(form + [np.zeros(tail, dtype=int)])
    # glottal source: phase accumulation with jitter; a pulse per period, shaped as a rounded sawtooth
    jit = 1 + 0.005 * rng.normal(size=len(f0))
    phase = np.cumsum(f0 * jit / sr) % 1.0
    src = np.where(f0 > 0, (np.sin(np.pi * phase) ** 2) * (1 - phase) - 0.2, 0.0)
    src = np.diff(src, prepend=0.0) * 8
    shimmer = 10 ** (rng.normal(0, 1, size=len(f0)) / 20)
    y = src * a * shimmer + a * rng.normal(size=len(f0)) * float(rng.uniform(0.003, 0.03))   # breath
    out = np.zeros_like(y)
    for v in np.unique(fidx):
        sel = fidx == v
        seg = np.where(sel, y, 0.0)
        acc = np.zeros_like(y)
        for fc, bw in zip(vowels[v], (80, 100, 120)):
            r = np.exp(-np.pi * bw / sr)
            th = 2 * np.pi * fc * rng.uniform(0.9, 1.1) / sr
            acc += lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], seg)
        out += acc
    hp = butter(4, 3000, "highpass", fs=sr, output="sos")
    for start, g in cons:
        burst = sosfilt(hp, rng.normal(size=g)) * float(rng.uniform(0.05, 0.3)) * np.hanning(g)
        out[start:start + g] += burst
    out = out / (np.abs(out).max() + 1e-9) * 0.7
    return out.astype(np.float32), np.array(labels, dtype=np.float32).reshape(-1, 3)


def random_eq(y: np.ndarray, rng: np.random.Generator, sr: int = 16000, *, max_bands: int = 3,
              max_db: float = 12.0, f_lo: float = 150.0, f_hi: float = 5000.0) -> np.ndarray:
    """Formant-like colouring: 1..``max_bands`` peaking filters (RBJ biquads, Q = 1).

    Each band has a centre frequency log-uniform in ``[f_lo, f_hi]`` Hz and a gain uniform in
    ``±max_db`` dB: ``H(z) = (1 + αA - 2cos(w)z⁻¹ + (1 - αA)z⁻²) / (1 + α/A - 2cos(w)z⁻¹ + (1 - α/A)z⁻²)``
    with ``A = 10**(gain/40)``, ``w = 2π fc / sr``, ``α = sin(w) / (2Q)``.
    """
    from scipy.signal import lfilter

    for _ in range(int(rng.integers(1, max_bands + 1))):
        fc = float(np.exp(rng.uniform(np.log(f_lo), np.log(f_hi))))
        A, w = 10 ** (float(rng.uniform(-max_db, max_db)) / 40), 2 * np.pi * fc / sr
        al = np.sin(w) / (2 * EQ_Q)
        b = [1 + al * A, -2 * np.cos(w), 1 - al * A]
        a = [1 + al / A, -2 * np.cos(w), 1 - al / A]
        y = lfilter(b, a, y)
    return np.asarray(y, dtype=np.float32)


def phone_band(y: np.ndarray, sr: int = 16000) -> np.ndarray:
    """Telephone channel: 4th-order Butterworth band-pass 300-3400 Hz and an 8 kHz round trip."""
    import soxr
    from scipy.signal import butter, sosfilt

    y = sosfilt(butter(4, PHONE_BAND_HZ, "bandpass", fs=sr, output="sos"), y)
    return soxr.resample(soxr.resample(y, sr, PHONE_SR), PHONE_SR, sr).astype(np.float32)[: len(y)]


def level_ramp(y: np.ndarray, rng: np.random.Generator, sr: int = 16000, *, max_db: float = 10.0,
               segment_s: tuple = (1.0, 4.0)) -> np.ndarray:
    """Slow level changes (a player's dynamics, a moving microphone): a gain in dB that moves
    linearly between random values in ``±max_db`` at breakpoints ``segment_s`` seconds apart."""
    knots_t, t = [0.0], 0.0
    while t < len(y) / sr:
        t += float(rng.uniform(*segment_s))
        knots_t.append(t)
    knots_db = rng.uniform(-max_db, max_db, size=len(knots_t))
    gain_db = np.interp(np.arange(len(y)) / sr, knots_t, knots_db)
    return (y * 10 ** (gain_db / 20)).astype(np.float32)


def augment(y: np.ndarray, notes: np.ndarray, rng: np.random.Generator, aug: dict, sr: int = 16000):
    """Detune (labels moved with it), reverb, random EQ, phone band, level ramps, coloured noise and
    gain; returns ``(y, notes)``. Each step runs with its probability ``aug['p_*']``; reverb RT60 and
    wet mix are uniform in ``aug['rt60_s']`` / ``aug['wet']``, the noise's colour is drawn from
    ``aug['noise_colours']`` (spectral exponents: 0 white, 1 pink, 2 brown) at an SNR uniform in
    ``aug['snr_db']``, and the peak level is uniform in ``aug['gain_db']`` dBFS."""
    import soxr

    from tunesmith.transcribe import dataset as ds

    notes = notes.copy()
    if rng.random() < aug["p_detune"]:
        cents = float(rng.uniform(-aug["max_cents"], aug["max_cents"]))
        factor = 2 ** (cents / 1200)
        y = soxr.resample(y, sr, sr / factor).astype(np.float32)
        notes[:, :2] /= factor
        notes[:, 2] += cents / 100
    if rng.random() < aug["p_reverb"]:
        y = ds.add_reverb(y, sr, rng, rt60=float(rng.uniform(*aug.get("rt60_s", (0.2, 1.5)))),
                          wet=float(rng.uniform(*aug.get("wet", (0.2, 0.6)))))
    if rng.random() < aug.get("p_eq", 0.0):
        y = random_eq(y, rng, sr)
    if rng.random() < aug.get("p_phone", 0.0):
        y = phone_band(y, sr)
    if rng.random() < aug.get("p_level", 0.0):
        y = level_ramp(y, rng, sr)
    if rng.random() < aug["p_noise"]:
        colour = float(rng.choice(aug.get("noise_colours", (0.0, 1.0))))
        y = ds.add_noise(y, float(rng.uniform(*aug["snr_db"])), rng, colour)
    y = y * 10 ** (float(rng.uniform(*aug["gain_db"])) / 20) / max(1e-6, float(np.abs(y).max()))
    return np.clip(y, -1, 1).astype(np.float32), notes


def _plan_clip(rng: np.random.Generator, d: dict, melodies: list):
    """One synthetic clip's plan: ``("sung", None, None)`` or ``("render", soundfont, performance)``."""
    from tunesmith.transcribe import dataset as ds

    if rng.random() < d.get("p_sung", 0.0):
        return ("sung", None, None)
    inst = ds.INSTRUMENTS[str(rng.choice(ds.EVAL_INSTRUMENTS if rng.random() < d["p_eval_instruments"]
                                         else list(ds.INSTRUMENTS)))]
    if rng.random() < d["p_corpus"] and melodies:
        mel = melodies[int(rng.integers(len(melodies)))]
    else:
        mel = ds.random_melody(rng, n_notes=int(rng.integers(30, 80)))
    mel = ds.excerpt(mel, rng, max_beats=float(rng.uniform(20, 40)))
    if len(mel) < 3:
        return None
    perf = ds.perform(mel, rng, inst, qpm=float(rng.uniform(55, 190)), legato=float(rng.uniform(0.4, 1.0)),
                      lead_in_s=float(rng.uniform(0.05, 0.6)))
    sf = d["soundfonts"][int(rng.integers(len(d["soundfonts"])))]
    return ("render", sf, perf)


def _render_chunk(job):
    """One FluidSynth run of :func:`_render_plans` (module level, so a process pool can call it)."""
    from tunesmith.transcribe import dataset as ds

    sf, perfs, sr = job
    try:
        return [c.samples for c in ds.render_performances(perfs, sr, soundfont=sf)]
    except Exception as exc:  # noqa: BLE001 - a failed render only loses its clips
        log.warning("render failed (%s): %s", sf, exc)
        return None


def _render_plans(plans: list, sr: int, batch: int, workers: int = 1) -> dict:
    """Render every ``"render"`` plan, grouped by (soundfont, program) in runs of ``batch``
    (:func:`tunesmith.transcribe.dataset.render_performances`) on ``workers`` processes; returns
    ``{plan index: samples}``. The renders are deterministic, so the result does not depend on ``workers``."""
    groups: dict = {}
    for i, plan in enumerate(plans):
        if plan is not None and plan[0] == "render":
            groups.setdefault((plan[1], plan[2].program), []).append(i)
    chunks = [ids[k:k + batch] for ids in groups.values() for k in range(0, len(ids), batch)]
    jobs = [(plans[c[0]][1], [plans[i][2] for i in c], sr) for c in chunks]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_render_chunk, jobs))
    else:
        results = [_render_chunk(j) for j in jobs]
    return {i: y for c, r in zip(chunks, results) if r is not None for i, y in zip(c, r)}


def make_clips(cfg: dict, out: Path, progress=None) -> Path:
    """Render ``data.clips`` augmented training clips to ``out`` (npz: int16 audio at 16 kHz + notes).

    Every clip is planned first (instrument, melody, performance, soundfont, or a sung phrase), the
    renders run grouped by soundfont and program (``data.render_batch`` clips per FluidSynth run), then
    each clip is augmented in plan order.
    """
    from tunesmith.transcribe import dataset as ds
    from tunesmith.transcribe.pitch import SR

    d, aug = cfg["data"], cfg["augment"]
    rng = np.random.default_rng(cfg["seed"])
    melodies = []
    if d["p_corpus"] > 0:
        paths = ds.corpus_paths(ds.TRAIN_CORPORA)
        for i in rng.permutation(len(paths))[:160]:
            melodies += ds.load_melodies(paths[i], max_tunes=1)
    plans = [_plan_clip(rng, d, melodies) for _ in range(int(d["clips"]))]
    rendered = _render_plans(plans, SR, int(d.get("render_batch", 1)), int(d.get("workers", 1)))
    audio, notes = [], []
    for k, plan in enumerate(plans):
        if plan is None:
            continue
        if plan[0] == "sung":
            y, nt = sung_clip(rng, SR)
        elif k in rendered:
            y = rendered[k]
            nt = np.array([[n.onset, n.offset, n.pitch] for n in plan[2].notes], dtype=np.float32)
        else:
            continue
        y, nt = augment(y, nt, rng, aug, SR)
        audio.append((y * 32767).astype(np.int16))
        notes.append(nt)
        if progress:
            progress(k + 1)
    return _save_clips(out, audio, notes)


def _save_clips(out: Path, audio, notes) -> Path:
    from tunesmith.io import atomic_path

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, audio=np.concatenate(audio), lengths=np.array([len(a) for a in audio]),
                     notes=np.concatenate(notes), n_notes=np.array([len(n) for n in notes]))
    return out


def clips_from_folder(folder, out: Path) -> Path:
    """The user's recordings + reference notes (``pair_files``) as a clip file for :func:`train_transcriber`."""
    from tunesmith.audio import load
    from tunesmith.notes import load_notes
    from tunesmith.transcribe.evaluate import pair_files
    from tunesmith.transcribe.pitch import SR

    audio, notes = [], []
    for wav, ref in pair_files(folder):
        y = load(wav, sr=SR).samples
        seq = load_notes(ref)
        audio.append((np.clip(y, -1, 1) * 32767).astype(np.int16))
        notes.append(np.array([[n.onset, n.offset, n.pitch] for n in seq.notes], dtype=np.float32).reshape(-1, 3))
    return _save_clips(out, audio, notes)


def frame_targets(notes: np.ndarray, start_s: float, n_frames: int):
    """Pitch class (0 = unvoiced, -100 = out of range), onset and offset targets for frames from ``start_s``."""
    from tunesmith.transcribe.pitch import FRAME_RATE, MIDI_HIGH, MIDI_LOW

    t = start_s + np.arange(n_frames) / FRAME_RATE
    cls = np.zeros(n_frames, dtype=np.int64)
    onset = np.zeros(n_frames, dtype=np.float32)
    offset = np.zeros(n_frames, dtype=np.float32)
    for on, off, p in notes:
        if off < start_s - 0.1 or on > t[-1] + 0.1:
            continue
        q = int(round(float(p)))
        cls[(t >= on) & (t < off)] = q - MIDI_LOW + 1 if MIDI_LOW <= q <= MIDI_HIGH else -100
        onset = np.maximum(onset, np.exp(-0.5 * ((t - on) / ONSET_SIGMA_S) ** 2))
        offset = np.maximum(offset, np.exp(-0.5 * ((t - off) / ONSET_SIGMA_S) ** 2))
    return cls, onset, offset


# ----------------------------------------------------------------------------- training
def save_checkpoint(net, path: Path, step: int) -> Path:
    """The inference checkpoint in the one model-file format (``weights_only=True`` loads it)."""
    from tunesmith.training.checkpoint import save_model_file
    from tunesmith.transcribe import pitch

    return save_model_file(path, "transcriber", config=dict(net.config), state_dict=net.state_dict(),
                           front_end=pitch.front_end_settings(), train_steps=int(step))


#: ``trainer`` keys the recipe reads itself; the rest go to ``lightning.Trainer``.
RECIPE_TRAINER_KEYS = ("max_steps", "eval_every", "threads", "init", "accelerator", "devices")


def train_transcriber(clips: Path, out_dir, cfg: dict, *, resume: bool = False, progress=None) -> Path:
    """Train (or, with ``resume``, continue) on a clip file with :func:`tunesmith.training.fit`.

    Returns the path of ``out_dir/transcriber.pt`` (the weights with the lowest validation loss, or
    the last ones without validation clips). ``resume`` continues ``out_dir/last.ckpt`` (weights,
    optimiser, one-cycle schedule, step, and the ``metrics.csv`` history); a larger
    ``trainer.max_steps`` extends the run. ``progress(row)`` is called with each metrics row.
    """
    import torch

    from tunesmith.training import fit
    from tunesmith.training.checkpoint import load_model_file
    from tunesmith.training.fit import resume_path
    from tunesmith.transcribe.module import ClipDataModule, TranscriberModule
    from tunesmith.transcribe.pitch import TranscriberNet

    out_dir = Path(out_dir)
    opt_cfg, tr = cfg["optim"], cfg["trainer"]
    last = resume_path(out_dir, True) if resume else None
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(tr.get("threads") or 1))
    torch.manual_seed(cfg["seed"])
    dm = ClipDataModule(clips, seed=cfg["seed"], val_clips=int(cfg["data"]["val_clips"]),
                        batch=int(opt_cfg["batch"]), crop_frames=int(opt_cfg["crop_frames"]))
    net = TranscriberNet(**cfg["model"])
    max_steps = int(tr["max_steps"])
    if last is not None:        # the network's size and the schedule's length come from the run
        state = torch.load(last, map_location="cpu", weights_only=True)
        net = TranscriberNet(**state["config"])
        max_steps = max(max_steps, int(state["max_steps"]))
    elif tr.get("init"):
        from tunesmith import models

        # "shipped" names the packaged model, wherever tunesmith is installed
        init = load_model_file(models.path("transcriber") if tr["init"] == "shipped" else tr["init"], "transcriber")
        net = TranscriberNet(**init["config"])
        net.load_state_dict(init["state_dict"])
    module = TranscriberModule(net, lr=float(opt_cfg["lr"]), weight_decay=float(opt_cfg["weight_decay"]),
                               pct_start=float(opt_cfg["pct_start"]), max_steps=max_steps, progress=progress)
    options = {k: v for k, v in tr.items() if k not in RECIPE_TRAINER_KEYS}
    options = {"val_check_interval": int(tr["eval_every"]), "check_val_every_n_epoch": None,
               "gradient_clip_val": 5.0, "num_sanity_val_steps": 0, "log_every_n_steps": int(tr["eval_every"]),
               **options}
    result = fit(module, dm, out_dir, max_steps=max_steps, accelerator=tr.get("accelerator", "cpu"),
                 devices=tr.get("devices", 1), resume=bool(resume), monitor="val_loss" if dm.val_batches else None,
                 progress=progress is None, trainer_options=options,
                 title="transcriber")
    result.load_best(module)
    return save_checkpoint(module.net.cpu(), out_dir / "transcriber.pt", module.global_step)
