"""The composer trains unchanged under Lightning's DDP strategy: 2 CPU processes, gloo, tiny data."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

from tunesmith.notes import Note, NoteSequence, note_sequence_to_midi  # noqa: E402


def test_ddp_two_cpu_processes(tmp_path):
    import torch

    songs = tmp_path / "songs"
    songs.mkdir()
    for i in range(6):
        pitches = [60 + (i + k * (k % 3)) % 12 for k in range(16)]
        notes = [Note(float(p), k * 0.5, (k + 1) * 0.5, 80, float(k), 1.0) for k, p in enumerate(pitches)]
        note_sequence_to_midi(NoteSequence(notes, tempo=120.0, time_signature=(4, 4), key="C major"),
                              songs / f"s{i}.mid")
    out = tmp_path / "run"
    env = {**os.environ, "TUNESMITH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1",
           "MASTER_PORT": str(29500 + os.getpid() % 1000)}
    cmd = [sys.executable, "-m", "tunesmith.cli", "train", "composer", "--data", str(songs), "-o", str(out),
           "--strategy", "ddp", "--devices", "2", "--accelerator", "cpu", "--max-epochs", "2",
           "--set", "model.hidden=16", "model.layers=1", "model.pitch_dim=8", "model.dur_dim=4", "model.pos_dim=4",
           "data.batch_size=2", "data.valid_fraction=0.3", "trainer.enable_progress_bar=false",
           "early_stopping.patience=0", "data.workers=1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "distributed_backend=gloo" in r.stderr or "gloo" in r.stderr
    assert "All distributed processes registered" in r.stderr or "MEMBER: 2/2" in r.stderr
    ck = torch.load(out / "last.ckpt", weights_only=True)
    assert ck["epoch"] == 1 and ck["kind"] == "composer" and ck["meta"]["train_songs"] > 0
    # the sampler shards the training songs: each process sees half of them per epoch, in batches of 2
    from tunesmith.compose.data import split_by_song

    n_train = len(split_by_song(sorted(songs.glob("*.mid")), 0.3)[0])
    per_rank = -(-n_train // 2)
    assert ck["global_step"] == 2 * -(-per_rank // 2)
