"""Songs → token melodies: parsing any file tunesmith reads, an on-disk cache, and the DataModule.

* :func:`load_melody` reads one song (audio is transcribed, MIDI gives its
  melody track, notation formats go through music21) and returns a quantised
  monophonic :class:`~tunesmith.notes.NoteSequence` plus the anacrusis length;
  :func:`load_melodies` reads every piece of a file (each tune of an ABC book,
  each score of an opus).
* :func:`load_corpus` turns a list of files into :class:`TokenMelody` objects
  (all the pieces of each file), in parallel with a progress bar, caching each
  file under the SHA-1 of its bytes and the parsing parameters: a second run
  re-parses nothing, and an interrupted run resumes where it stopped. Bad files
  and bad pieces are listed, never fatal; a report says how many pieces each
  file gave.
* :class:`ComposerDataModule` only loads and splits (by song, never by window);
  random transposition is done by the training dataset.
"""
from __future__ import annotations

import logging
import hashlib
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

import lightning as L

from tunesmith.compose.tokens import BOS, N_DURATIONS, REST, TokenMelody, encode
from tunesmith.errors import CheckpointError, NotesError, TunesmithError
from tunesmith.io import AUDIO_EXTENSIONS, SYMBOLIC_EXTENSIONS, atomic_path, atomic_write_text

log = logging.getLogger(__name__)

__all__ = ["load_melody", "load_melodies", "load_corpus", "melody_files", "split_by_song", "ComposerDataModule",
           "MelodyDataset", "collate", "DUR_BOS", "IGNORE", "CACHE_VERSION"]

CACHE_VERSION = 3              # 3: a file caches all its pieces
DUR_BOS = N_DURATIONS          # duration input token meaning "start of melody"
IGNORE = -100                  # padded targets
SNAP_GRID = 1.0 / 12.0         # symbolic onsets/durations snap to 1/12 quarter note
AUDIO_GRID = 0.25              # transcriptions are quantised to sixteenth notes
MELODY_EXTENSIONS = tuple(e for e in SYMBOLIC_EXTENSIONS if e not in (".csv", ".json")) + (".csv", ".json")
_MUSIC21_EXT = (".musicxml", ".xml", ".mxl", ".abc", ".krn")


# ----------------------------------------------------------------------------- one file
class TranscriberMissing(TunesmithError):
    """Audio cannot be read because transcription is unavailable (not cached: it is not the file's fault)."""


def _snap(seq, grid: float = SNAP_GRID):
    """Snap beat positions to ``grid`` quarter notes; every note keeps at least one step."""
    notes = []
    for n in seq.notes:
        on = round(n.onset_beats / grid) * grid
        off = max(round((n.onset_beats + n.duration_beats) / grid) * grid, on + grid)
        notes.append(replace(n, onset_beats=on, duration_beats=off - on))
    return seq.copy(notes=notes)


def _midi_melody(path: Path, track: int | None):
    """The melody of a MIDI file: ``track`` if given, else the highest monophonic track, else the skyline."""
    import mido

    from tunesmith.notes import midi_to_note_sequence

    if track is not None:
        return midi_to_note_sequence(path, track=track).melody()
    try:
        n_tracks = len(mido.MidiFile(str(path)).tracks)
    except Exception as exc:
        raise NotesError(f"not a readable MIDI file ({' '.join(str(exc).split())[:100]})", path) from None
    whole = midi_to_note_sequence(path)
    candidates = []
    if n_tracks > 1:
        for i in range(n_tracks):
            seq = midi_to_note_sequence(path, track=i)
            if len(seq) >= 8 and seq.is_monophonic():
                candidates.append((float(np.mean([n.pitch for n in seq.notes])), i, seq))
    if candidates:
        _, _, seq = max(candidates, key=lambda c: c[0])
        return seq.copy(time_signature=seq.time_signature or whole.time_signature, key=seq.key or whole.key)
    return whole.melody()


