"""``tunesmith train quality``: the fault detector trained from the command line on folders of clean audio."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / ".." / "shared" / "data" / "speech" / "librispeech"
TINY = ["--accelerator", "cpu", "--devices", "1",
        "--set", "crop_s=1.0", "batch_size=4", "val_examples=8", "val_every=1", "workers=0"]


@pytest.fixture(scope="module")
def clean_dirs(tmp_path_factory):
    """Two folders of real read speech (three and two LibriSpeech files, different readers), plus one text file
    named ``.wav`` in the first."""
    files = sorted(SPEECH.glob("*.flac"))
    if len(files) < 5:
        pytest.skip(f"{SPEECH} is absent (the real recordings in ../shared/data)")
    root = tmp_path_factory.mktemp("clean")
    for name, chosen in (("room", files[1:4]), ("mic", files[5:7])):
        (root / name).mkdir()
        for f in chosen:
            shutil.copy(f, root / name / f.name)
    (root / "room" / "notes.wav").write_text("not audio\n")
    return root / "room", root / "mic"


def _run(capsys, *argv) -> tuple[int, str]:
    from tunesmith.cli import main

    rc = main(["train", "quality", *map(str, argv)])
    return rc, capsys.readouterr().err


def _step(ckpt: Path) -> int:
    return int(torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"])


def _first_weight(net) -> torch.Tensor:
    """The first trainable weight of ``net`` with more than 100 entries (buffers such as filterbanks never move)."""
    return next(p for p in net.parameters() if p.numel() > 100).detach().clone()


def test_trains_writes_a_readable_model_skips_the_bad_file_and_resumes_its_step_count(clean_dirs, tmp_path, capsys):
    from tunesmith.classify.qualitynet import OUTPUT_NAMES, load_quality_net, quality_outputs

    room, mic = clean_dirs
    out = tmp_path / "run"
    rc, err = _run(capsys, "--clean", room, mic, "-o", out, "--max-steps", 2, *TINY)
    assert rc == 0, err
    assert f"{room / 'notes.wav'}" in err and "skipped" in err     # reported, not fatal
    assert f"TUNESMITH_MODEL_QUALITY={out / 'quality.pt'}" in err
    net = load_quality_net(out / "quality.pt")
    assert quality_outputs(net, np.zeros((1, 16000)) + 1e-3).shape[1] == len(OUTPUT_NAMES) + 128
    assert _step(out / "last.ckpt") == 2
    rc, err = _run(capsys, "--clean", room, mic, "-o", out, "--max-steps", 4, "--resume", *TINY)
    assert rc == 0, err
    assert _step(out / "last.ckpt") == 4
    rows = (out / "metrics.csv").read_text().splitlines()[1:]
    assert len(rows) == 4                                             # the earlier history is kept


def test_init_shipped_starts_from_the_shipped_weights(clean_dirs, tmp_path, capsys):
    from tunesmith import models
    from tunesmith.classify.qualitynet import load_quality_net

    room, mic = clean_dirs
    shipped = _first_weight(load_quality_net(models.path("quality")))
    rc, err = _run(capsys, "--clean", room, mic, "-o", tmp_path / "frozen", "--init", "shipped", "--max-steps", 1,
                   *TINY, "lr=0")                                 # lr 0: the weights it started from
    assert rc == 0, err
    assert torch.equal(_first_weight(load_quality_net(tmp_path / "frozen" / "quality.pt")), shipped)
    rc, err = _run(capsys, "--clean", room, mic, "-o", tmp_path / "tuned", "--init", "shipped", "--max-steps", 2,
                   *TINY)
    assert rc == 0, err
    tuned = _first_weight(load_quality_net(tmp_path / "tuned" / "quality.pt"))
    assert not torch.equal(tuned, shipped) and torch.allclose(tuned, shipped, atol=0.05)  # moved a little from it


def test_a_folder_without_audio_is_one_line_naming_it(tmp_path, capsys):
    bad = tmp_path / "fake"
    bad.mkdir()
    for i in range(2):
        (bad / f"take{i}.wav").write_text("these are words, not samples\n")
    rc, err = _run(capsys, "--clean", bad, "-o", tmp_path / "run", *TINY)
    assert rc == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("tunesmith: error:") and str(bad) in last and "no usable audio" in last
    assert "Traceback" not in err and not (tmp_path / "run" / "quality.pt").exists()


def test_an_unknown_setting_is_one_line(tmp_path, capsys):
    rc, err = _run(capsys, "--clean", tmp_path, "-o", tmp_path / "run", "--set", "crop_sec=1")
    assert rc == 1
    assert err.strip().splitlines() == [err.strip()] and "unknown setting crop_sec" in err
    assert "Traceback" not in err


def test_validation_split_is_one_file_in_ten_or_the_tail_of_one():
    from tunesmith.classify.qualitytrain import VAL_TAIL, split_clean_folder

    recs = [np.full(100, i, dtype=np.float32) for i in range(12)]
    train, val = split_clean_folder(recs)
    assert [int(v[0]) for v in val] == [0, 10] and len(train) == 10
    assert len(split_clean_folder(recs[:3])[1]) == 1                 # at least one
    (head,), (tail,) = split_clean_folder([np.arange(1000, dtype=np.float32)])
    assert len(tail) == round(1000 * VAL_TAIL) and head[-1] + 1 == tail[0]


def test_a_resumed_stream_draws_new_examples_not_the_first_ones_again():
    """The training stream is seeded by the step it starts at: a run resumed at step 5 must not replay
    the examples its steps 0-4 saw (it did before), while the same start repeats exactly."""
    from types import SimpleNamespace

    from tunesmith.classify.qualitytrain import CleanPool, QualityDataModule, load_config

    rng = np.random.default_rng(0)
    pool = CleanPool({"noise": [rng.standard_normal(3 * 16000).astype(np.float32) * 0.1 for _ in range(3)]})
    cfg = load_config(None, ["crop_s=1.0", "batch_size=2", "workers=0"])

    def first_batch(step):
        dm = QualityDataModule(pool, pool, cfg, seed=0)
        dm.trainer = SimpleNamespace(global_step=step)
        return next(iter(dm.train_dataloader()))[0]

    assert torch.equal(first_batch(0), first_batch(0))
    assert not torch.allclose(first_batch(0), first_batch(5))


def test_quality_pt_keeps_the_last_step_or_the_best_validation_as_asked(clean_dirs, tmp_path, capsys):
    from tunesmith.classify.qualitynet import load_quality_net

    room, mic = clean_dirs

    def saved_equals(out, ckpt):
        net = load_quality_net(out / "quality.pt").state_dict()
        ck = torch.load(out / ckpt, map_location="cpu", weights_only=True)["state_dict"]
        return all(torch.equal(v, ck["net." + k]) for k, v in net.items())

    for keep in ("last", "best"):
        out = tmp_path / keep
        rc, err = _run(capsys, "--clean", room, mic, "-o", out, "--max-steps", 3, *TINY, f"keep={keep}")
        assert rc == 0, err
        assert saved_equals(out, f"{keep}.ckpt")
    best = torch.load(tmp_path / "best" / "best.ckpt", map_location="cpu", weights_only=True)["global_step"]
    if best != 3:                        # the two differ whenever validation peaked before the end
        assert not saved_equals(tmp_path / "last", "best.ckpt")
    rc, err = _run(capsys, "--clean", room, mic, "-o", tmp_path / "x", "--max-steps", 1, *TINY, "keep=middle")
    assert rc == 1 and err.strip().splitlines()[-1] == "tunesmith: error: keep must be last or best, not 'middle'"
    assert "Traceback" not in err and "100%" not in err  # refused before any audio is read


def test_the_library_refuses_a_bad_keep_before_reading_any_folder(tmp_path):
    from tunesmith.classify.qualitytrain import train_quality_from_folders
    from tunesmith.errors import TunesmithError

    with pytest.raises(TunesmithError, match="keep must be last or best"):   # not the missing folder's error
        train_quality_from_folders([tmp_path / "absent"], tmp_path / "run", config={"keep": "middle"})
    for bad, message in (({"perturb": "abc"}, "perturb must be a number, not 'abc'"),
                         ({"ambience": 1.5}, "ambience is a share of the examples, between 0 and 1, not 1.5"),
                         ({"perturb_semitones": -1}, "perturb_semitones must be 0 or more")):
        with pytest.raises(TunesmithError, match=message):
            train_quality_from_folders([tmp_path / "absent"], tmp_path / "run", config=bad)