def load_melody(path: str | Path, *, track: int | None = None):
    """Read one song as a quantised monophonic NoteSequence.

    Returns ``(seq, pickup_beats)`` where ``pickup_beats`` is the bar position
    (quarter notes) of beat 0 (non-zero for notation files that start with an
    anacrusis). Audio is transcribed with :func:`tunesmith.transcribe.transcribe_file`
    and quantised to sixteenth notes at the transcription's tempo (120 BPM if unknown).
    Raises :class:`NotesError` / :class:`AudioError` for unusable files.
    """
    from tunesmith.notes import parse_music21_file, load_notes, music21_to_note_sequence, quantize

    path = Path(path)
    if not path.exists():
        raise NotesError("no such file", path)
    ext = path.suffix.lower()
    pickup = 0.0
    if ext in AUDIO_EXTENSIONS:
        try:
            from tunesmith.transcribe import transcribe_file
        except ImportError as exc:
            raise TranscriberMissing(f"audio needs tunesmith.transcribe, which cannot be imported ({exc})",
                                     path) from None
        seq = transcribe_file(path)
        if not len(seq):
            raise NotesError("transcription found no notes", path)
        seq = quantize(seq.melody(), tempo=seq.tempo or 120.0, grid=AUDIO_GRID,
                       offset_s=seq.notes[0].onset)
    elif ext in (".mid", ".midi"):
        seq = _midi_melody(path, track)
    elif ext in _MUSIC21_EXT:
        if path.stat().st_size == 0:
            raise NotesError("empty file (0 bytes)", path)
        score = parse_music21_file(path)
        seq = music21_to_note_sequence(score, name=path.stem)
        pickup = _pickup_beats(score)
    else:
        seq = load_notes(path, track=track).melody()
    if not len(seq):
        raise NotesError("no notes found", path)
    if not seq.is_quantized:
        seq = quantize(seq, tempo=seq.tempo or 120.0, grid=AUDIO_GRID)
    return _snap(seq.melody()), pickup


def _pickup_beats(score) -> float:
    from tunesmith.notes import pickup_beats

    return pickup_beats(score)


def _as_melody(seq, path: Path):
    if not len(seq):
        raise NotesError("no notes found", path)
    if not seq.is_quantized:
        from tunesmith.notes import quantize

        seq = quantize(seq, tempo=seq.tempo or 120.0, grid=AUDIO_GRID)
    return _snap(seq.melody())


def load_melodies(path: str | Path, *, track: int | None = None, workers: int | None = 1):
    """Every piece of one song file: ``([(seq, pickup_beats), ...], {piece name: why skipped})``.

    Notation files may hold many pieces (an ABC book gives one per tune, named
    ``"book#3 title"``, see :func:`tunesmith.notes.load_pieces`); audio, MIDI,
    CSV and JSON give one, as :func:`load_melody`. ``workers``: processes for
    the tunes of a large ABC book. Raises like :func:`load_melody` when the
    file itself, or every piece in it, cannot be used.
    """
    from tunesmith.notes import load_pieces

    path = Path(path)
    if path.suffix.lower() not in _MUSIC21_EXT:
        return [load_melody(path, track=track)], {}
    if not path.exists():
        raise NotesError("no such file", path)
    pieces = load_pieces(path, workers=workers)
    out, skipped = [], dict(pieces.skipped)
    for seq, pickup in zip(pieces.sequences, pieces.pickups):
        try:
            out.append((_as_melody(seq, path), pickup))
        except TunesmithError as exc:
            skipped[seq.name or path.stem] = exc.message
    if not out:
        raise NotesError(f"none of its {len(skipped)} pieces has usable notes", path)
    return out, skipped


# ----------------------------------------------------------------------------- cache
def _cache_key(path: Path, params: dict) -> str:
    h = hashlib.sha1()
    h.update(path.read_bytes())
    h.update(json.dumps({**params, "v": CACHE_VERSION}, sort_keys=True).encode())
    return h.hexdigest()


def default_cache_dir() -> Path:
    root = os.environ.get("TUNESMITH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "tunesmith")
    return Path(root) / "composer"


def _parse_to_cache(path: str, params: dict, cache_dir: str, workers: int | None = 1) -> tuple[str, str | None]:
    """Worker: parse every piece of one file and write ``<key>.npz`` (or ``<key>.err`` with the reason).

    The archive holds melody ``i`` as ``pitch_i``, ``dur_i``, ``pos_i``,
    ``info_i`` and a JSON ``meta`` with one entry per melody plus the skipped pieces.
    """
    path_ = Path(path)
    key = _cache_key(path_, params)
    target = Path(cache_dir) / f"{key}.npz"
    try:
        found, skipped = load_melodies(path_, track=params.get("track"), workers=workers)
        arrays, metas = {}, []
        for i, (seq, pickup) in enumerate(found):
            mel = encode(seq, key_normalize=params["key_normalize"], pickup_beats=pickup)
            arrays.update({f"{k}_{i}": v for k, v in mel.to_dict().items()})
            metas.append({"key": mel.key, "tempo": mel.tempo, "time_signature": mel.time_signature,
                          "name": mel.name})
        meta = json.dumps({"melodies": metas, "skipped": skipped, "path": str(path_)})
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, meta=np.array(meta), **arrays)
        return path, None
    except (TranscriberMissing, CheckpointError) as exc:  # not the file's fault: retried next time
        return path, exc.message
    except TunesmithError as exc:
        msg = exc.message if exc.path else str(exc)
        atomic_write_text(target.with_suffix(".err"), msg)
        return path, msg
    except Exception as exc:  # noqa: BLE001 - a broken file must never stop a folder run
        msg = f"cannot read ({type(exc).__name__}: {' '.join(str(exc).split())[:100]})"
        atomic_write_text(target.with_suffix(".err"), msg)
        return path, msg


def _read_cached(path: Path, params: dict, cache_dir: Path) -> tuple[list[TokenMelody], dict] | str | None:
    """The cached pieces of ``path``: ``(melodies, skipped pieces)``, the reason it failed, or None (not cached)."""
    key = _cache_key(path, params)
    npz, err = cache_dir / f"{key}.npz", cache_dir / f"{key}.err"
    if npz.exists():
        melodies = []
        with np.load(npz) as z:
            meta = json.loads(str(z["meta"]))
            for i, m in enumerate(meta["melodies"]):
                shift, bar, start = (int(v) for v in z[f"info_{i}"])
                ts = tuple(m["time_signature"]) if m.get("time_signature") else None
                melodies.append(TokenMelody(z[f"pitch_{i}"].copy(), z[f"dur_{i}"].copy(), z[f"pos_{i}"].copy(),
                                            shift=shift, bar_ticks=bar, start_tick=start, key=m.get("key"),
                                            tempo=m.get("tempo"), time_signature=ts, name=m.get("name"),
                                            meta={"path": str(path)}))
        return melodies, dict(meta.get("skipped") or {})
    if err.exists():
        return err.read_text().strip()
    return None


def load_corpus(files, *, track: int | None = None, key_normalize: bool = True,
                cache_dir: str | Path | None = None, workers: int | None = None,
                parse: bool = True, progress: bool = True,
                report: dict | None = None) -> tuple[list[TokenMelody], dict[str, str]]:
    """Parse (or read from the cache) every piece of every file; returns ``(melodies, failed {path: reason})``.

    Uncached files are parsed by ``workers`` processes (default: all cores) with
    a progress bar (one file alone, e.g. a large ABC book, spreads its tunes
    over the processes instead). Each file is cached as soon as it is done, so
    an interrupted run resumes. With ``parse=False`` only the cache is read.
    ``report``, when given, is filled with ``{path: {"pieces": n, "skipped":
    {piece: reason}}}`` for every usable file; files holding several pieces, or
    with skipped ones, are also logged one line each.
    """
    from tqdm.auto import tqdm

    files = [Path(f) for f in files]
    from tunesmith import __version__

    params = {"track": track, "key_normalize": bool(key_normalize), "tunesmith": __version__}
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    todo = [f for f in files if _read_cached(f, params, cache) is None]
    if todo and parse:
        all_cores = workers or os.cpu_count() or 1
        workers = max(1, min(all_cores, len(todo)))
        bar = tqdm(total=len(todo), desc="parsing songs", unit="file", disable=not progress, file=sys.stderr)
        if workers == 1:
            for f in todo:
                _parse_to_cache(str(f), params, str(cache), workers=all_cores)
                bar.update()
        else:
            with ProcessPoolExecutor(workers) as pool:
                futures = [pool.submit(_parse_to_cache, str(f), params, str(cache)) for f in todo]
                for _ in as_completed(futures):
                    bar.update()
        bar.close()
    melodies, failed = [], {}
    for f in files:
        got = _read_cached(f, params, cache)
        if isinstance(got, tuple):
            melodies.extend(got[0])
            if report is not None:
                report[str(f)] = {"pieces": len(got[0]), "skipped": got[1]}
            if progress and (len(got[0]) > 1 or got[1]):
                log.info("%s: %d pieces%s", f, len(got[0]), f", {len(got[1])} skipped (" + "; ".join(
                    f"{k}: {v}" for k, v in got[1].items()) + ")" if got[1] else "")
        elif got is None and not parse:
            failed[str(f)] = "not parsed yet"
        elif got is None:
            failed[str(f)] = _parse_to_cache(str(f), params, str(cache))[1] or "not parsed"
        else:
            failed[str(f)] = got or "not parsed"
    if failed and progress:
        for f, why in failed.items():
            log.warning("skipped %s: %s", f, why)
        log.warning("%d of %d files usable (%d pieces), %d skipped", len(files) - len(failed), len(files),
                    len(melodies), len(failed))
    return melodies, failed


def melody_files(data) -> list[Path]:
    """Every song file (audio or symbolic) under ``data`` (a folder, a file, or a list of them)."""
    from tunesmith.io import expand_paths

    items = [data] if isinstance(data, (str, Path)) else list(data)
    for it in items:
        if not Path(it).exists():
            raise TunesmithError("no such file or folder", it)
    files = expand_paths(items, tuple(AUDIO_EXTENSIONS) + tuple(MELODY_EXTENSIONS))
    if not files:
        raise TunesmithError("no audio or note files found", ", ".join(map(str, items)))
    return files


def split_by_song(files, valid_fraction: float = 0.1) -> tuple[list[Path], list[Path]]:
    """Deterministic split by song: a file goes to valid when SHA-1(its name) falls in the fraction.

    With two or more songs each side gets at least one.
    """
    files = sorted(Path(f) for f in files)
    scored = [(int(hashlib.sha1(f.name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF, f) for f in files]
    valid = [f for u, f in scored if u < valid_fraction]
    if len(files) >= 2 and valid_fraction > 0:
        if not valid:
            valid = [min(scored, key=lambda s: s[0])[1]]
        if len(valid) == len(files):
            valid = valid[:-1]
    vs = set(valid)
    return [f for f in files if f not in vs], valid


# ----------------------------------------------------------------------------- datasets
class MelodyDataset(Dataset):
    """Training/validation examples: windows of at most ``seq_len`` events of whole melodies.

    Training draws one random window per melody and epoch (``train=True``) and,
    with ``transpose=(lo, hi)``, transposes it by a random number of semitones
    in that range (clipped so pitches stay in MIDI range). Validation uses
    consecutive windows covering each melody.
    """

    def __init__(self, melodies: list[TokenMelody], seq_len: int = 256, *, train: bool = True,
                 transpose: tuple[int, int] = (0, 0)):
        self.melodies, self.seq_len, self.train, self.transpose = melodies, int(seq_len), train, tuple(transpose)
        if train:
            self.index = [(i, None) for i in range(len(melodies))]
        else:
            self.index = [(i, s) for i, m in enumerate(melodies) for s in range(0, len(m), self.seq_len)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int) -> dict:
        i, start = self.index[k]
        m = self.melodies[i]
        n = len(m)
        if start is None:
            start = int(np.random.randint(0, n - self.seq_len + 1)) if n > self.seq_len else 0
        stop = min(n, start + self.seq_len)
        pitch, dur = m.pitch.copy(), m.dur
        if self.train and self.transpose != (0, 0):
            notes = pitch[pitch != REST]
            lo = max(self.transpose[0], -int(notes.min()))
            hi = min(self.transpose[1], 127 - int(notes.max()))
            if hi >= lo:
                pitch[pitch != REST] += int(np.random.randint(lo, hi + 1))
        in_pitch = np.concatenate([[BOS], pitch])[start:stop]
        in_dur = np.concatenate([[DUR_BOS], dur])[start:stop]
        return {"in_pitch": torch.from_numpy(in_pitch), "in_dur": torch.from_numpy(in_dur),
                "pos": torch.from_numpy(m.pos[start:stop]), "pitch": torch.from_numpy(pitch[start:stop]),
                "dur": torch.from_numpy(dur[start:stop])}


def collate(items: list[dict]) -> dict:
    """Pad a list of examples to the longest: inputs with BOS tokens, targets with IGNORE."""
    T = max(len(it["pitch"]) for it in items)
    pads = {"in_pitch": BOS, "in_dur": DUR_BOS, "pos": 0, "pitch": IGNORE, "dur": IGNORE}
    out = {}
    for k, v in pads.items():
        t = torch.full((len(items), T), v, dtype=torch.long)
        for b, it in enumerate(items):
            t[b, :len(it[k])] = it[k]
        out[k] = t
    return out


class ComposerDataModule(L.LightningDataModule):
    """Loads a folder (or file lists) of songs and splits it by song into train and valid.

    Parameters
    ----------
    data : folder, file, or list of them; every audio and note file inside is a song.
    valid_data : optional explicit validation songs (then ``data`` is all training).
    valid_fraction : share of songs held out when ``valid_data`` is not given.
    track : MIDI track to use as the melody (default: the highest monophonic track).
    key_normalize : transpose each song so its key signature has no sharps or flats.
    transpose : ``[lo, hi]`` semitones of random transposition of training melodies.
    seq_len, batch_size : window length in events and batch size.
    cache_dir : where parsed songs are cached (default ``~/.cache/tunesmith/composer``).
    workers : processes for parsing (default: all cores); ``num_workers`` for the DataLoader.
    """

    def __init__(self, data=None, valid_data=None, *, valid_fraction: float = 0.1, track: int | None = None,
                 key_normalize: bool = True, transpose=(0, 0), seq_len: int = 256, batch_size: int = 16,
                 cache_dir: str | None = None, workers: int | None = None, num_workers: int = 0):
        super().__init__()
        if data is None:
            raise TunesmithError("no training data given (use --data FOLDER)")
        self.data, self.valid_data = data, valid_data
        self.valid_fraction, self.track, self.key_normalize = valid_fraction, track, key_normalize
        self.transpose, self.seq_len, self.batch_size = tuple(transpose), seq_len, batch_size
        self.cache_dir, self.workers, self.num_workers = cache_dir, workers, num_workers
        self.train_melodies: list[TokenMelody] = []
        self.valid_melodies: list[TokenMelody] = []
        self.failed: dict[str, str] = {}
        self.report: dict[str, dict] = {}  # {file: {"pieces": n, "skipped": {piece: reason}}}

    def _files(self) -> tuple[list[Path], list[Path]]:
        files = melody_files(self.data)
        if self.valid_data:
            return files, melody_files(self.valid_data)
        return split_by_song(files, self.valid_fraction)

    def _load(self, files, parse: bool):
        return load_corpus(files, track=self.track, key_normalize=self.key_normalize, cache_dir=self.cache_dir,
                           workers=self.workers, parse=parse, progress=parse, report=self.report)

    def prepare_data(self) -> None:
        train, valid = self._files()
        self._load(list(train) + list(valid), parse=True)

    def setup(self, stage: str | None = None) -> None:
        if self.train_melodies:
            return
        train, valid = self._files()
        self.train_melodies, f1 = self._load(train, parse=True)
        self.valid_melodies, f2 = self._load(valid, parse=True)
        self.failed = {**f1, **f2}
        if not self.train_melodies:
            raise TunesmithError(f"none of the {len(train)} training songs could be used")
        if not self.valid_melodies:  # tiny folders: validate on the training songs rather than fail
            self.valid_melodies = self.train_melodies

    def train_dataloader(self) -> DataLoader:
        ds = MelodyDataset(self.train_melodies, self.seq_len, train=True, transpose=self.transpose)
        return DataLoader(ds, batch_size=self.batch_size, shuffle=True, collate_fn=collate,
                          num_workers=self.num_workers, drop_last=False)

    def val_dataloader(self) -> DataLoader:
        ds = MelodyDataset(self.valid_melodies, self.seq_len, train=False)
        return DataLoader(ds, batch_size=self.batch_size, shuffle=False, collate_fn=collate,
                          num_workers=self.num_workers)

    def summary(self) -> dict:
        return {"train_songs": len(self.train_melodies), "valid_songs": len(self.valid_melodies),
                "train_events": int(sum(len(m) for m in self.train_melodies)),
                "skipped": len(self.failed)}
